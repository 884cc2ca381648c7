"""Following a journal whose files come and go (a directory missing, removed, vacuumed while it is
read), and whose writers' entries do not arrive in the order they sort in (a host's late upload, a
boot whose clock is behind): real journal files by systemd-journal-remote, the follower driven as
the daemon drives it (restarts from its saved state), and the daemon itself."""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from shipper.config.model import JournalInput
from shipper.env import Env
from shipper.errors import ExitCode
from shipper.sources.base import Origin, RawChunk
from shipper.sources.follow import JournalFollower
from shipper.sources.journal_dir import JournalFiles, Pins
from shipper.sources.journal_header import cursor_time, read_header
from shipper.sources.journal_writer import Writer
from shipper.sources.live import Gap, JournalMark
from tests.helpers.daemon import DaemonProcess, LiveJournal, wait_for, write_config
from tests.helpers.follow import KEY, archive, commit_read, drain, follower, messages, restarted
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)


def entries(n: int, start: int = 0, text: str = "entry", **fields: str) -> bytes:
    return b"".join(export_entry({"MESSAGE": f"{text} {i}", "SYSLOG_IDENTIFIER": "t", "_PID": "7", **fields}, seq=i)
                    for i in range(start, start + n))


def wide(i: int) -> dict[str, str]:
    """An entry with a few unique fields: systemd-journal-remote rotates after ~21,845 of them."""
    return {"MESSAGE": f"entry {i}", "SYSLOG_IDENTIFIER": "feeder", "_PID": str(1000 + i),
            **{f"X_F{k}": f"{k}-{i}" for k in range(6)}}


def rotated_journal(j: Path, n: int) -> None:
    """``n`` entries of one writer in ``j``: archived files and the active ``remote.journal``."""
    with LiveJournal(j) as live:
        for start in range(0, n, 1000):
            live.write([wide(i) for i in range(start, min(start + 1000, n))])
    assert len(live.files()) >= 2


# -- 1. start: tail on an empty journal -------------------------------------------------------------
def test_tail_on_an_empty_journal_reads_everything_that_comes_after_the_start(tmp_path: Path) -> None:
    j = tmp_path / "j"
    j.mkdir()
    f = follower(j, start="tail")
    assert f.open(None) == []
    make_journal(j, entries(5))
    assert messages(drain(f)) == [f"entry {i}" for i in range(5)]


def test_tail_is_applied_once_a_restart_resumes_where_the_first_run_was(tmp_path: Path) -> None:
    """Stopped before anything was read (or acknowledged): the entries written meanwhile came
    after the start, and are read at the restart (not skipped by applying `tail` again)."""
    j = tmp_path / "j"
    j.mkdir()
    f = follower(j, start="tail")
    f.open(None)
    make_journal(j, entries(5, text="while stopped"))
    again, opened = restarted(f, j, start="tail")
    assert opened == []
    assert messages(drain(again)) == [f"while stopped {i}" for i in range(5)]


def test_daemon_with_tail_on_an_empty_directory_ships_all_that_comes_also_across_a_restart(tmp_path: Path) -> None:
    """The tester's scenario: five entries after the start, five while stopped, five after the restart."""
    j = tmp_path / "journal"
    j.mkdir()
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": [{"type": "journal", "path": str(j), "start": "tail"}],
        "parse": {"timezone": "UTC"}, "run": {"batch_wait": "100ms"}})

    def stored() -> list[str]:
        db = tmp_path / "state" / "events.db"
        if not db.exists():
            return []
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return [m for (m,) in con.execute("SELECT message FROM events ORDER BY ts, rowid")]
        except sqlite3.OperationalError:  # the schema is not there yet
            return []
        finally:
            con.close()

    def started(daemon: DaemonProcess) -> bool:
        return "shipper: running" in daemon.output()

    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: started(daemon), 60, "the daemon to start")
        make_journal(j, entries(5, text="first run"))
        wait_for(lambda: len(stored()) >= 5, 60, "the first five")
        assert daemon.stop() == 0
    make_journal(j, entries(5, 10, text="while stopped"))
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: len(stored()) >= 10, 60, "the entries written while it was stopped")
        make_journal(j, entries(5, 20, text="second run"))
        wait_for(lambda: len(stored()) >= 15, 60, "the entries after the restart")
        assert daemon.stop() == 0
    assert stored() == ([f"first run {i}" for i in range(5)] + [f"while stopped {i}" for i in range(10, 15)]
                        + [f"second run {i}" for i in range(20, 25)])


