"""`shipper deadletter retry --id N` with an id the dead letter does not hold is refused (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from shipper.errors import ExitCode
from shipper.sinks.deadletter import FILENAME, DeadLetterStore
from tests.fakees import FakeES
from tests.helpers.es import make_env, out, run_command, run_sink, syslog_docs


@pytest.fixture
def es() -> Iterator[FakeES]:
    with FakeES("9.1.0") as fake:
        yield fake


def _retry(es: FakeES, state: Path, *ids: int) -> tuple[int, str, str]:
    env = make_env()
    argv = ["retry", "--state-dir", str(state), "--es-url", es.url, *(a for i in ids for a in ("--id", str(i)))]
    rc = run_command("deadletter", argv, env)
    return rc, out(env), env.stderr.getvalue()  # type: ignore[attr-defined]


def _attempts(state: Path) -> list[tuple[int, int]]:
    store = DeadLetterStore(state / FILENAME)
    try:
        return [(x.id, x.attempts) for x in store.letters()]
    finally:
        store.close()


def test_an_unknown_id_is_refused_and_nothing_is_sent(es: FakeES, tmp_path: Path) -> None:
    assert run_command("setup", ["--es-url", es.url], make_env()) == 0
    docs = syslog_docs(3)
    docs[1] = {**docs[1], "host": "gorp"}  # refused by the mapping: dead-lettered as entry 1
    run_sink(es.url, [docs], tmp_path)
    state = tmp_path / "state"
    assert _attempts(state) == [(1, 1)]
    requests = es.cluster.counters["requests"]
    for ids, said in (((9999,), "has no entry with the id 9999"),
                      ((1, 9999, 9998), "has no entries with the ids 9998, 9999")):
        rc, stdout, stderr = _retry(es, state, *ids)
        assert rc == ExitCode.USAGE and said in stderr and "`shipper deadletter list`" in stderr
        assert "retried" not in stdout and "nothing to retry" not in stdout
    assert es.cluster.counters["requests"] == requests  # not one request: entry 1 was not retried either
    assert _attempts(state) == [(1, 1)]


def test_an_id_with_no_dead_letter_at_all_is_refused(es: FakeES, tmp_path: Path) -> None:
    rc, _, stderr = _retry(es, tmp_path / "state", 12)
    assert rc == ExitCode.USAGE
    assert f"the dead letter {tmp_path / 'state' / FILENAME} has no entry with the id 12" in stderr
