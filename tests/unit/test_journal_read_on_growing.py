"""A journal file that is written while it is read: where the reading reaches its end, the readers
that read on (`shipper.sources.journal_resume`) pass over no entry written meanwhile, and say no
read error.

Before, a new reader that found no entry after the last one read was taken as stuck at a damaged
entry, and the next one tried was placed one entry further (`Resume._stepped`): when the writer
appended entries between the two, the first of them was never read, and a read error named a
damaged file. `test_parallel_live` met it 1 run in 5 under load (the last segment of a parallel
replay, and one process's reading, read on this way)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from shipper.sources.export import Fields
from shipper.sources.journal_entries import journal_module, read_entries
from shipper.sources.journal_resume import read_on
from tests.helpers.daemon import LiveJournal
from tests.helpers.journal import JOURNAL_REMOTE

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

FIRST = 100


def _entries(start: int, stop: int) -> list[dict[str, str]]:
    return [{"MESSAGE": f"entry {i}", "SEQ": str(i)} for i in range(start, stop)]


def _written(path: Path, count: int) -> None:
    """Wait until the file's header counts ``count`` entries (systemd-journal-remote wrote them)."""
    deadline = time.monotonic() + 30
    while not (path.exists() and int.from_bytes(path.read_bytes()[152:160], "little") == count):
        assert time.monotonic() < deadline, "systemd-journal-remote did not write the entries in time"
        time.sleep(0.02)


@pytest.mark.parametrize("grown", [{2: 150}, {2: 150, 3: 200}], ids=["once", "twice"])
def test_entries_written_when_the_reading_is_at_the_end_are_all_read(tmp_path: Path, grown: dict[int, int]) -> None:
    """The writer appends entries once a reader is done (``grown``: after the n-th reading, up to
    so many entries): the 2nd is the first new reader that reads on after the end, placed after
    the last entry read, and finds none; the 3rd the one tried next, which reads on to the end."""
    with LiveJournal(tmp_path / "journal") as live:
        path = tmp_path / "journal" / "remote.journal"
        live.write(_entries(0, FIRST))
        _written(path, FIRST)
        readings = 0

        def read(reader: Any, errors: list[str], limit: int | None) -> Iterator[tuple[list[Fields], str | None]]:
            nonlocal readings
            batches = list(read_entries(reader, errors, limit))
            readings += 1
            if readings in grown:  # before the next reader is opened
                live.write(_entries(live.written, grown[readings]))
                _written(path, grown[readings])
            yield from batches

        errors: list[str] = []
        reader = journal_module()._Reader(0, None, [str(path)])
        try:
            reader.seek_head()
            seqs = [int(str(entry["SEQ"])) for items, _ in read_on([str(path)], reader, read, lambda b: b[1], errors, None)
                    for entry in items]
        finally:
            reader.close()
    assert seqs == list(range(max(grown.values())))
    assert errors == []
