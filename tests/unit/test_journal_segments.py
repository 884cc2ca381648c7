"""How a parallel replay cuts a journal into segments: by sequence number
(`shipper.sources.journal_numbers`), the same segments as stepping over the entries, on real
journal files; stepping where the headers cannot be trusted; and a journal that grows while it is
cut, every entry read once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
import zstandard

from shipper.sources import journal_cut, journal_entries
from shipper.sources.journal import JournalFile, JournalSource
from shipper.sources.journal_numbers import Numbering, numbering
from shipper.sources.journal_segments import Segment, SegmentReaders, segment_chunks
from tests.helpers.daemon import LiveJournal
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

NO_RTC = Path(__file__).resolve().parents[1] / "data/corpus/real/systemd/no-rtc"
SIZE, WARM = 300, 16


def entries(n: int, first: int = 0) -> bytes:
    return b"".join(export_entry({"MESSAGE": f"line {i}", "SYSLOG_IDENTIFIER": "app"}, seq=i)
                    for i in range(first, first + n))


@pytest.fixture(scope="module")
def one_writer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,500 entries written by one systemd-journal-remote."""
    return make_journal(tmp_path_factory.mktemp("journal"), entries(2500))


def segments(paths: list[Path], monkeypatch: pytest.MonkeyPatch,
             numbers: Any = "headers") -> tuple[list[Segment], list[str | None]]:
    """The segments of ``paths`` and where the stepping over entries started (the cursor after
    which it stepped: None from the first entry). ``numbers``: what `numbering` says instead of
    the headers (None: step over every entry)."""
    starts: list[str | None] = []
    stepped = journal_cut._stepped

    def watched(paths: tuple[str, ...], size: int, warm: int, after: str | None) -> Iterator[tuple[str | None, str]]:
        starts.append(after)
        return stepped(paths, size, warm, after)

    with monkeypatch.context() as patch:
        patch.setattr(journal_cut, "_stepped", watched)
        if numbers != "headers":
            patch.setattr(journal_cut, "numbering", lambda _paths: numbers)
        source = JournalSource("test", [JournalFile(str(p), False) for p in paths])
        try:
            # (each source pins its files under its own private paths: compared without them)
            return [replace(seg, paths=()) for seg in source.segments(SIZE, WARM)], starts
        finally:
            source.close()


def test_one_writers_file_is_numbered_from_its_header(one_writer: Path) -> None:
    numbers = numbering([str(one_writer)])
    assert numbers is not None and (numbers.head, numbers.count) == (1, 2500)
    assert len(numbers.seqnum_id) == 32


