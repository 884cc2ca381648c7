"""A damaged journal file in a parallel replay: sd_journal passes over the entries it cannot read,
while the segments are cut by the numbers in the headers, which count them. Each segment ends at
its last entry (not after its count), so that every entry is replayed once, as by one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import orjson
import pytest

from shipper.sources.base import RawChunk
from shipper.sources.journal import JournalFile, JournalSource
from shipper.sources.journal_entries import incomplete_count, journal_module, native_reader, read_entries
from shipper.sources.journal_numbers import numbering
from shipper.sources.journal_segments import SegmentReaders, segment_chunks, segment_packs
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal
from tests.unit.test_parallel_replay import journal_in_parallel, journal_one_process, small_segments  # noqa: F401

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

SIZE, WARM = 300, 16
DAMAGED = 450  # the first entry that cannot be read, inside the second segment


def damaged_journal(directory: Path, fields: Callable[[int], dict[str, str]], n: int, damage: int = 1024) -> Path:
    """A journal of ``n`` entries, each with a field ``SEQ``, in which ``damage`` bytes from the
    entry `DAMAGED`'s ``SEQ`` on are overwritten: sd_journal passes over that entry and some after it."""
    path = make_journal(directory, b"".join(export_entry({**fields(i), "SEQ": f"{i:05}"}, seq=i) for i in range(n)))
    data = bytearray(path.read_bytes())
    at = data.index(f"SEQ={DAMAGED:05}".encode())
    data[at:at + damage] = b"\xaa" * damage
    path.write_bytes(data)
    return path


def cursors_in_one_reader(path: Path) -> list[str]:
    reader = journal_module()._Reader(0, None, [str(path)])
    try:
        reader.seek_head()
        return [str(entry["__CURSOR"]) for items, _ in read_entries(reader, []) for entry in items]
    finally:
        reader.close()


def chunk_cursors(chunks: Any) -> list[str]:
    return [str(entry["__CURSOR"]) for chunk in chunks for entry in chunk.items]


def pack_cursors(packs: Any) -> list[str]:
    """(a batch with entries that lost a field comes unpacked, tagged: `segment_packs`)"""
    return [str(entry["__CURSOR"]) for p in packs
            for entry in (p.items if isinstance(p, RawChunk) else native_reader().unpack(p.data, 0, len(p.data)))]


@pytest.mark.parametrize("damage", [1024, 16384])
@pytest.mark.parametrize("warm", [True, False], ids=["warmed-up", "exact"])  # exact: a job done again
@pytest.mark.parametrize("read, cursors", [(segment_chunks, chunk_cursors), (segment_packs, pack_cursors)],
                         ids=["chunks", "packs"])
def test_each_entry_is_in_one_segment(tmp_path: Path, read: Any, cursors: Callable[[Any], list[str]], warm: bool,
                                      damage: int) -> None:
    """One reader kept for all the segments (one worker), which steps back to each segment's
    warm-up: past 16 KiB of damage, sd_journal's reader no longer finds the entries before it."""
    if read is segment_packs and native_reader() is None:
        pytest.skip("the C reader of entries was not built")
    path = damaged_journal(tmp_path, lambda i: {"MESSAGE": f"line {i}", "SYSLOG_IDENTIFIER": "app"}, 3000, damage)
    expected = cursors_in_one_reader(path)
    assert 2600 < len(expected) < 3000  # some entries cannot be read
    assert numbering([str(path)]) is not None  # the headers still number them all: the cut counts them
    source = JournalSource("test", [JournalFile(str(path), False)])
    readers = SegmentReaders()
    got: list[str] = []
    errors: list[str] = []
    try:
        for seg in source.segments(SIZE, WARM):
            _, rest = read(source.origin, seg, warm, errors, readers)
            got += cursors(rest)
    finally:
        readers.close()
        source.close()
    assert got == expected
    # (entries that lost a field in the damage are said: `journal_entries.Entries`)
    assert [e for e in errors if not incomplete_count(e)] == source.errors == []


def test_a_damaged_journal_gives_in_parallel_what_one_process_gives(
        small_segments: None, tmp_path: Path) -> None:  # noqa: F811 - the fixture, imported
    """1,000 entries a second, the same messages again within a second: segments are done again
    in the main process from the exact state (`ParallelReplay._take`), the damaged one too."""
    directory = tmp_path / "journal"
    damaged_journal(directory, lambda i: {"MESSAGE": f"tick {i % 7}", "_PID": "42", "SYSLOG_IDENTIFIER": "app",
                                          "__REALTIME_TIMESTAMP": str(1_504_104_947_000_000 + i * 1000)}, 3000)
    expected, seq = journal_one_process(directory)
    got, par = journal_in_parallel(directory)
    cursors = [doc["journald"]["cursor"] for line in got.splitlines() if "journald" in (doc := orjson.loads(line))]
    assert len(set(cursors)) == len(cursors) == seq.counters["read"] - seq.counters["read_errors"] < 3000
    assert got == expected
    assert par.counters["reruns"] >= 1
