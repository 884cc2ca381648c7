"""`shipper run` keeps linking's state across a stop and start, a reload (SIGHUP) and a kill -9
(`shipper.daemon.linking`, ``<state_dir>/linking.json``): a failure after the restart meets its
cause read before it (minutes earlier in the file, long before the lines read again), with the
incident id an uninterrupted run gives; a start after the restart ends the unit's incident; a
cause repeated across the restart is counted once per line; `shipper replay` of the same files
links alike. A damaged state file: the daemon starts without it and says so.

Real `shipper run` processes, real signals, real files; the output is NDJSON."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import orjson
import yaml
import pytest

from tests.helpers.daemon import ROOT, DaemonProcess, LiveJournal, wait_for, write_config
from tests.helpers.journal import JOURNAL_REMOTE

SYSERR = ("Aug 30 14:50:{s:02d} gorp sendmail[100]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: "
          "Address already in use\n")
# Lines of 20 other seconds: a restart reads again from the oldest of the last 16 seconds seen
# (`shipper.ids.KEEP_SECONDS`), so what came before them is not read again.
FILLER = 20


def quiet(minute: int) -> str:
    return "".join(f"Aug 30 14:{minute:02d}:{s:02d} gorp postfix[7]: statistics: max connection rate 1/60s for "
                   f"(smtp:10.0.0.1) at 14:{minute:02d}:00\n" for s in range(FILLER))

FAILED = ("Aug 30 14:52:00 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/OSERR\n"
          "Aug 30 14:52:00 gorp systemd[1]: sendmail.service: Failed with result 'exit-code'.\n")
STARTED = "Aug 30 14:53:00 gorp systemd[1]: Started Sendmail Mail Transport Agent.\n"


def _config(tmp_path: Path, logs: dict[str, Path]) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "inputs": [{"type": "file", "paths": [str(p)], "name": name, "flush_after": "200ms"} for name, p in logs.items()],
        "parse": {"timezone": "UTC", "year": 2024}, "run": {"batch_wait": "100ms", "status_interval": "200ms"}})


def _shipped(tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "out.ndjson"
    return [orjson.loads(line) for line in out.read_bytes().splitlines()] if out.exists() else []


def _recognised(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if "role" in (d.get("rootcause") or {})]


def _saved_fences(tmp_path: Path) -> set[int]:
    """Where linking.json's fences are (text offsets: what is linked and saved of each file)."""
    try:
        fences = orjson.loads((tmp_path / "state" / "linking.json").read_bytes())["fences"]
    except (OSError, orjson.JSONDecodeError):
        return set()
    return {f.get("shipped") for f in fences.values()}


def _restart(daemon: DaemonProcess, how: str, tmp_path: Path, *logs: Path) -> None:
    """Stop and start the daemon (``term``, ``kill``), or reload it (``hup``), once all of ``logs`` is
    shipped (a stop and a reload save the linking state as they end; a kill -9 waits for it saved)."""
    if how == "kill":
        wait_for(lambda: _saved_fences(tmp_path) == {log.stat().st_size for log in logs}, 60, "the linking state saved")
    if how == "hup":
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        return
    if how == "term":
        assert daemon.stop() == 0, daemon.output()
    else:
        daemon.kill()
    daemon.start()


def _run_across(tmp_path: Path, how: str, before: str, after: str, n: int) -> list[dict[str, Any]]:
    """maillog with ``before``, then ``after`` appended across a restart of kind ``how``: the
    documents shipped (``n`` of them, waited for)."""
    log = tmp_path / "maillog"
    log.write_text(before)
    with DaemonProcess(_config(tmp_path, {"mail": log}), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(_shipped(tmp_path)) == before.count("\n"), 60, "the lines before shipped")
        _restart(daemon, how, tmp_path, log)
        with log.open("a") as f:
            f.write(after)
        wait_for(lambda: len(_shipped(tmp_path)) >= n, 60, "the lines after shipped")
        assert daemon.stop() == 0, daemon.output()
        assert "Traceback" not in daemon.output(), daemon.output()
    docs = _shipped(tmp_path)
    assert len(docs) == n, [d["message"] for d in docs]
    return docs


