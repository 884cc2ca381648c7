"""Linking's state holds the recogniser's open contexts (session 18): Elasticsearch's
``[3] bootstrap checks failed`` opens a context in which the numbered check lines that follow
(``[2]: discovery type [zen] is unsuitable ...``: no gate string of their own) are read. A stop,
a reload or a kill -9 in the middle of such a block, or between the block and the node's failure,
links per event id as `shipper replay` of the same lines does (before, the lines after the restart
were read without the context: not recognised, not causes of the failure).

Real `shipper run` processes, real signals, real files; the output is NDJSON."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from shipper.enrich.recognise import Recognise
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.helpers.samples import parse_lines
from tests.unit.test_linkstate_restart import _append, _config, _links, _replayed, _restart, _shipped

ES = "Aug 30 14:50:00 gorp elasticsearch[200]: "
LINES = [
    ES + "ERROR: [3] bootstrap checks failed",
    ES + "[1]: memory locking requested for elasticsearch process but memory is not locked",
    ES + "[2]: discovery type [zen] is unsuitable for production use",
    ES + "[3]: JVM is using the serial collector but should not be for the requested heap size",
    "Aug 30 14:50:01 gorp systemd[1]: elasticsearch.service: Main process exited, code=exited, status=78/CONFIG",
    "Aug 30 14:50:01 gorp systemd[1]: elasticsearch.service: Failed with result 'exit-code'.",
]


@pytest.mark.parametrize("how, cut", [("term", 1), ("kill", 2), ("hup", 2), ("term", 4)])
def test_a_restart_in_a_bootstrap_block_links_as_replay_does(tmp_path: Path, how: str, cut: int) -> None:
    log = tmp_path / "es.log"
    log.write_text("".join(f"{line}\n" for line in LINES[:cut]))
    with DaemonProcess(_config(tmp_path, {"es": log}), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(_shipped(tmp_path)) == cut, 60, "the lines before the cut shipped")
        _restart(daemon, how, tmp_path, log)
        _append(log, "".join(f"{line}\n" for line in LINES[cut:]))
        wait_for(lambda: len(_shipped(tmp_path)) == len(LINES), 60, "the lines after the cut shipped")
        assert daemon.stop() == 0, daemon.output()
        assert "Traceback" not in daemon.output(), daemon.output()
    live, replay = _links(_shipped(tmp_path)), _links(_replayed(tmp_path, log))
    assert len(replay) == len(LINES)  # (every line recognised: the checks in the context)
    assert live == replay
    failure = replay[_shipped(tmp_path)[-1]["event"]["id"]]
    assert failure["cause"]["signature"] == "elasticsearch.bootstrap.memory_lock"


def test_open_contexts_go_through_json_and_a_damaged_one_is_refused() -> None:
    recognise = Recognise()
    recognise.enrich(parse_lines(LINES[:2], year=2024))
    saved = orjson.loads(orjson.dumps(recognise.contexts_json()))
    (opened,) = saved["open"]
    assert opened[:7] == ["sample.log", "gorp", "elasticsearch", 200, "elasticsearch", "bootstrap_report", {}]
    again = Recognise()
    again.restore((*again.contexts_from(saved), recognise.nearby.facts()))
    assert again.state()[:2] == recognise.state()[:2]
    for bad in ([*opened[:3], True, *opened[4:]], [*opened[:7], "3", *opened[8:]], opened[:8]):
        with pytest.raises((TypeError, ValueError)):
            again.contexts_from({"seen": saved["seen"], "open": [bad]})
    gone = [*opened[:5], "no_such_context", *opened[6:]]  # (a rule the signature files no longer have)
    assert again.contexts_from({"seen": 3, "open": [gone]}) == ({}, 3)
