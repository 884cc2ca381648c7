"""A signal that comes while a real `shipper run` starts (a logrotate postrotate `kill -HUP`, a
stop) is held back until the loop's handlers are in place (`shipper.cli`), then taken as the loop
takes it: a SIGHUP reloads, a SIGTERM or SIGINT stops it as any stop does (exit 0), not by the
signal's default action (killed by SIGHUP or SIGTERM, "interrupted" for SIGINT).

The configuration file is a FIFO: shipper blocks reading it, well inside its start-up (past the
command line, before the configuration, the state directory and the handlers), until the test has
sent its signal and written the configuration.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.helpers.daemon import DaemonProcess, wait_for


def _line(tag: str, i: int) -> str:
    return f"Aug 30 15:00:{i:02d} gorp app[{i}]: {tag} {i}\n"


def _written(out: Path) -> list[str]:
    return [orjson.loads(line)["message"] for line in out.read_bytes().splitlines()] if out.exists() else []


def _config(tmp_path: Path, logs: list[Path], out: Path) -> bytes:
    inputs: list[dict[str, Any]] = [{"type": "file", "paths": [str(p)], "name": p.stem, "flush_after": "200ms"}
                                    for p in logs]
    return yaml.safe_dump({
        "state_dir": str(tmp_path / "state"), "inputs": inputs, "output": {"ndjson": {"path": str(out)}},
        "parse": {"timezone": "UTC", "year": 2017},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "5s"}}).encode()


def _starting(tmp_path: Path) -> DaemonProcess:
    """`shipper run` whose configuration file is a FIFO (started by ``with``)."""
    os.mkfifo(tmp_path / "shipper.yml")
    return DaemonProcess(tmp_path / "shipper.yml", tmp_path / "stderr.txt")


def _signal_while_starting(daemon: DaemonProcess, sig: int, first: bytes, then: bytes) -> None:
    """Once ``daemon`` reads its FIFO configuration, send ``sig``, give it ``first`` to read, and
    leave a regular file with ``then`` in the FIFO's place before it reads to the end (what a
    reload, or the next start, reads)."""
    fifo = daemon.config
    with open(fifo, "wb") as writer:  # (opens once shipper opened the FIFO to read its configuration)
        daemon.signal(sig)
        writer.write(first)
        regular = fifo.with_suffix(".next")
        regular.write_bytes(then)
        os.replace(regular, fifo)


def test_a_sighup_while_it_starts_is_a_reload_once_it_runs(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "out.ndjson"
    a.write_text(_line("a", 0))
    b.write_text(_line("b", 0))
    with _starting(tmp_path) as daemon:
        _signal_while_starting(daemon, signal.SIGHUP, _config(tmp_path, [a], out), _config(tmp_path, [a, b], out))
        wait_for(lambda: "shipper: reloaded" in daemon.output() or not daemon.running(), 60, "the reload")
        assert daemon.running(), daemon.output()
        wait_for(lambda: sorted(_written(out)) == ["a 0", "b 0"], 60, "b.log shipped too (the new configuration)")
        with open(a, "a") as f:
            f.write(_line("a", 1))
        wait_for(lambda: "a 1" in _written(out), 60, "a new line shipped")
        assert daemon.stop() == 0, daemon.output()
    assert sorted(_written(out)) == ["a 0", "a 1", "b 0"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_it_starts_stops_it_as_any_stop(tmp_path: Path, sig: int) -> None:
    a, out = tmp_path / "a.log", tmp_path / "out.ndjson"
    a.write_text(_line("a", 0) + _line("a", 1))
    with _starting(tmp_path) as daemon:
        cfg = _config(tmp_path, [a], out)
        _signal_while_starting(daemon, sig, cfg, cfg)
        wait_for(lambda: not daemon.running(), 60, "shipper to stop")
        assert daemon.proc is not None and daemon.proc.returncode == 0, (daemon.proc and daemon.proc.returncode,
                                                                         daemon.output())
        said = daemon.output()
    assert "shipper: stopped; everything read was acknowledged by the output" in said, said
    assert "interrupted" not in said, said
    with DaemonProcess(tmp_path / "shipper.yml", tmp_path / "stderr2.txt") as again:  # (it stopped before reading)
        wait_for(lambda: _written(out) == ["a 0", "a 1"], 60, "a.log shipped by the next start")
        assert again.stop() == 0, again.output()
    assert _written(out) == ["a 0", "a 1"]
