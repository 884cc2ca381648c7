"""A machine without a real-time clock: its boots write the same lines at the same seconds, each
boot its own writer. The daemon reads each writer as its own stream; the entries of a boot in a
second another boot took first get their boot in their id's key (`shipper.sources.journal_boots`),
so no two entries share an id, also across restarts (the seconds taken are in the checkpoint) and
after a kill -9 (what is read again gets the id it had)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.sources.journal_boots import BootClaims
from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal

needs_journal = pytest.mark.skipif(not JOURNAL_REMOTE.exists(), reason="systemd-journal-remote is not installed")

BASE = 1_666_569_601_000_000  # 2022-10-24T00:00:01Z, where each boot of the corpus's no-rtc machine begins
PER_BOOT = 600  # four entries a second: 150 seconds shared by every boot
ALONE = 20  # boot A's last entries, in seconds no other boot wrote


def boot(name: str, micros: int, alone: int = 0) -> bytes:
    """A boot's entries: each second two lines that are twins in it ("line K" twice) and two that
    are not; the same at the same seconds in every boot (``micros`` apart). ``alone`` more entries
    after them, one a second, 10 minutes later."""
    entries = []
    for i in range(PER_BOOT + alone):
        second = i // 4 if i < PER_BOOT else 600 + i
        message = f"line {second % 7}" if i % 4 < 2 and i < PER_BOOT else f"unique {i}"
        fields: dict[str, str | bytes] = {
            "MESSAGE": message, "SYSLOG_IDENTIFIER": "kernel", "_HOSTNAME": "pi", "_BOOT_ID": name * 32,
            "__REALTIME_TIMESTAMP": str(BASE + second * 1_000_000 + micros + i % 4),
            "__MONOTONIC_TIMESTAMP": str(1_000_000 + i)}
        entries.append(export_entry(fields, seq=i))
    return b"".join(entries)


def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "journal", "name": "pi", "path": str(tmp_path / "journal")}],
        "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "run": {"batch_wait": "100ms", "status_interval": "200ms"}})


def docs(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def entries(path: Path) -> set[str]:
    return {d["journald"]["cursor"] for d in docs(path) if "journald" in d}


def status(tmp_path: Path) -> dict[str, Any]:
    return read_status(tmp_path / "state")


def settled(tmp_path: Path, count: int) -> bool:
    st = status(tmp_path)
    return (len(entries(tmp_path / "out.ndjson")) >= count and st.get("state") == "running"
            and st.get("in_flight_batches") == 0 and st.get("queue_events") == 0)


def ids_by_entry(path: Path) -> dict[str, set[str]]:
    """Each entry (its cursor) and the ids it was shipped with."""
    out: dict[str, set[str]] = defaultdict(set)
    for d in docs(path):
        out[d["journald"]["cursor"]].add(d["event"]["id"])
    return out


@needs_journal
def test_the_boots_of_a_machine_without_a_clock_get_distinct_ids(tmp_path: Path) -> None:
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    journal = tmp_path / "journal"
    make_journal(journal, boot("a", 5_945, alone=ALONE), name="boot-a")
    with DaemonProcess(config(tmp_path), tmp_path / "stderr1.txt") as daemon:  # boot A, then a restart
        wait_for(lambda: settled(tmp_path, PER_BOOT + ALONE), 90, "boot A shipped")
        daemon.signal(signal.SIGTERM)
        assert daemon.stop() == 0, daemon.output()
    make_journal(journal, boot("b", 9_823), name="boot-b")
    make_journal(journal, boot("c", 17_222), name="boot-c")
    total = 3 * PER_BOOT + ALONE
    with DaemonProcess(config(tmp_path), tmp_path / "stderr2.txt") as daemon:  # boots B and C, a reload, a kill -9
        wait_for(lambda: len(entries(tmp_path / "out.ndjson")) > PER_BOOT + ALONE, 90, "boot B or C shipping")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: len(entries(tmp_path / "out.ndjson")) >= total, 90, "all shipped")
        daemon.kill()
    with DaemonProcess(config(tmp_path), tmp_path / "stderr3.txt") as daemon:  # what was not saved, read again
        wait_for(lambda: settled(tmp_path, total), 90, "all shipped after the kill")
        daemon.signal(signal.SIGTERM)
        assert daemon.stop() == 0, daemon.output()

    shipped = ids_by_entry(tmp_path / "out.ndjson")
    assert len(shipped) == total
    assert all(len(ids) == 1 for ids in shipped.values())  # read again: the id it had
    ids = {next(iter(ids)): cursor for cursor, ids in shipped.items()}
    assert len(ids) == total  # distinct entries, distinct ids

    # `shipper replay` of the directory: its ids are distinct too; they are the daemon's where only
    # one boot wrote (boot A's last entries); where several did, the boots but the first differ.
    out = tmp_path / "replay.ndjson"
    subprocess.run([sys.executable, "-m", "shipper", "replay", "--quiet", "--timezone", "UTC", "--output", "ndjson",
                    "-o", str(out), str(journal)], check=True, timeout=120)
    replayed = {cursor: ids.pop() for cursor, ids in ids_by_entry(out).items()}
    assert len(replayed) == total and len(set(replayed.values())) == total
    daemon_ids = {cursor: next(iter(ids)) for cursor, ids in shipped.items()}
    alone = [d["journald"]["cursor"] for d in docs(out) if d["message"].startswith("unique") and
             int(d["message"].split()[1]) >= PER_BOOT]
    assert len(alone) == ALONE and all(daemon_ids[c] == replayed[c] for c in alone)


@needs_journal
def test_one_writer_over_boots_whose_clock_went_back_gives_distinct_ids(tmp_path: Path) -> None:
    """A persistent journal: one writer goes on over the boots (journald rotates the file when
    the clock goes back; here one file). The second boot's seconds come 150 s after the first's,
    too late for the twins' count (`shipper.ids.KEEP_SECONDS`): the boot tells them apart."""
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    make_journal(tmp_path / "journal", boot("a", 5_945) + boot("b", 9_823), name="one")
    with DaemonProcess(config(tmp_path), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 2 * PER_BOOT), 90, "both boots shipped")
        daemon.signal(signal.SIGTERM)
        assert daemon.stop() == 0, daemon.output()
    shipped = ids_by_entry(tmp_path / "out.ndjson")
    assert len(shipped) == 2 * PER_BOOT and len(set.union(*shipped.values())) == 2 * PER_BOOT


def test_a_second_belongs_to_the_first_boot_read_in_it() -> None:
    """Boot A reads seconds 10 and 20 (and so holds 10 to 20); boot B then 15 (A's), 25 (its own)
    and 5 (its own, before A's); A then 25 (B's) and 21 (its own, to 21). Kept across a restart
    (the checkpoint's ``boots``), where 22, which no boot read yet, is B's (as 25: 22 to 25)."""
    claims = BootClaims()

    def apart(boot: str, second: int) -> bool:
        tags: dict[int, tuple[str, ...]] = {}
        claims.apart([{"_HOSTNAME": "pi", "_BOOT_ID": boot, "__REALTIME_TIMESTAMP": f"{second}000001"}], tags)
        return bool(tags)

    assert [apart("a", 10), apart("a", 20), apart("b", 15), apart("b", 25), apart("b", 5)] == [
        False, False, True, False, False]
    assert [apart("a", 25), apart("a", 21), apart("other", 12)] == [True, False, True]
    claims = BootClaims(orjson.loads(orjson.dumps(claims.state())))
    assert [apart("a", 15), apart("b", 15), apart("b", 5), apart("a", 5), apart("b", 22)] == [
        False, True, False, True, False]
