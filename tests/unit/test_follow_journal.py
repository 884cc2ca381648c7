"""Following journals: real journal files written by systemd-journal-remote, also while it runs."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from shipper.config.model import JournalInput
from shipper.sources.base import RawChunk
from shipper.sources.follow import POLL_ENTRIES, JournalFollower
from shipper.sources.journal_header import cursor_time
from shipper.sources.live import Gap, JournalMark, Polled
from tests.helpers.daemon import LiveJournal, wait_for
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)


def follower(path: Path, logs: list[str] | None = None, **settings: object) -> JournalFollower:
    cfg = JournalInput(type="journal", path=path, **settings)  # type: ignore[arg-type]
    return JournalFollower(cfg, "journal-t", log=(logs if logs is not None else []).append)


def messages(items: list[Polled]) -> list[str]:
    return [e.get("MESSAGE") for i in items if isinstance(i, RawChunk) for e in i.items]


def drain(f: JournalFollower) -> list[Polled]:
    out: list[Polled] = []
    while got := f.poll(0.0):
        out += got
    return out


def commit_at(f: JournalFollower, items: list[Polled], index: int) -> None:
    """Commit the position after entry ``index`` of ``items`` to its stream, as the daemon does."""
    entries = [(i.origin.source_id, e) for i in items if isinstance(i, RawChunk) for e in i.items]
    sid, entry = entries[index]
    f.commit(sid, JournalMark(entry["__CURSOR"], None))


def plain(n: int, start: int = 0) -> bytes:
    return b"".join(export_entry({"MESSAGE": f"entry {i}", "SYSLOG_IDENTIFIER": "t", "_PID": "7"}, seq=i)
                    for i in range(start, start + n))


def test_head_reads_everything_and_resume_starts_after_the_cursor(tmp_path: Path) -> None:
    make_journal(tmp_path / "j", plain(10))
    f = follower(tmp_path / "j")
    assert f.open(None) == []
    got = drain(f)
    assert messages(got) == [f"entry {i}" for i in range(10)]
    commit_at(f, got, 4)
    saved = f.state()
    f.close()
    f2 = follower(tmp_path / "j")
    assert f2.open(saved) == []
    assert messages(drain(f2)) == [f"entry {i}" for i in range(5, 10)]  # not entry 4 again


def test_a_poll_returns_a_small_chunk_so_that_its_documents_stay_in_the_caches(tmp_path: Path) -> None:
    make_journal(tmp_path / "j", plain(POLL_ENTRIES + 10))
    f = follower(tmp_path / "j")
    assert f.open(None) == []
    sizes = []
    while got := f.poll(0.0):
        sizes += [len(i.items) for i in got if isinstance(i, RawChunk)]
    assert sizes == [POLL_ENTRIES, 10]


def test_tail_and_since(tmp_path: Path) -> None:
    make_journal(tmp_path / "j", plain(10))
    f = follower(tmp_path / "j", start="tail")
    f.open(None)
    assert messages(drain(f)) == []
    assert f.state()["mark"]["cursor"]  # the start is remembered at once: a restart does not skip
    since = follower(tmp_path / "j", start="2017-08-30T14:55:54Z")  # entry 7 is at 14:55:54
    since.open(None)
    assert messages(drain(since)) == ["entry 7", "entry 8", "entry 9"]


def test_filters_units_with_pid1_records_identifiers_and_priority(tmp_path: Path) -> None:
    entries = [
        {"MESSAGE": "own line", "_SYSTEMD_UNIT": "sendmail.service", "SYSLOG_IDENTIFIER": "sendmail", "PRIORITY": "3"},
        {"MESSAGE": "sendmail.service: Main process exited, code=exited, status=71/OSERR", "_PID": "1",
         "_SYSTEMD_UNIT": "init.scope", "UNIT": "sendmail.service", "SYSLOG_IDENTIFIER": "systemd", "PRIORITY": "5"},
        {"MESSAGE": "unrelated", "_SYSTEMD_UNIT": "cron.service", "SYSLOG_IDENTIFIER": "cron", "PRIORITY": "6"},
        {"MESSAGE": "oom", "SYSLOG_IDENTIFIER": "kernel", "PRIORITY": "2"},
    ]
    make_journal(tmp_path / "j", b"".join(export_entry(e, seq=i) for i, e in enumerate(entries)))

    def read(**settings: object) -> list[str]:
        f = follower(tmp_path / "j", **settings)
        f.open(None)
        return messages(drain(f))

    assert read(units=["sendmail.service"]) == ["own line", entries[1]["MESSAGE"]]
    assert read(units=["sendmail.service"], identifiers=["kernel"]) == ["own line", entries[1]["MESSAGE"], "oom"]
    assert read(units=["sendmail.service"], priority=4) == ["own line"]
    assert read(priority=2) == ["oom"]


def test_a_vacuumed_cursor_resumes_at_the_oldest_entry_with_a_gap(tmp_path: Path) -> None:
    j = tmp_path / "j"
    with LiveJournal(j) as live:
        live.write([_wide(i) for i in range(26_000)])  # journal-remote rotates after ~20k of these
    assert len(list(j.glob("*.journal"))) >= 2
    f = follower(j)
    f.open(None)
    got = drain(f)
    assert len(messages(got)) == 26_000
    commit_at(f, got, 100)  # shipped up to entry 100, then shipper stopped
    saved = f.state()
    f.close()
    subprocess.run(["journalctl", f"--directory={j}", "--vacuum-files=1"], check=True, capture_output=True)
    f2 = follower(j)
    gaps = [g for g in f2.open(saved) if isinstance(g, Gap)]
    rest = messages(drain(f2))
    assert rest and rest[0] != "entry 101" and rest[-1] == "entry 25999"
    oldest = int(rest[0].split()[1])
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.since == cursor_time(saved["mark"]["cursor"]) and gap.until is not None and gap.until > gap.since
    assert "vacuumed" in gap.message and "2017-08-30T14:57:27" in gap.message  # entry 100's time
    assert oldest > 101 and len(rest) == 26_000 - oldest


def test_following_a_directory_journal_remote_keeps_appending_to_and_rotating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shipper.sources.journal_writer.REOPEN_ENTRIES", 2_500)  # reopened ~12 times on the way
    j = tmp_path / "j"
    total = 30_000
    with LiveJournal(j) as live:
        f = follower(j)
        live.write([_wide(0)])
        wait_for(lambda: any(j.glob("*.journal")), 30, "the journal file")
        f.open(None)
        seen: list[str] = []

        def write() -> None:
            for start in range(1, total, 1000):
                live.write([_wide(i) for i in range(start, min(start + 1000, total))])

        writer = threading.Thread(target=write)
        writer.start()
        wait_for(lambda: (seen.extend(messages(f.poll(0.0))) or len(seen) >= total), 120, f"{total} entries")
        writer.join()
    assert seen == [f"entry {i}" for i in range(total)]
    assert len(list(j.glob("*.journal"))) >= 2  # it did rotate while followed
    # Reopened at its position (and when the files changed), it holds only the files after it
    assert f.poll(0.0) == []
    assert 1 <= len(f._pins._held) < len(list(j.glob("*.journal")))


def test_only_files_that_can_hold_later_entries_are_opened(tmp_path: Path) -> None:
    """Archived files whose entries all come before the position are left out; the active file and
    the position's own file are kept."""
    j = tmp_path / "j"
    with LiveJournal(j) as live:
        for start in range(0, 45_000, 1000):
            live.write([_wide(i) for i in range(start, start + 1000)])
        wait_for(lambda: len(list(j.glob("*.journal"))) >= 3, 60, "two rotations")
    names = {p.name: p.stat().st_ino for p in j.glob("*.journal")}
    f = follower(j)
    f.open(None)
    held = {ino for _, ino in f._pins._held}
    assert held == set(names.values())  # from the first entry on every file is needed
    got = drain(f)
    assert len(messages(got)) == 45_000
    commit_at(f, got, 30_000)
    saved = f.state()
    f.close()
    again = follower(j)
    again.open(saved)
    assert messages(drain(again))[0] == "entry 30001"
    held = {ino for _, ino in again._pins._held}
    assert len(names) >= 3 and 1 <= len(held) < len(names)
    assert names["remote.journal"] in held  # the file being written is always kept


