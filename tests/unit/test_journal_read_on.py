"""Where sd_journal stops reading before the end of a journal's files, a replay says so (read_error
items) and goes on where a new reader can (`shipper.sources.journal_resume`), in one process and in
parallel alike: the same documents, the same read errors.

sd_journal stops silently at a damaged entry array (systemd 252 gives up on the file: "Can't iterate
through …, ignoring", a debug message; journalctl stops there too), and systemd-python's reader
raises at a damaged field. Before, one process ended the input at the stop, silently in the first
case, while a parallel replay read on with its later segments: different documents."""

from __future__ import annotations

from pathlib import Path
import orjson
import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.parallel import express
from shipper.parallel import replay as parallel_replay
from shipper.sources import journal_entries
from shipper.sources.journal import JournalFile, JournalSource
from shipper.sources.journal_entries import journal_module, read_entries
from tests.helpers.journal import JOURNAL_REMOTE
from tests.helpers.journal_damage import damage_entry_array, damage_field, damage_seqnum, numbered_journal
from tests.helpers.sources import read_all
from tests.unit.test_parallel_replay import journal_in_parallel, journal_one_process

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

N = 3000
AT = 2104  # the first entry whose place in the entry array is damaged


def seqs_read_by_sd_journal(path: Path) -> list[int]:
    """What one sd_journal reader gives, from the head to where it stops."""
    reader = journal_module()._Reader(0, None, [str(path)])
    try:
        reader.seek_head()
        return [int(entry["SEQ"]) for items, _ in read_entries(reader, []) for entry in items]
    finally:
        reader.close()


def read_source(path: Path) -> tuple[list[int], list[str]]:
    """The entries (their ``SEQ``) and the read errors of a one-process reading of ``path``."""
    result = read_all(JournalSource("journal:test", [JournalFile(str(path), False)]))
    errors = [str(result.items[i]["MESSAGE"]) for i in result.tagged("read_error")]
    seqs = [int(str(e["SEQ"])) for e in result.items if str(e.get("SEQ", "")).isdigit()]
    return seqs, errors


def read_errors(ndjson: bytes) -> list[str]:
    return [doc["message"] for line in ndjson.splitlines() if "read_error" in (doc := orjson.loads(line)).get("tags", ())]


def test_a_file_sd_journal_gives_up_on_is_read_on_past_the_damage(tmp_path: Path) -> None:
    path = numbered_journal(tmp_path / "journal", N)
    damage_entry_array(path, AT, 16)
    alone = seqs_read_by_sd_journal(path)
    assert alone[:AT] == list(range(AT)) and len(alone) < AT + 20  # sd_journal stops, and says nothing
    seqs, errors = read_source(path)
    assert seqs[:AT] == list(range(AT)) and seqs == sorted(seqs)
    assert seqs[-800:] == list(range(N - 800, N))  # read on past the damage, to the end
    assert len(seqs) > N - 50
    [error] = errors
    stop, went = alone[-1], seqs[len(alone)]  # (entries are numbered from 1: SEQ + 1)
    assert error.startswith("shipper: reading the journal stopped after cursor s=") and f";i={stop + 1:x};" in error
    assert error.endswith(f" (a damaged file) and went on at the entry numbered {went + 1}: the {went - stop - 1} entries "
                          "numbered between them could not be read; journalctl --verify --file FILE says which file is damaged")


@pytest.mark.parametrize("size", [300, 1000, 4000])  # the damage in a middle segment, in the last one, in the only one
def test_a_file_sd_journal_gives_up_on_gives_in_parallel_what_one_process_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", size)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)
    directory = tmp_path / "journal"
    damage_entry_array(numbered_journal(directory, N), AT, 16)
    expected, one = journal_one_process(directory)
    got, par = journal_in_parallel(directory)
    assert got == expected
    assert one.counters["read"] == par.counters["read"] > N - 50
    assert one.counters["read_errors"] == par.counters["read_errors"] == 1
    [error] = read_errors(got)
    assert "went on at the entry numbered" in error