# -- 2. the directory removed while it is followed ------------------------------------------------------
def test_a_directory_removed_while_read_is_read_to_its_end_then_waited_for(tmp_path: Path) -> None:
    """Removed with entries still to read (past `REOPEN_ENTRIES`: the reader is opened again on the
    way), then made again: nothing is lost, it is said once that it is gone, and the new files are read."""
    j = tmp_path / "j"
    make_journal(j, entries(12_000))
    logs: list[str] = []
    f = follower(j, logs)
    f.open(None)
    seen = messages(f.poll(0.0))
    shutil.rmtree(j)
    seen += messages(drain(f))
    assert seen == [f"entry {i}" for i in range(12_000)]
    for _ in range(3):
        assert f.poll(0.0) == []
    gone = [line for line in logs if "is not there" in line]
    assert len(gone) == 1 and str(j) in gone[0] and "waiting for it" in gone[0]
    make_journal(j, entries(5, 20_000, text="new"))
    assert messages(drain(f)) == [f"new {i}" for i in range(20_000, 20_005)]
    assert any("is there" in line for line in logs[logs.index(gone[0]):])


# -- 3. the directory missing at the start -------------------------------------------------------------
def test_a_directory_missing_at_the_first_start_is_waited_for_and_read_from_its_start(tmp_path: Path) -> None:
    """What it holds once it is there came after the start (also with `start: tail`); a restart
    meanwhile keeps it so."""
    j = tmp_path / "j"
    logs: list[str] = []
    f = follower(j, logs, start="tail")
    assert f.open(None) == [] and f.poll(0.0) == []
    assert len(logs) == 1 and f"the journal directory {j} is not there; waiting for it" in logs[0]
    again, opened = restarted(f, j, start="tail")
    assert opened == []
    make_journal(j, entries(5))
    assert messages(drain(again)) == [f"entry {i}" for i in range(5)]


def test_positions_are_kept_while_the_directory_is_missing_at_a_restart(tmp_path: Path) -> None:
    j = tmp_path / "j"
    make_journal(j, entries(10))
    f = follower(j)
    f.open(None)
    commit_read(f, drain(f))
    moved = tmp_path / "elsewhere"
    j.rename(moved)
    again, opened = restarted(f, j)
    assert opened == [] and again.poll(0.0) == []
    third, opened = restarted(again, j)  # a restart while it is still missing
    moved.rename(j)
    make_journal(j, entries(3, 10))
    assert opened == [] and messages(drain(third)) == ["entry 10", "entry 11", "entry 12"]


def test_validate_says_that_run_waits_for_a_missing_journal_directory(env: Env, tmp_path: Path) -> None:
    from shipper.commands import validate

    cfg = write_config(tmp_path / "shipper.yml", {"state_dir": str(tmp_path / "state"),
                                                   "inputs": [{"type": "journal", "path": str(tmp_path / "nothing")}]})
    assert validate.run(argparse.Namespace(config=cfg), env) == ExitCode.OK
    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert f"note: the journal directory {tmp_path / 'nothing'} is not there: shipper run waits for it" in out


# -- 4. a file vacuumed while it is read ------------------------------------------------------------------
def test_a_file_vacuumed_while_it_is_read_is_read_to_its_end(tmp_path: Path) -> None:
    """journald deletes the oldest archived file while shipper is behind: the follower holds it
    open and reads it to its end (sd_journal opens no deleted file again: it is not reopened meanwhile)."""
    j = tmp_path / "j"
    rotated_journal(j, 26_000)
    f = follower(j)
    f.open(None)
    seen: list[str] = []
    while len(seen) < 11_000:
        seen += messages(f.poll(0.0))
    archived = [p for p in j.glob("*.journal") if p.name != "remote.journal"]
    for path in archived:
        path.unlink()
    got = drain(f)
    seen += messages(got)
    assert not [g for g in got if isinstance(g, Gap)]
    assert seen == [f"entry {i}" for i in range(26_000)]
    assert f.poll(0.0) == [] and len(f._pins._held) == 1  # read: let go of


def test_a_file_deleted_before_it_could_be_opened_is_a_gap_naming_it_and_its_span(tmp_path: Path) -> None:
    """Vacuumed between the listing and the reader's opening (the next listing says it is gone)."""
    j = tmp_path / "j"
    rotated_journal(j, 23_000)
    files = JournalFiles(j)
    listed, _ = files.listing()
    assert listed is not None
    (archived,) = [f for f in listed if f.finished]
    writer = Writer(archived.header.seqnum_id, Origin("t/w", "journal"), JournalInput(type="journal", path=j),
                    Pins(), f"the journal in {j}")
    writer.update(listed)
    Path(archived.path).unlink()
    writer.place(None, "head")
    errors: list[str] = []
    assert writer.read(10, errors)[0]["MESSAGE"] == "entry 21845" and errors == []
    assert writer.take_gaps() == []
    writer.update(files.listing()[0] or [])
    (gap,) = writer.take_gaps()
    assert archived.path in gap.message and "may be missing" in gap.message
    assert gap.until == archived.header.tail_realtime / 1e6 and "2017-08-30T20:59:51" in gap.message  # entry 21844


