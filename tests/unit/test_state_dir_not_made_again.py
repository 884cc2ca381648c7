"""A state directory deleted while `shipper run` runs is not made again, by anything.

The daemon's lock makes the directory when it starts (`shipper.state.lock`); after that, what
writes there (the status, checkpoints, the disk buffer, the Elasticsearch output's dead letter, a
sink the courier builds again) fails on a missing directory instead of making it: another shipper
may have started on it meanwhile. The commands that make it on a first run still do: the lock,
`shipper replay` into Elasticsearch (its sink makes the directory of its dead letter).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Callable

import orjson
import pytest

from shipper.config.model import load_config
from shipper.daemon import loop
from shipper.daemon.console import Console
from shipper.daemon.notify import Notifier
from shipper.daemon.plan import make_plan
from shipper.env import Env
from shipper.errors import ExitCode, OutputError
from shipper.sinks.deadletter import FILENAME as DEADLETTER, DeadLetterStore, Letter
from shipper.sinks.factory import make_sinks
from shipper.state.checkpoints import CheckpointStore
from shipper.state.lock import lock_state_dir
from shipper.state.spool import Spool
from shipper.state.status import write_status
from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.helpers.es import Acks, make_env

LINES = 20
GONE = "deleted while shipper was running"


def _read(state: Path) -> int:
    try:
        status = orjson.loads((state / "status.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return 0
    return sum(i.get("read", 0) for i in status.get("inputs", {}).values())


def test_a_document_refused_after_the_directory_went_does_not_make_it_again(tmp_path: Path) -> None:
    """The daemon delivers what it read on its way out; Elasticsearch refuses it for good, and the
    dead letter, which is in the state directory, cannot be written: said, not made again."""
    state, log = tmp_path / "state", tmp_path / "messages"
    log.write_text("".join(f"Aug 30 15:00:{i:02d} gorp app[{i}]: line {i}\n" for i in range(LINES)))
    with FakeES("8.15.3", security=False) as es:
        es.faults.item_500_times = 1000  # a server error on every try: each document is dead-lettered
        cfg = write_config(tmp_path / "shipper.yml", {
            "state_dir": str(state), "inputs": [{"type": "file", "paths": [str(log)], "flush_after": "10m"}],
            "output": {"elasticsearch": {"hosts": [es.url], "retry_initial": 0.01, "retry_max": 0.05,
                                         "max_item_retries": 1}},
            "parse": {"timezone": "UTC", "year": 2017},
            "run": {"batch_wait": "10m", "status_interval": "1s", "stop_timeout": "30s"}})
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: _read(state) >= LINES, 60, f"the daemon to read the {LINES} lines")
            shutil.rmtree(state)
            wait_for(lambda: not daemon.running(), 60, "shipper run to stop")
            assert daemon.proc is not None
            code = daemon.proc.returncode
    stderr = daemon.output()
    assert not state.exists(), stderr
    assert code == ExitCode.OUTPUT, stderr
    assert f"the state directory {state} was deleted while shipper was running" in stderr
    assert f"shipper: the output failed: cannot open the dead letter {state / DEADLETTER}" in stderr


def _es_config(tmp_path: Path, state: Path) -> Path:
    # Nothing listens on port 9: opening the sink fails after the state directory check, if it passes.
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state), "inputs": [{"type": "file", "paths": [str(tmp_path / "messages")]}],
        "output": {"elasticsearch": {"hosts": ["http://127.0.0.1:9"]}}})


def test_a_sink_the_daemon_builds_again_does_not_make_the_directory_again(tmp_path: Path) -> None:
    """The courier builds a new sink while Elasticsearch cannot be reached, and after a reload."""
    state = tmp_path / "state"
    cfg = load_config(_es_config(tmp_path, state))
    plan = make_plan(cfg, Env(), lambda text: None, make_env())
    lock = lock_state_dir(state)
    try:
        shutil.rmtree(state)
        sink = plan.make_sink()
        with pytest.raises(OutputError, match=f"the state directory {state} is gone") as raised:
            sink.open(Acks())
        sink.close()
    finally:
        lock.close()
    assert GONE in str(raised.value)
    assert not state.exists()


def test_an_output_that_fails_for_want_of_the_directory_stops_the_daemon_as_its_loss(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Elasticsearch cannot be reached: the courier builds a sink again and again. Once the state
    directory is gone, the sink fails to open, and the daemon stops as when it finds the loss
    itself (exit 5, saving nothing), rather than as on an output failure (saving checkpoints)."""
    monkeypatch.setattr(loop, "TICK", 3600.0)  # the loop looks at its lock once, at the start: the courier finds the loss
    monkeypatch.setattr(loop, "tune_malloc", lambda: True)  # (not in the test process)
    state = tmp_path / "state"
    (tmp_path / "messages").write_text("Aug 30 15:00:00 gorp app[1]: line 0\n")
    cfg = load_config(_es_config(tmp_path, state))
    err = io.StringIO()
    console = Console(err, False)
    plan = make_plan(cfg, Env(), console.log, make_env())
    lock = lock_state_dir(state)
    gone = threading.Timer(0.2, shutil.rmtree, [state])  # before the courier's second try (0.5 s)
    stop = threading.Timer(30, os.kill, [os.getpid(), signal.SIGTERM])  # (the daemon never stops by itself)
    gone.start()
    stop.start()
    try:
        code = loop.Daemon(plan, lambda c: plan, None, console, Notifier({}), lock).run()
    finally:
        stop.cancel()
        gone.join()
        lock.close()
    assert not state.exists(), err.getvalue()
    assert code == ExitCode.OUTPUT, err.getvalue()
    assert f"the state directory {state} was deleted while shipper was running" in err.getvalue()
    assert f"the output failed: the state directory {state} is gone" in err.getvalue()
    assert "no checkpoint was saved" in err.getvalue()


