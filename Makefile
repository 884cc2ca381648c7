# The README's two commands: `make demo` and `make test`. Both install what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_STORE ?= out/demo.db

.PHONY: demo test bench assets clean

demo:
	@scripts/bootstrap run
	@rm -f $(DEMO_STORE) $(DEMO_STORE)-wal $(DEMO_STORE)-shm
	$(PY) -m shipper replay --store $(DEMO_STORE) --timezone UTC --year 2017 demo/logs/
	$(PY) -m shipper causes --store $(DEMO_STORE)
	$(PY) -m shipper report --store $(DEMO_STORE) -o out/report.html

test:
	@scripts/bootstrap test
	$(PY) -m mypy
	$(PY) -m pytest -q

bench:
	@scripts/bootstrap run
	$(PY) bench/replay.py

# After editing mappings/, pipelines/, kibana/build.py or the signature files: regenerate the
# derived assets and the wheel's copies (tests fail, naming this target, while they are stale).
assets:
	@scripts/bootstrap run
	$(PY) -m shipper.setup.recognition
	$(PY) kibana/build.py
	rm -rf shipper/assets/mappings shipper/assets/pipelines
	cp -r mappings pipelines shipper/assets/
	rm -rf shipper/assets/deploy && mkdir -p shipper/assets/deploy
	cp -r deploy/shipper.service deploy/shipper.service.d deploy/shipper.yml shipper/assets/deploy/

clean:
	rm -rf $(VENV) out build dist *.egg-info
