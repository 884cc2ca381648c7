"""A journal read with a new sd_journal reader every `REOPEN_ENTRIES` entries: the same entries in
the same order and chunks as with one reader, and the files' pages do not pile up in memory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import zstandard

import shipper.sources.journal as journal_source
import shipper.sources.journal_entries as journal_entries
from shipper.sources import journal_open, journal_segments
from shipper.sources.journal import JournalFile, JournalSource
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal
from tests.helpers.sources import read_all

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

NO_RTC = Path(__file__).resolve().parents[1] / "data/corpus/real/systemd/no-rtc"


def _reopens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the cursor of every reopening (the real `reopen_after` still does the work)."""
    calls: list[str] = []
    real = journal_source.reopen_after

    def spy(paths: list[str], cursor: str) -> Any:
        calls.append(cursor)
        return real(paths, cursor)

    monkeypatch.setattr(journal_source, "reopen_after", spy)
    return calls


def test_the_corpus_journals_read_the_same_with_a_new_reader_after_every_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven files interleaved by time, with entries stored twice that the reader skips."""
    files = []
    for packed in sorted(NO_RTC.iterdir()):
        plain = tmp_path / packed.name.removesuffix(".zst")
        with packed.open("rb") as src, plain.open("wb") as dst:
            zstandard.ZstdDecompressor().copy_stream(src, dst)
        files.append(JournalFile(str(plain), compressed=False))
    one_reader = read_all(JournalSource("journal:x", files))

    reopens = _reopens(monkeypatch)
    monkeypatch.setattr(journal_open, "REOPEN_ENTRIES", 1)
    reopened = read_all(JournalSource("journal:x", files))

    assert len(one_reader.items) == 10757 + 2  # and two read errors: three of the files are damaged
    assert reopened.items == one_reader.items  # cursors included: the same entries, in order
    assert [(c.checkpoint, c.progress) for c in reopened.chunks] == [
        (c.checkpoint, c.progress) for c in one_reader.chunks
    ]
    assert reopens == [c.checkpoint for c in one_reader.chunks[:-2]]  # after every chunk but the last (and the errors)


def _resident_bytes(path: Path) -> int:
    """Resident memory of this process's mappings of ``path`` (what sd_journal has mapped)."""
    inode = os.stat(path).st_ino
    total, ours = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5 and head[4].isdigit():  # a mapping's first line
                ours = int(head[4]) == inode
            elif ours and line.startswith("Rss:"):
                total += int(line.split()[1]) * 1024
    return total


def _peak_resident(path: Path) -> tuple[int, int]:
    source = JournalSource("journal:x", [JournalFile(str(path), compressed=False)])
    peak = entries = 0
    for chunk in source.chunks():
        entries += len(chunk.items)
        peak = max(peak, _resident_bytes(path))
    source.close()
    return peak, entries


def test_the_mapped_pages_stay_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """40,000 sendmail entries (25 MB): one reader ends with most of what it read resident; a new
    reader every 10,000 entries keeps a fraction of it."""
    if not Path("/proc/self/smaps").exists():
        pytest.skip("needs /proc/self/smaps")
    export = b"".join(
        export_entry(
            {
                "MESSAGE": f"r5I9Yc{i:06d}: to=<ops@example.com>, delay=00:00:01, mailer=esmtp, "
                "relay=smtp.example.com. [192.0.2.10], dsn=2.0.0, stat=Sent (Message queued)",
                "SYSLOG_IDENTIFIER": "sendmail",
                "_PID": str(1000 + i // 500),  # a process lives for a while
                "PRIORITY": "6",
            },
            seq=i,
        )
        for i in range(40_000)
    )
    path = make_journal(tmp_path, export)

    monkeypatch.setattr(journal_open, "REOPEN_ENTRIES", 10**9)
    unbounded, n = _peak_resident(path)
    monkeypatch.setattr(journal_open, "REOPEN_ENTRIES", 10_000)
    bounded, m = _peak_resident(path)

    assert n == m == 40_000
    assert unbounded > 8 << 20  # one reader: the pages read so far stay mapped
    assert bounded < unbounded / 2


def _segments_read(path: Path, segments: list[Any], readers: journal_segments.SegmentReaders) -> list[list[Any]]:
    origin = journal_source.Origin("journal:x", "journal")
    out = []
    for seg in segments:
        before, rest = journal_segments.segment_chunks(origin, seg, True, [], readers)
        out.append([e["__CURSOR"] for c in before for e in c.items] + [e["__CURSOR"] for c in rest for e in c.items])
    return out


def test_a_worker_keeps_its_reader_from_segment_to_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every other segment, as a worker of two gets them: the kept reader, placed by cursor, reads
    what a new reader per segment reads; it is replaced after REOPEN_ENTRIES entries read."""
    path = make_journal(tmp_path, b"".join(export_entry({"MESSAGE": f"m{i}"}, seq=i) for i in range(3000)))
    segments = list(JournalSource("journal:x", [JournalFile(str(path), compressed=False)]).segments(300, 16))
    assert len(segments) == 11  # ten full ones and the rest (empty)
    mine = segments[1::2]

    opened: list[Any] = []
    real = journal_entries.journal_module()._Reader

    def counting_reader(*args: Any) -> Any:
        opened.append(real(*args))
        return opened[-1]

    fresh = []
    for seg in mine:  # a new SegmentReaders each time: a new reader each time
        fresh += _segments_read(path, [seg], journal_segments.SegmentReaders())
    monkeypatch.setattr(journal_entries.journal_module(), "_Reader", counting_reader)
    kept = journal_segments.SegmentReaders()
    assert _segments_read(path, mine, kept) == fresh
    assert [len(c) for c in fresh[:5]] == [316] * 5  # 16 entries of warm-up, then the segment's 300
    assert len(opened) == 1  # 1,580 entries read, below REOPEN_ENTRIES

    monkeypatch.setattr(journal_open, "REOPEN_ENTRIES", 600)
    opened.clear()
    assert _segments_read(path, mine, journal_segments.SegmentReaders()) == fresh
    assert len(opened) == 3  # a new reader once 600 entries were read: after the 2nd and the 4th segment


def test_a_kept_reader_is_let_go_after_a_read_error() -> None:
    readers = journal_segments.SegmentReaders()
    closed: list[bool] = []
    readers._reader = type("Reader", (), {"close": lambda self: closed.append(True)})()
    readers.done(10, failed=False)
    assert closed == [] and readers._read == 10
    readers.done(10, failed=True)
    assert closed == [True] and readers._reader is None