@pytest.mark.parametrize("how", ["term", "hup", "kill"])
def test_a_failure_after_a_restart_meets_its_cause_read_before(tmp_path: Path, how: str) -> None:
    docs = _run_across(tmp_path, how, SYSERR.format(s=0) + quiet(51), FAILED, 3 + FILLER)
    syserr, failure = docs[0], docs[-1]
    assert failure["rootcause"]["role"] == "failure"
    assert failure["rootcause"].get("cause", {}).get("signature") == syserr["rootcause"]["signature"], failure["rootcause"]
    assert failure["rootcause"]["cause"]["first"] == "2024-08-30T14:50:00.000000Z"
    assert failure["rootcause"]["incident"] == syserr["rootcause"]["incident"]
    assert "no recognised error" not in failure["rootcause"]["hint"]


def test_a_start_after_a_restart_ends_the_incident_of_the_failure_before(tmp_path: Path) -> None:
    docs = _run_across(tmp_path, "term", SYSERR.format(s=0) + FAILED + quiet(52), STARTED, 4 + FILLER)
    started = docs[-1]
    assert started["message"].startswith("Started Sendmail")
    assert started["rootcause"]["role"] == "recovery"
    assert started["rootcause"]["incident"] == docs[0]["rootcause"]["incident"]


@pytest.mark.parametrize("filler", [FILLER, 0])
def test_a_cause_repeated_across_a_restart_is_counted_once_per_line(tmp_path: Path, filler: int) -> None:
    """With ``filler`` lines of other seconds the causes before the restart are not read again
    (without the state they were lost); without, they are read again (in the state already: not
    counted twice)."""
    before = "".join(SYSERR.format(s=s) for s in (0, 5, 10)) + quiet(51)[:filler * len(quiet(51)) // FILLER]
    again = SYSERR.replace("14:50", "14:51" if filler else "14:50").format(s=40) + FAILED
    docs = _run_across(tmp_path, "term", before, again, 6 + filler)
    cause = docs[-1]["rootcause"]["cause"]
    last = "2024-08-30T14:51:40.000000Z" if filler else "2024-08-30T14:50:40.000000Z"
    assert (cause["count"], cause["first"], cause["last"]) == (4, "2024-08-30T14:50:00.000000Z", last)
    assert len({d["rootcause"]["incident"] for d in _recognised(docs)}) == 1


def _replayed(tmp_path: Path, *files: Path) -> list[dict[str, Any]]:
    out = tmp_path / "replay.ndjson"
    subprocess.run([sys.executable, "-m", "shipper", "replay", "--quiet", "--output", "ndjson", "-o", str(out),
                    "--timezone", "UTC", "--year", "2024", "--workers", "0", *map(str, files)],
                   check=True, cwd=ROOT, capture_output=True)
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def _links(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The recognised events' ``rootcause`` (all of it: incident, cause, hint, ...) by event id."""
    return {d["event"]["id"]: d["rootcause"] for d in _recognised(docs)}


def test_live_across_restarts_links_as_replay_does(tmp_path: Path) -> None:
    mail, messages = tmp_path / "maillog", tmp_path / "messages"
    mail.write_text(SYSERR.format(s=0) + quiet(51))
    messages.write_text("Aug 30 14:49:00 gorp kernel: eth0: link up\n")
    steps: list[tuple[str, Callable[[], None]]] = [
        ("term", lambda: _append(messages, FAILED + quiet(52))),
        ("hup", lambda: _append(mail, SYSERR.replace("14:50", "14:52").format(s=50) + quiet(53))),
        ("kill", lambda: _append(messages, STARTED.replace("14:53", "14:54"))),
    ]
    with DaemonProcess(_config(tmp_path, {"mail": mail, "messages": messages}), tmp_path / "stderr.txt") as daemon:
        for how, append in steps:
            total = len(mail.read_bytes().splitlines()) + len(messages.read_bytes().splitlines())
            wait_for(lambda: len(_shipped(tmp_path)) == total, 60, "everything shipped")
            _restart(daemon, how, tmp_path, mail, messages)
            append()
        total = len(mail.read_bytes().splitlines()) + len(messages.read_bytes().splitlines())
        wait_for(lambda: len(_shipped(tmp_path)) == total, 60, "everything shipped")
        assert daemon.stop() == 0, daemon.output()
    live, replay = _links(_shipped(tmp_path)), _links(_replayed(tmp_path, mail, messages))
    assert len(live) == 5 and live == replay


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def test_a_damaged_state_file_is_not_used_and_the_daemon_says_so(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(SYSERR.format(s=0) + quiet(51))
    with DaemonProcess(_config(tmp_path, {"mail": log}), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(_shipped(tmp_path)) == 1 + FILLER, 60, "the lines shipped")
        assert daemon.stop() == 0
        state = tmp_path / "state" / "linking.json"
        state.write_bytes(state.read_bytes()[:40])
        daemon.start()
        _append(log, FAILED)
        wait_for(lambda: len(_shipped(tmp_path)) == 3 + FILLER, 60, "the failure shipped")
        wait_for(lambda: _saved_fences(tmp_path) == {log.stat().st_size}, 60, "the linking state written anew")
        assert daemon.stop() == 0
    said = daemon.output()
    assert f"shipper: {state} (linking's state) is damaged: not used;" in said, said
    assert "Traceback" not in said
    assert "no recognised error" in _shipped(tmp_path)[-1]["rootcause"]["hint"]  # (linked as without the state)


@pytest.mark.parametrize("filler", [FILLER, 0])
def test_a_journal_read_across_a_restart_links_as_without_one(tmp_path: Path, filler: int) -> None:
    """The same with a journal (the fence is a cursor of its writer): the failure after the restart
    has the cause before it, counted once per entry, whether those entries are read again or not."""
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    if not JOURNAL_REMOTE.exists():
        pytest.skip("systemd-journal-remote is not installed")
    syserr = {"MESSAGE": SYSERR.split(": ", 1)[1].strip(), "SYSLOG_IDENTIFIER": "sendmail", "_PID": "100",
              "_HOSTNAME": "gorp"}
    other = {"MESSAGE": "statistics: max connection rate 1/60s", "SYSLOG_IDENTIFIER": "postfix", "_PID": "7",
             "_HOSTNAME": "gorp"}
    failed = [{"MESSAGE": line.split("]: ", 1)[1], "SYSLOG_IDENTIFIER": "systemd", "_PID": "1", "_HOSTNAME": "gorp"}
              for line in FAILED.splitlines()]
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "inputs": [{"type": "journal", "name": "j", "path": str(tmp_path / "journal")}],
        "run": {"batch_wait": "100ms", "status_interval": "200ms"}})
    with LiveJournal(tmp_path / "journal") as journal, DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        journal.write([syserr] * 3 + [other] * filler)
        wait_for(lambda: len(_shipped(tmp_path)) == 3 + filler, 60, "the entries before shipped")
        assert daemon.stop() == 0, daemon.output()
        daemon.start()
        journal.write([syserr] + failed)
        wait_for(lambda: len(_shipped(tmp_path)) == 6 + filler, 60, "the entries after shipped")
        assert daemon.stop() == 0, daemon.output()
    docs = _shipped(tmp_path)
    assert len(docs) == 6 + filler
    cause = docs[-1]["rootcause"].get("cause")
    assert cause is not None and cause["count"] == 4, docs[-1]["rootcause"]
    assert len({d["rootcause"]["incident"] for d in _recognised(docs)}) == 1


def test_a_reload_with_another_incident_window_starts_linking_afresh_and_says_why(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(SYSERR.format(s=0) + quiet(51))
    cfg = _config(tmp_path, {"mail": log})
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(_shipped(tmp_path)) == 1 + FILLER, 60, "the lines shipped")
        write_config(cfg, {**yaml.safe_load(cfg.read_text()), "recognise": {"incident_window": "5m"}})
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        _append(log, FAILED)
        wait_for(lambda: len(_shipped(tmp_path)) == 3 + FILLER, 60, "the failure shipped")
        assert daemon.stop() == 0
    said = daemon.output()
    assert (f"shipper: {tmp_path / 'state' / 'linking.json'} (linking's state) was linked with other signatures or "
            "another recognise.incident_window: not used; a failure in the next 300 s") in said, said
    assert "no recognised error from sendmail.service in the last 5 minutes" in _shipped(tmp_path)[-1]["rootcause"]["hint"]
