# The README's two commands: `make demo` and `make test`. Both install what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_STORE ?= out/demo.db

.PHONY: demo test lint bench deps clean

demo:
	@scripts/bootstrap run
	@rm -f $(DEMO_STORE) $(DEMO_STORE)-wal $(DEMO_STORE)-shm
	$(PY) -m shipper replay --store $(DEMO_STORE) --timezone UTC --year 2017 demo/logs/
	$(PY) -m shipper causes --store $(DEMO_STORE)

test:
	@scripts/bootstrap test
	$(PY) -m mypy
	$(PY) -m pytest -q

bench:
	@scripts/bootstrap run
	$(PY) bench/replay.py

clean:
	rm -rf $(VENV) out build dist *.egg-info
