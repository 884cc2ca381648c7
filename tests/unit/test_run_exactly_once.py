"""A reload (SIGHUP) or a restart (SIGTERM, then start) writes nothing twice to NDJSON.

Reading resumes at the first line of the oldest second whose twins are still counted, before what
was shipped (`shipper.daemon.streams`): the lines read again rebuild the counts, so that every line
after the checkpoint gets the id it had, and they are linked again (a failure after the restart
meets the causes read before it), but they are not shipped again. The output of a run interrupted
by a reload and a restart is, line for line, the output of a run that was not interrupted.

Each part below has twins (identical lines in one second), seconds that come back (another writer),
and the causes of a failure that comes only after the restart; all of it within the 16 seconds
whose counts are kept, so that every restart reads everything again.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest

from tests.helpers.daemon import DaemonProcess, LiveJournal, wait_for, write_config
from tests.helpers.journal import JOURNAL_REMOTE

SEED = (Path(__file__).resolve().parents[1] / "data" / "seed" / "messages-sendmail.log").read_text().splitlines()
BASE = 1_504_104_900  # 2017-08-30T14:55:00Z


def twin(second: int, message: str = "twin") -> str:
    return f"Aug 30 14:{55 + second // 60}:{second % 60:02d} gorp app[7]: {message}"


# The seed: SYSERRs (causes) at 14:55:52, :57 and 14:56:02, sendmail's failure at 14:56:07.
PARTS = [
    [SEED[0], twin(48), twin(48), twin(49, "other"), twin(48), SEED[1], twin(49), SEED[2]],
    [twin(48), twin(49), SEED[3], SEED[4], twin(52), twin(52), SEED[5], SEED[6]],
    [twin(57), twin(52), twin(48), SEED[7], SEED[8], SEED[9]],
]
ALL = [line for part in PARTS for line in part]
# What is compared: each document but where it was read from (the runs read different paths).
Shown = tuple[Any, ...]


def shown(doc: dict[str, Any]) -> Shown:
    return (doc["event"]["id"], doc["@timestamp"], doc["message"], orjson.dumps(doc.get("rootcause"),
                                                                              option=orjson.OPT_SORT_KEYS))


def output(path: Path) -> list[Shown]:
    return [shown(orjson.loads(line)) for line in path.read_bytes().splitlines()] if path.exists() else []


def status(state: Path) -> dict[str, Any]:
    try:
        return dict(orjson.loads((state / "status.json").read_bytes()))
    except (OSError, orjson.JSONDecodeError):
        return {}


def settled(state: Path, out: Path, count: int) -> Callable[[], bool]:
    """``count`` distinct events written and nothing in flight (a duplicate would be written by then:
    the lines read again come before the new ones)."""
    def check() -> bool:
        st = status(state)
        return len({row[0] for row in output(out)}) >= count and st.get("in_flight_batches") == 0 and st.get("queue_events") == 0
    return check


def config(tmp_path: Path, inputs: list[dict[str, Any]]) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": inputs,
        "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "parse": {"timezone": "UTC", "year": 2017}, "run": {"batch_wait": "100ms", "status_interval": "200ms"}})


def interrupted(tmp_path: Path, inputs: list[dict[str, Any]], write: Callable[[list[str]], None]) -> list[Shown]:
    """The parts written one after the other: a SIGHUP after the first, a restart after the second.
    The last status says how many events the restart read again (`read_again`)."""
    cfg, state, out = config(tmp_path, inputs), tmp_path / "state", tmp_path / "out.ndjson"
    write(PARTS[0])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(settled(state, out, len(PARTS[0])), 60, "the first part shipped")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        write(PARTS[1])
        wait_for(settled(state, out, len(PARTS[0]) + len(PARTS[1])), 60, "the second part shipped")
        assert daemon.stop() == 0, daemon.output()
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: status(state).get("state") == "running", 60, "the restart")
        write(PARTS[2])
        wait_for(settled(state, out, len(ALL)), 60, "the third part shipped")
        assert daemon.stop() == 0, daemon.output()
    return output(out)


def read_again(tmp_path: Path) -> int:
    return sum(i.get("read_again", 0) for i in status(tmp_path / "state")["inputs"].values())


def uninterrupted(tmp_path: Path, inputs: list[dict[str, Any]], write: Callable[[list[str]], None]) -> list[Shown]:
    cfg, state, out = config(tmp_path, inputs), tmp_path / "state", tmp_path / "out.ndjson"
    write(ALL)
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(settled(state, out, len(ALL)), 60, "every line shipped")
        assert daemon.stop() == 0, daemon.output()
    return output(out)


def files(run: Path) -> tuple[list[dict[str, Any]], Callable[[list[str]], None]]:
    """A file input reading ``run/messages``, and what appends lines to it."""
    run.mkdir()
    log = run / "messages"

    def write(lines: list[str]) -> None:
        with open(log, "a") as f:
            f.write("".join(line + "\n" for line in lines))

    return [{"type": "file", "paths": [str(log)], "flush_after": "500ms"}], write


def test_a_file_read_again_after_a_reload_and_a_restart_is_shipped_once(tmp_path: Path) -> None:
    expected = uninterrupted(tmp_path / "whole", *files(tmp_path / "whole"))
    assert len(expected) == len(ALL) == len({row[0] for row in expected})
    failure = next(row for row in expected if "Main process exited" in row[2])
    assert orjson.loads(failure[3])["cause"]["count"] == 3  # its three SYSERRs
    got = interrupted(tmp_path / "parts", *files(tmp_path / "parts"))
    assert got == expected
    assert read_again(tmp_path / "parts") == len(PARTS[0]) + len(PARTS[1])  # all read again by the restart


@pytest.mark.skipif(not JOURNAL_REMOTE.exists(), reason="systemd-journal-remote is not installed")
def test_a_journal_read_again_after_a_reload_and_a_restart_is_shipped_once(tmp_path: Path) -> None:
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")

    def entry(line: str) -> dict[str, str]:
        stamp, rest = line[:15], line[16:]
        _, ident_pid, message = rest.split(" ", 2)
        ident, pid = ident_pid.rstrip(":").rstrip("]").split("[")
        h, m, s = (int(x) for x in stamp[7:].split(":"))
        micros = (BASE - 14 * 3600 - 55 * 60 + h * 3600 + m * 60 + s) * 1_000_000 + 250_000
        fields = {"MESSAGE": message, "SYSLOG_IDENTIFIER": ident, "_PID": pid, "__REALTIME_TIMESTAMP": str(micros)}
        if ident == "systemd":
            fields.update({"UNIT": "sendmail.service", "_SYSTEMD_UNIT": "init.scope"})
        return fields

    def run(where: Path, shipped: Callable[..., list[Shown]]) -> list[Shown]:
        where.mkdir()
        with LiveJournal(where / "journal") as live:
            def write(lines: list[str]) -> None:
                live.write([entry(line) for line in lines])
                wait_for(lambda: live.files(), 30, "the journal file")

            return shipped(where, [{"type": "journal", "path": str(where / "journal")}], write)

    expected = run(tmp_path / "whole", uninterrupted)
    assert len(expected) == len(ALL) == len({row[0] for row in expected})
    assert run(tmp_path / "parts", interrupted) == expected
    assert read_again(tmp_path / "parts") == len(PARTS[0]) + len(PARTS[1])


def test_a_crash_between_delivery_and_checkpoint_loses_nothing(tmp_path: Path) -> None:
    """kill -9 once the second part is written to the output, before its checkpoint is saved (at
    most once a second): the restart ships again what came after the checkpoint saved, nothing
    before it, and loses nothing."""
    expected = uninterrupted(tmp_path / "whole", *files(tmp_path / "whole"))
    run = tmp_path / "parts"
    inputs, write = files(run)
    cfg, state, out = config(run, inputs), run / "state", run / "out.ndjson"
    first = sum(len(line) + 1 for line in PARTS[0])
    write(PARTS[0])
    with DaemonProcess(cfg, run / "stderr.txt") as daemon:
        wait_for(settled(state, out, len(PARTS[0])), 60, "the first part shipped")
        wait_for(lambda: delivered(state) == [first], 60, "the first part's checkpoint")
        write(PARTS[1])
        wait_for(lambda: len(output(out)) >= len(PARTS[0]) + len(PARTS[1]), 60, "the second part written")
        daemon.kill()
    with DaemonProcess(cfg, run / "stderr2.txt") as daemon:
        wait_for(lambda: status(state).get("state") == "running", 60, "the restart")
        write(PARTS[2])
        wait_for(settled(state, out, len(ALL)), 60, "the third part shipped")
        assert daemon.stop() == 0, daemon.output()
    got = output(out)
    assert list(dict.fromkeys(got)) == expected  # nothing lost, in order, the same ids
    again = {row for row in got if got.count(row) > 1}
    assert again <= set(expected[len(PARTS[0]):len(PARTS[0]) + len(PARTS[1])])  # only after the checkpoint


def delivered(state: Path) -> list[Any]:
    """The acknowledged positions kept in the inputs' checkpoints."""
    return [pos for path in sorted((state / "checkpoints").glob("*.json"))
            for pos in orjson.loads(path.read_bytes())["state"].get("delivered", {}).values()]