def _wide(i: int) -> dict[str, str]:
    """An entry with a few unique fields (as real ones have: PIDs, invocation ids, ...)."""
    return {"MESSAGE": f"entry {i}", "SYSLOG_IDENTIFIER": "feeder", "_PID": str(1000 + i),
            **{f"X_F{k}": f"{k}-{i}" for k in range(6)}}


def test_a_rotation_is_followed_when_only_some_files_are_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader has a list of files open, not the directory: the file journal-remote opens when
    it rotates must be noticed without waiting for the next reopen, and as soon as a poll finds
    nothing new (not `LIST_EVERY` later: meanwhile a busy journal is not read)."""
    monkeypatch.setattr("shipper.sources.journal_writer.REOPEN_ENTRIES", 2_000)
    monkeypatch.setattr("shipper.sources.follow.LIST_EVERY", 3600)
    j = tmp_path / "j"
    with LiveJournal(j) as live:
        live.write([_wide(i) for i in range(3000)])
        wait_for(lambda: any(j.glob("*.journal")), 30, "the journal file")
        f = follower(j)
        f.open(None)
        seen = messages(drain(f))
        wait_for(lambda: (seen.extend(messages(f.poll(0.0))) or len(seen) >= 3000), 60, "the first entries")
        assert f.poll(0.0) == []
        monkeypatch.setattr("shipper.sources.journal_writer.REOPEN_ENTRIES", 10**9)  # no more periodic reopening
        before = len(list(j.glob("*.journal")))
        for start in range(3000, 40_000, 1000):
            live.write([_wide(i) for i in range(start, start + 1000)])
            seen += messages(drain(f))
        wait_for(lambda: (seen.extend(messages(f.poll(0.0))) or len(seen) >= 40_000), 60, "entries after the rotation")
    assert len(list(j.glob("*.journal"))) > before  # it rotated while followed
    assert seen == [f"entry {i}" for i in range(40_000)]


def test_reading_without_the_c_reader_works_and_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shipper.sources.follow as follow_module
    import shipper.sources.journal_entries as journal_module

    make_journal(tmp_path / "j", plain(10))
    logs: list[str] = []
    assert follower(tmp_path / "j", logs).open(None) == [] and logs == []  # built here: nothing to say
    monkeypatch.setattr(follow_module, "native_reader", lambda: None)
    monkeypatch.setattr(journal_module, "native_reader", lambda: None)
    f = follower(tmp_path / "j", logs)
    assert f.open(None) == []
    assert messages(drain(f)) == [f"entry {i}" for i in range(10)]
    assert len(logs) == 1 and "the journal is read in Python" in logs[0] and "libsystemd-dev" in logs[0]


def test_building_documents_without_the_c_builder_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shipper.sources.follow as follow_module

    make_journal(tmp_path / "j", plain(3))
    logs: list[str] = []
    monkeypatch.setattr(follow_module, "NATIVE", False)
    assert follower(tmp_path / "j", logs).open(None) == []
    assert len(logs) == 1 and "become documents in Python" in logs[0] and "Python headers" in logs[0]
