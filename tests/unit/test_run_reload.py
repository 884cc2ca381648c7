"""SIGHUP on a real `shipper run`: "validate, then switch (or keep the old config)".

A reload whose output cannot be opened, or whose metrics endpoint cannot listen where it says, is
refused and the daemon goes on with the old configuration; the status counts on across reloads
(no negative rate, no counter starting again, no removed input listed); a new ``run.metrics.listen``
moves the endpoint.
"""

from __future__ import annotations

import signal
import socket
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from tests.helpers.daemon import DaemonProcess, wait_for, write_config


def lines(n: int, tag: str, start: int = 0) -> str:
    return "".join(f"Aug 30 15:00:{i:02d} gorp app[{i}]: {tag} {i}\n" for i in range(start, start + n))


def config(tmp_path: Path, inputs: list[dict[str, Any]], out: Path, **run: Any) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": inputs, "output": {"ndjson": {"path": str(out)}},
        "parse": {"timezone": "UTC", "year": 2017},
        "run": {"batch_wait": "100ms", "status_interval": "200ms", **run}})


def file_input(path: Path, name: str) -> dict[str, Any]:
    return {"type": "file", "paths": [str(path)], "name": name, "flush_after": "300ms"}


def status(tmp_path: Path) -> dict[str, Any]:
    try:
        return dict(orjson.loads((tmp_path / "state" / "status.json").read_bytes()))
    except (OSError, orjson.JSONDecodeError):
        return {}


def written(out: Path) -> list[str]:
    return [orjson.loads(line)["message"] for line in out.read_bytes().splitlines()] if out.exists() else []


def test_a_reload_whose_output_cannot_be_opened_keeps_the_old_configuration(tmp_path: Path) -> None:
    log, out = tmp_path / "a.log", tmp_path / "out.ndjson"
    log.write_text(lines(3, "a"))
    inputs = [file_input(log, "a")]
    cfg = config(tmp_path, inputs, out)
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(written(out)) == 3, 60, "a.log shipped")
        config(tmp_path, inputs, tmp_path / "no such directory" / "out.ndjson")  # `shipper validate` passes it
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "not reloading" in daemon.output() or not daemon.running(), 60, "the reload refused")
        assert daemon.running(), daemon.output()
        said = daemon.output()
        assert f"not reloading {cfg}: cannot write {tmp_path / 'no such directory' / 'out.ndjson'}" in said
        assert "still running on the previous configuration" in said and "reloaded" not in said
        with open(log, "a") as f:
            f.write("Aug 30 15:01:00 gorp app[1]: after the refused reload\n")
        wait_for(lambda: "after the refused reload" in written(out), 60, "the new line, to the old output")
        assert daemon.stop() == 0, daemon.output()
    assert written(out) == [f"a {i}" for i in range(3)] + ["after the refused reload"]


def test_the_status_counts_on_across_a_reload_and_drops_removed_inputs(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "out.ndjson"
    a.write_text(lines(20, "a"))
    b.write_text(lines(10, "b"))
    cfg = config(tmp_path, [file_input(a, "a"), file_input(b, "b")], out)
    seen: list[dict[str, Any]] = []

    def shipped(key: str, n: int) -> bool:
        st = status(tmp_path)
        if st:
            seen.append(st)
        return bool(st) and st["inputs"].get(key, {}).get("shipped") == n and st["in_flight_batches"] == 0

    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: shipped("file-a", 20) and shipped("file-b", 10), 60, "both files shipped")
        config(tmp_path, [file_input(a, "a")], out)
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        with open(a, "a") as f:
            f.write(lines(5, "a", start=20))
        wait_for(lambda: shipped("file-a", 25), 60, "a.log's new lines counted on from 20")
        for _ in range(10):  # rates over the seconds after the reload (status every 200 ms)
            wait_for(lambda: status(tmp_path).get("updated") != seen[-1].get("updated"), 10, "the next status")
            shipped("file-a", 25)
        assert daemon.stop() == 0, daemon.output()
    last = status(tmp_path)
    assert list(last["inputs"]) == ["file-a"]  # b.log is no longer an input
    figures = last["inputs"]["file-a"]
    assert figures["shipped"] == 25
    assert figures["read"] == figures["shipped"] + figures["read_again"]  # the lines read again after the reload
    assert last["output"]["counters"]["written"] == 35 == len(written(out))  # both sessions' lines
    rates = [(st["rates"]["read_per_second"], st["rates"]["shipped_per_second"]) for st in seen]
    assert all(r >= 0 and s >= 0 for r, s in rates), rates


def test_a_reload_moves_the_metrics_endpoint_or_is_refused_when_it_cannot_listen(tmp_path: Path) -> None:
    log, out = tmp_path / "a.log", tmp_path / "out.ndjson"
    log.write_text(lines(4, "a"))
    inputs = [file_input(log, "a")]
    first, second = _free_port(), _free_port()
    cfg = config(tmp_path, inputs, out, metrics={"listen": f"127.0.0.1:{first}"})
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    with taken, DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: 'shipper_events_shipped_total{input="file-a"} 4.0' in (_get(first) or ""), 60, "metrics at the first port")
        config(tmp_path, inputs, out, metrics={"listen": f"127.0.0.1:{second}"})
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        assert 'shipper_events_shipped_total{input="file-a"} 4.0' in wait_for(lambda: _get(second) or "", 30, "the second port")
        assert _get(first) is None  # moved, not added
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        config(tmp_path, inputs, out, metrics={"listen": busy})
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "not reloading" in daemon.output(), 60, "the reload refused")
        assert f"run.metrics.listen {busy}: cannot listen there" in daemon.output()
        assert _get(second) is not None and daemon.running()  # still where it was
        config(tmp_path, inputs, out)  # no run.metrics: the endpoint stops
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: daemon.output().count("shipper: reloaded") == 2, 60, "the second reload")
        assert _get(second) is None
        assert daemon.stop() == 0, daemon.output()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())
    except OSError:
        return None