@pytest.mark.parametrize("at, size", [(1500, 300), (1650, 300), (1650, 1000)])  # at a segment's start, in it
def test_a_field_systemd_python_cannot_read_is_left_out_with_its_entry_and_reading_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: int, size: int) -> None:
    """Without the C reader (not built), systemd-python's reader raises at the damaged field: that
    entry is left out, said, and the rest read, in one process and in parallel alike."""
    monkeypatch.setattr(journal_entries, "native_reader", lambda: None)
    monkeypatch.setattr(express, "native_reader", lambda: None)  # (no journal lane without it)
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", size)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)
    directory = tmp_path / "journal"
    path = numbered_journal(directory, N)
    damage_field(path, at)
    seqs, errors = read_source(path)
    assert seqs == [i for i in range(N) if i != at]
    assert len(errors) == 2
    assert errors[0].startswith("shipper: reading the journal stopped after cursor s=") and "field without '='" in errors[0]
    cursor = errors[0].removeprefix("shipper: reading the journal stopped after cursor ").partition(":")[0]
    assert f";i={at:x};" in cursor  # the entry before the damaged one (numbered at + 1)
    assert errors[1] == (f"shipper: reading the journal went on after cursor {cursor}, past the entry after it, which "
                         "could not be read; a file is damaged (journalctl --verify --file FILE says which)")
    expected, one = journal_one_process(directory)
    got, par = journal_in_parallel(directory)
    assert got == expected
    assert read_errors(got) == errors
    assert one.counters["read"] == par.counters["read"] == N - 1 + 2  # (and the two read_error items)


def test_what_no_reader_can_go_on_past_is_said_with_how_many_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry array damaged from the entry `AT` to the end: nothing after it can be found."""
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", 300)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)
    directory = tmp_path / "journal"
    path = numbered_journal(directory, N)
    damage_entry_array(path, AT, N - AT)
    seqs, errors = read_source(path)
    assert seqs == seqs_read_by_sd_journal(path) and seqs[:AT] == list(range(AT)) and len(seqs) < AT + 20
    [error] = errors
    assert error.startswith("shipper: reading the journal stopped after cursor s=")
    assert error.endswith(f", {N - 1 - seqs[-1]} entries before the last one its files' headers give, and no reader could "
                          "go on after it: a file is damaged (journalctl --verify --file FILE says which)")
    expected, _ = journal_one_process(directory)
    got, _ = journal_in_parallel(directory)
    assert got == expected and read_errors(got) == errors


def test_an_entry_whose_number_is_damaged_ends_the_reading_and_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sd_journal orders the entries after it before it: they cannot be reached by number either."""
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", 300)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)
    directory = tmp_path / "journal"
    path = numbered_journal(directory, N)
    damage_seqnum(path, 1500)
    seqs, errors = read_source(path)
    assert seqs == list(range(1501))
    [error] = errors
    assert ";i=ffffffffffffffff;" in error and error.endswith(
        f", whose number is not one of those its files' headers give (1 to {N}): a damaged entry; the entries after it "
        "may not have been read (journalctl --verify --file FILE says which file is damaged)")
    expected, _ = journal_one_process(directory)
    got, _ = journal_in_parallel(directory)
    assert got == expected and read_errors(got) == errors


def test_an_undamaged_journal_says_nothing(tmp_path: Path) -> None:
    seqs, errors = read_source(numbered_journal(tmp_path / "journal", 500))
    assert seqs == list(range(500)) and errors == []


def test_replay_says_where_it_went_on_and_writes_the_same_file_with_workers_or_without(
        env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel_replay, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", 300)
    parallel: list[int] = []
    run = parallel_replay.ParallelReplay.run
    monkeypatch.setattr(parallel_replay.ParallelReplay, "run", lambda self: parallel.append(self.workers) or run(self))
    directory = tmp_path / "journal"
    damage_entry_array(numbered_journal(directory, N), AT, 16)
    written = []
    for workers in ("0", "2"):
        out = tmp_path / f"out-{workers}.ndjson"
        assert main(["replay", "--timezone", "UTC", "--quiet", "--workers", workers, "--output", "ndjson", "-o", str(out),
                     str(directory)], env) == 0
        written.append(out.read_bytes())
    assert parallel == [2]  # (and one process for --workers 0)
    assert written[0] == written[1] and written[0].count(b"\n") > N - 50
    [error] = read_errors(written[0])
    assert "went on at the entry numbered" in error
    assert env.stderr.getvalue().count("replay: warning: 1 read error: ") == 2  # type: ignore[attr-defined]