# -- 5. the vacuum gap starts at what was shipped ------------------------------------------------------------
def test_the_gap_of_a_journal_vacuumed_while_stopped_starts_at_the_last_entry_shipped(tmp_path: Path) -> None:
    """The position resumes before what was shipped (ids are counted over 16 seconds): the gap
    says from when entries may be missing, the last entry the output acknowledged."""
    j = tmp_path / "j"
    rotated_journal(j, 26_000)
    f = follower(j)
    f.open(None)
    got = drain(f)
    (sid,) = {c.origin.source_id for c in got if isinstance(c, RawChunk)}
    read = [e for c in got if isinstance(c, RawChunk) for e in c.items]
    f.commit(sid, JournalMark(read[100]["__CURSOR"], "2017-08-30T14:57:27.000000Z", shipped=read[116]["__CURSOR"]))
    subprocess.run(["journalctl", f"--directory={j}", "--vacuum-files=1"], check=True, capture_output=True)
    again, opened = restarted(f, j)
    (gap,) = [g for g in opened if isinstance(g, Gap)]
    assert gap.since == cursor_time(read[116]["__CURSOR"]) == 1_504_104_947 + 116
    assert "(2017-08-30T14:57:43.000000Z)" in gap.message and "14:57:27" not in gap.message
    rest = messages(drain(again))
    assert rest[0] == "entry 21845" and rest[-1] == "entry 25999"


# -- 6. writers whose entries sort before what was read ---------------------------------------------------------
def host(name: str, boot: str, n: int, start: int = 0) -> bytes:
    return b"".join(export_entry({"MESSAGE": f"{name} {i}", "SYSLOG_IDENTIFIER": "app", "_PID": "7",
                                  "_BOOT_ID": boot * 32, "_HOSTNAME": name}, seq=i) for i in range(start, start + n))


def test_a_hosts_late_upload_is_read_though_it_sorts_before_what_was_read(tmp_path: Path) -> None:
    """systemd-journal-remote, one file per host: host B's entries of seconds 5-19 arrive after
    host A's of seconds 0-19 were read. Each writer has its own position, across restarts too."""
    j = tmp_path / "j"
    make_journal(j, host("hosta", "a", 20), name="remote-hosta")
    make_journal(j, host("hostb", "b", 5), name="remote-hostb")
    f = follower(j)
    f.open(None)
    got = drain(f)
    assert sorted(messages(got)) == sorted([f"hosta {i}" for i in range(20)] + [f"hostb {i}" for i in range(5)])
    commit_read(f, got)
    make_journal(j, host("hostb", "b", 15, 5), name="remote-hostb")
    late = drain(f)
    assert messages(late) == [f"hostb {i}" for i in range(5, 20)]
    commit_read(f, late)
    again, opened = restarted(f, j)
    assert opened == [] and again.poll(0.0) == []
    make_journal(j, host("hosta", "a", 5, 20), name="remote-hosta")
    make_journal(j, host("hostb", "b", 2, 20), name="remote-hostb")
    assert sorted(messages(drain(again))) == ["hosta 20", "hosta 21", "hosta 22", "hosta 23", "hosta 24",
                                              "hostb 20", "hostb 21"]
    assert {s.split("/")[0] for s in again._by_sid} == {KEY} and len(again._by_sid) == 2


def test_a_boot_whose_clock_is_behind_is_read_in_its_new_file_also_after_a_restart(tmp_path: Path) -> None:
    """The next boot (no RTC) writes entries a day earlier than the last ones read, to a new file
    after a rotation: they are read, and a restart reads each writer on from its own position."""
    j = tmp_path / "j"
    make_journal(j, entries(20, text="boot A"), name="system")
    f = follower(j)
    f.open(None)
    commit_read(f, drain(f))
    archive(j / "system.journal")
    day = 86_400_000_000
    behind = b"".join(export_entry({"MESSAGE": f"boot B {i}", "SYSLOG_IDENTIFIER": "t", "_PID": "7",
                                    "_BOOT_ID": "b" * 32,
                                    "__REALTIME_TIMESTAMP": str(1_504_104_947_000_000 - day + i * 1_000_000)}, seq=i)
                      for i in range(20))
    make_journal(j, behind, name="system")
    ids = {read_header(str(p)).seqnum_id for p in j.glob("*.journal")}  # type: ignore[union-attr]
    assert len(ids) == 2  # the new file has a writer of its own (sd_journal orders the two by time)
    got = drain(f)
    assert messages(got) == [f"boot B {i}" for i in range(20)]
    commit_read(f, got[:1])  # acknowledged: boot B's first chunk only
    again, opened = restarted(f, j)
    assert opened == [] and messages(drain(again)) == []  # (all 20 were in that chunk)