def test_segments_found_by_number_are_those_found_by_stepping(one_writer: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    stepped, _ = segments([one_writer], monkeypatch, numbers=None)
    found, starts = segments([one_writer], monkeypatch)
    assert found == stepped
    assert len(found) == 9 and found[-1].count is None
    assert found[-1].warm == WARM and found[-1].after is not None and found[-1].warm_from is not None
    # Only the entries after the last boundary were stepped over: from the 2,400th on.
    assert starts == [found[-1].after]


def test_headers_that_do_not_match_the_entries_fall_back_to_stepping(one_writer: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A header that lies (a file being written, or damaged): every cursor found by number is
    checked, and stepping takes over from the last good one."""
    stepped, _ = segments([one_writer], monkeypatch, numbers=None)
    real = numbering([str(one_writer)])
    assert real is not None
    shifted, starts = segments([one_writer], monkeypatch, Numbering(real.seqnum_id, real.head + 1, real.count))
    assert shifted == stepped and starts == [None]  # the first cursor was wrong: all stepped
    longer, starts = segments([one_writer], monkeypatch, Numbering(real.seqnum_id, real.head, real.count + 5000))
    assert longer == stepped and starts == [stepped[-1].after]
    other = Numbering("0" * 32, real.head, real.count)
    assert segments([one_writer], monkeypatch, other)[0] == stepped


def test_files_of_two_writers_or_with_gaps_are_stepped_over(tmp_path: Path, one_writer: Path) -> None:
    second = make_journal(tmp_path / "b", entries(500, 2500))
    assert numbering([str(one_writer), str(second)]) is None  # two seqnum_ids: ordered by time
    following = bytearray(second.read_bytes())  # numbered as if it followed, by another writer
    following[160:176] = (3000).to_bytes(8, "little") + (2501).to_bytes(8, "little")
    (tmp_path / "following.journal").write_bytes(following)
    assert numbering([str(one_writer), str(tmp_path / "following.journal")]) is None
    following[72:88] = one_writer.read_bytes()[72:88]  # the same writer: one numbering
    (tmp_path / "following.journal").write_bytes(following)
    assert numbering([str(one_writer), str(tmp_path / "following.journal")]) == Numbering(
        one_writer.read_bytes()[72:88].hex(), 1, 3000)
    following[160:176] = (3100).to_bytes(8, "little") + (2601).to_bytes(8, "little")  # 100 missing between
    (tmp_path / "following.journal").write_bytes(following)
    assert numbering([str(one_writer), str(tmp_path / "following.journal")]) is None
    header = bytearray(one_writer.read_bytes())
    header[152:160] = (2499).to_bytes(8, "little")  # one entry fewer than its numbers: a gap
    gap = tmp_path / "gap.journal"
    gap.write_bytes(header)
    assert numbering([str(gap)]) is None
    assert numbering([str(one_writer), str(one_writer)]) is None  # the same entries twice
    (tmp_path / "no.journal").write_bytes(b"not a journal")
    assert numbering([str(tmp_path / "no.journal")]) is None


def test_a_machines_journal_with_user_journals_is_stepped_over(tmp_path: Path) -> None:
    """The corpus's Fedora journal: system and user files share the numbers, so each file has
    gaps, and every boot has its own seqnum_id."""
    paths = []
    for path in sorted(NO_RTC.glob("*.zst")):
        plain = tmp_path / path.name.removesuffix(".zst")
        plain.write_bytes(zstandard.ZstdDecompressor().decompress(path.read_bytes(), max_output_size=1 << 28))
        paths.append(str(plain))
    assert len(paths) == 7
    assert numbering(paths) is None
    assert all(numbering([p]) is None for p in paths if "user" in p)


@pytest.mark.parametrize("native", [True, False], ids=["C", "python"])
def test_skip_says_how_far_it_went(one_writer: Path, monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    if native:
        assert journal_entries.native_reader() is not None, "the C reader is built here"
    else:
        monkeypatch.setattr(journal_entries, "native_reader", lambda: None)
    reader = journal_entries.journal_module()._Reader(0, None, [str(one_writer)])
    try:
        reader.seek_head()
        assert [journal_entries.skip(reader, n) for n in (1500, 1500, 5)] == [1500, 1000, 0]
        assert reader._get_cursor().split(";")[1] == f"i={2500:x}"  # on the last entry
    finally:
        reader.close()


def _entries_in(path: Path) -> int:
    with open(path, "rb") as f:
        return int.from_bytes(f.read(160)[152:160], "little")


def test_a_journal_growing_while_it_is_cut_gives_every_entry_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries written between the two steps that find a segment's end (a live journal) used to
    give a segment shorter than its count: its reader read on into the next segment, and those
    entries were replayed twice. A step cut short by the end now leaves the rest to the last
    segment. The entries are written exactly there, by the reader's own steps."""
    live = LiveJournal(tmp_path / "live")
    try:
        live.write([{"MESSAGE": f"line {i}", "SYSLOG_IDENTIFIER": "app"} for i in range(2500)])
        (path,) = live.files() or [tmp_path / "live" / "remote.journal"]
        _wait(lambda: path.exists() and _entries_in(path) == 2500)

        def grow() -> None:  # once: 100 entries more, visible before the next step
            if live.written == 2500:
                live.write([{"MESSAGE": f"line {i}", "SYSLOG_IDENTIFIER": "app"} for i in range(2500, 2600)])
                _wait(lambda: _entries_in(path) == 2600)

        class Growing(journal_entries.journal_module()._Reader):  # type: ignore[misc,name-defined]
            def _next(self, skip: int = 1) -> bool:  # (how the steps were taken before)
                moved = journal_entries.skip(self, skip)
                if moved < skip:
                    grow()
                return moved > 0

        real_skip = journal_cut.skip

        def skip(reader: Any, n: int) -> int:
            moved = real_skip(reader, n)
            if moved < n:
                grow()
            return moved

        monkeypatch.setattr(journal_cut, "numbering", lambda _paths: None)  # stepping: what the race is in
        monkeypatch.setattr(journal_cut, "skip", skip)
        monkeypatch.setattr(journal_cut, "journal_module", lambda: SimpleNamespace(_Reader=Growing))
        source = JournalSource("live", [JournalFile(str(path), False)])
        cut = list(source.segments(SIZE, WARM))
        assert live.written == 2600  # the journal grew while it was cut
        messages: list[str] = []
        readers = SegmentReaders()
        for seg in cut:
            _, chunks = segment_chunks(source.origin, seg, False, [], readers)
            messages += [str(entry["MESSAGE"]) for chunk in chunks for entry in chunk.items]
        readers.close()
        assert sorted(messages, key=lambda m: int(m.split()[1])) == [f"line {i}" for i in range(2600)]
    finally:
        live.close()


def _wait(done: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "systemd-journal-remote did not write the entries in time"
        time.sleep(0.01)