def test_a_replay_into_elasticsearch_still_makes_the_directory_of_its_dead_letter(tmp_path: Path) -> None:
    state = tmp_path / "new" / "state"
    cfg = load_config(_es_config(tmp_path, state))
    with FakeES("8.15.3", security=False) as es:
        (sink,) = make_sinks(cfg, make_env(), state_dir=state, output="es", es_url=es.url)
        sink.open(Acks())
        sink.close()
    assert state.is_dir()


def test_a_first_start_makes_the_directory_and_what_goes_in_it(tmp_path: Path) -> None:
    state = tmp_path / "new" / "state"
    lock = lock_state_dir(state)
    try:
        CheckpointStore(state).save("file-messages", {"offset": 1})
        Spool(state / "spool", 1 << 20).close()
        write_status(state, {"state": "running"})
        store = DeadLetterStore(state / DEADLETTER)
        store.close()
    finally:
        lock.close()
    assert sorted(p.name for p in state.iterdir()) == ["checkpoints", DEADLETTER, "lock", "spool", "status.json"]
    assert CheckpointStore(state).load("file-messages") == {"offset": 1}


def _letter() -> Letter:
    return Letter("2017-08-30T14:56:07.000000Z", "logs-shipper.syslog-default", "doc-1", 400, "x", "y", b"{}")


# What writes state, and what it says (its message and part of its hint) when the directory is gone.
WRITERS: dict[str, tuple[Callable[[Path], object], str, str]] = {
    "checkpoint": (lambda state: CheckpointStore(state).save("file-messages", {"offset": 1}),
                   "cannot make the checkpoint directory {state}/checkpoints: No such file or directory",
                   "the state directory {state} must exist"),
    "status": (lambda state: write_status(state, {"state": "running"}),
               "cannot write state file {state}/status.json: No such file or directory",
               "{state} is gone: was it " + GONE),
    "disk buffer": (lambda state: Spool(state / "spool", 1 << 20),
                    "cannot use the disk buffer in {state}/spool: No such file or directory",
                    "was the state directory " + GONE),
    "dead letter": (lambda state: DeadLetterStore(state / DEADLETTER).add([_letter()]),
                    "cannot open the dead letter {state}/deadletter.db: the directory {state} does not exist",
                    "was the state directory " + GONE),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_nothing_that_writes_state_makes_a_deleted_directory_again(tmp_path: Path, writer: str) -> None:
    write, message, hint = WRITERS[writer]
    state = tmp_path / "state"
    lock = lock_state_dir(state)
    try:
        shutil.rmtree(state)
        with pytest.raises(OutputError) as raised:
            write(state)
    finally:
        lock.close()
    assert not state.exists()
    assert raised.value.message == message.format(state=state)
    assert raised.value.hint is not None and hint.format(state=state) in raised.value.hint