def test_a_restart_reads_again_what_one_writer_had_not_acknowledged_only(tmp_path: Path) -> None:
    j = tmp_path / "j"
    make_journal(j, host("hosta", "a", 10), name="remote-hosta")
    make_journal(j, host("hostb", "b", 10), name="remote-hostb")
    f = follower(j)
    f.open(None)
    got = drain(f)
    commit_read(f, [c for c in got if isinstance(c, RawChunk) and c.items[0]["MESSAGE"].startswith("hosta")])
    again, _ = restarted(f, j)
    assert messages(drain(again)) == [f"hostb {i}" for i in range(10)]


def test_a_checkpoint_with_one_cursor_resumes_its_writer_after_it_and_the_others_from_its_time(tmp_path: Path) -> None:
    """Checkpoints of earlier versions hold one cursor for the whole directory."""
    j = tmp_path / "j"
    make_journal(j, host("hosta", "a", 20), name="remote-hosta")
    make_journal(j, host("hostb", "b", 20), name="remote-hostb")
    f = follower(j)
    f.open(None)
    read = [e for c in f.poll(0.0) if isinstance(c, RawChunk) for e in c.items]
    cursor = next(e["__CURSOR"] for e in read if e["MESSAGE"] == "hosta 9")
    f.close()
    again = follower(j)
    assert again.open({"mark": {"cursor": cursor, "time": "2017-08-30T14:55:56.000000Z"}}) == []
    expected = [f"hosta {i}" for i in range(10, 20)] + [f"hostb {i}" for i in range(9, 20)]  # hostb 9: at its time
    assert sorted(messages(drain(again))) == sorted(expected)
    assert again.state()["writers"] and again.state()["mark"]["cursor"]


# -- the local journal ----------------------------------------------------------------------------------------
def test_the_local_journal_is_this_machines_directory_under_run_and_var(tmp_path: Path) -> None:
    mine, other = "1" * 32, "2" * 32
    make_journal(tmp_path / "var" / mine, entries(3, text="persistent"), name="system")
    make_journal(tmp_path / "run" / mine, entries(2, 10, text="volatile"), name="system")
    make_journal(tmp_path / "var" / other, entries(2, text="a container"), name="system")
    files = JournalFiles(None, roots=(str(tmp_path / "run"), str(tmp_path / "var")), machine_id=mine)
    logs: list[str] = []
    f = JournalFollower(JournalInput(type="journal"), "journal-local", log=logs.append, files=files)
    assert f.label == "journal" and f.open(None) == []
    assert sorted(messages(drain(f))) == ["persistent 0", "persistent 1", "persistent 2", "volatile 10", "volatile 11"]
    assert mine in files.describe() and str(tmp_path / "run") in files.describe()


# -- files sd_journal cannot open ---------------------------------------------------------------------------
def test_a_file_sd_journal_cannot_open_is_a_read_error_said_once_and_the_others_are_read(tmp_path: Path) -> None:
    """A file with a header flag this systemd does not know (written by a newer one): left out,
    said once as a read error; the rest of the journal is read, and the follower goes on."""
    j = tmp_path / "j"
    make_journal(j, host("hosta", "a", 3), name="remote-hosta")
    newer = make_journal(j, host("hostb", "b", 3), name="remote-hostb")
    with open(newer, "r+b") as f:
        f.seek(12)  # incompatible_flags (le32): a bit no systemd has defined
        f.write((1 << 30).to_bytes(4, "little"))
    f = follower(j)
    f.open(None)
    got = drain(f)
    errors = [e["MESSAGE"] for c in got if isinstance(c, RawChunk) for i, e in enumerate(c.items) if i in c.tags]
    assert sorted(m for m in messages(got) if m not in errors) == ["hosta 0", "hosta 1", "hosta 2"]
    assert len(errors) == 1 and str(newer) in errors[0] and "cannot read the journal file" in errors[0]
    for _ in range(3):
        assert f.poll(0.0) == []
