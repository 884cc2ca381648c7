"""A worker that reads a journal segment short (a reader that stopped early, or that started past
the segment's first entry): the main process notices by the number of entries it read, and does
the segment again, so the output is still one process's. A damaged file, whose entries sd_journal
passes over silently, makes segments hold fewer entries than they count: not done again for that."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest

from shipper.parallel import replay as parallel_replay
from shipper.parallel import work
from shipper.sources.journal import JournalFile, JournalSource
from shipper.sources.journal_segments import Segment, read_in_full
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal
from tests.unit.test_journal_damaged_segments import damaged_journal
from tests.unit.test_parallel_replay import journal_in_parallel, journal_one_process, small_segments  # noqa: F401

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

ENTRIES = 1000  # with `small_segments`: segments of 300 entries, three of them with an end, and the rest


def _journal(directory: Path) -> Path:
    """Entries one second apart, each its own message: no block is done again for its ids."""
    entries = [export_entry({"MESSAGE": f"line {i}", "SYSLOG_IDENTIFIER": "app"}, seq=i) for i in range(ENTRIES)]
    return make_journal(directory, b"".join(entries))


def _in_workers_only(read: Callable[..., Any], change: Callable[[Segment], Segment]) -> Callable[..., Any]:
    """``read`` (`segment_chunks` or `segment_packs`) given ``change(segment)`` in the worker
    processes (forked with the patch), the segment itself in this one (where blocks are done again)."""
    main = os.getpid()

    def patched(origin: Any, seg: Segment, *args: Any) -> Any:
        return read(origin, change(seg) if os.getpid() != main else seg, *args)

    return patched


def _short(seg: Segment) -> Segment:
    """A reader that stops early: half of the segment's entries (the last segment is left whole)."""
    return seg if seg.count is None else replace(seg, count=seg.count // 2)


@pytest.mark.usefixtures("small_segments")
def test_a_segment_a_worker_read_short_is_done_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "journal"
    _journal(directory)
    expected, seq = journal_one_process(directory)
    for name in ("segment_chunks", "segment_packs"):
        monkeypatch.setattr(work, name, _in_workers_only(getattr(work, name), _short))
    got, par = journal_in_parallel(directory)
    assert par.counters["read"] == seq.counters["read"] == ENTRIES
    assert got == expected
    assert par.counters["reruns"] == ENTRIES // 300  # each segment with an end, read short by its worker


@pytest.mark.usefixtures("small_segments")
def test_a_damaged_journal_makes_no_segment_a_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cut counts by number the entries sd_journal passes over: the damaged segments hold fewer
    entries than they count, and a reader stepped over those the worker read lands on their end."""
    directory = tmp_path / "journal"
    damaged_journal(directory, lambda i: {"MESSAGE": f"line {i}", "SYSLOG_IDENTIFIER": "app"}, 3000)
    checked: list[tuple[int | None, int, bool]] = []

    def spy(seg: Segment, read: int) -> bool:
        whole = read_in_full(seg, read)
        checked.append((seg.count, read, whole))
        return whole

    monkeypatch.setattr(parallel_replay, "read_in_full", spy)
    expected, seq = journal_one_process(directory)
    got, par = journal_in_parallel(directory)
    assert got == expected
    assert seq.counters["read"] < 3000  # entries sd_journal cannot read
    short = [(count, read) for count, read, whole in checked if count is not None and read < count]
    assert short  # segments that hold fewer entries than they count
    assert all(whole for _, _, whole in checked)
    assert par.counters["reruns"] == 0


def test_a_reader_stepped_over_the_entries_read_tells_a_short_read(tmp_path: Path) -> None:
    path = _journal(tmp_path / "journal")
    source = JournalSource("test", [JournalFile(str(path), False)])
    try:
        first, second = list(source.segments(300, 16))[:2]
        assert first.after is None and second.after is not None and first.count == second.count == 300
        for seg in (first, second):
            assert read_in_full(seg, 300)
            counted = replace(seg, count=310)  # as if 10 more entries were numbered, which sd_journal passes over
            assert read_in_full(counted, 300)  # a reader 300 entries on is on the segment's last one
            assert not any(read_in_full(counted, n) for n in (299, 150, 1, 0))
        assert read_in_full(replace(second, count=None, until=None), 0)  # the rest: no end to compare with
    finally:
        source.close()
