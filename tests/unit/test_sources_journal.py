"""Binary journal files: real files made by systemd-journal-remote, and the corpus journals."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest
import zstandard

from shipper.sources import journal_open
from shipper.sources.export import ExportParser, Fields
from shipper.sources.journal import JournalFile, JournalSource
from shipper.sources.journal_segments import SegmentReaders, segment_chunks
from shipper.sources.open import open_inputs
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal
from tests.helpers.sources import read_all

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

DATA = Path(__file__).resolve().parents[1] / "data"
NO_RTC = DATA / "corpus/real/systemd/no-rtc"
EXPORTS = [
    "corpus/real/systemd/journal-1.txt",
    "corpus/real/systemd/sample.txt",
    "corpus/real/beats/journal1.export",
    "corpus/real/integrations/test.journal.export",
    "corpus/derived/fedora37-no-rtc/failures.export",
]
# Fields a journal file gives back differently: journal-remote writes new cursors, and the
# reader reports no __MONOTONIC_TIMESTAMP/__SEQNUM.
NOT_COMPARED = {"__CURSOR", "__MONOTONIC_TIMESTAMP", "__SEQNUM"}


def parse_export(data: bytes) -> list[Fields]:
    parser = ExportParser(1 << 20)
    return [fields for fields, _, _ in parser.feed(data) + parser.feed(b"", eof=True)]


def comparable(entries: list[Fields]) -> list[dict[str, object]]:
    def norm(value: object) -> object:
        return sorted(value, key=repr) if isinstance(value, list) else value

    out = [{k: norm(v) for k, v in e.items() if k not in NOT_COMPARED} for e in entries]
    return sorted(out, key=lambda e: (str(e["__REALTIME_TIMESTAMP"]), repr(sorted(e.items()))))


def read_journal_dir(directory: Path) -> list[Fields]:
    [group] = open_inputs([str(directory)])
    assert group.source_id == f"journal:{directory}"
    [source] = group.sources
    return read_all(source).items


@pytest.mark.parametrize("rel", EXPORTS)
def test_export_to_journal_file_and_back(tmp_path: Path, rel: str) -> None:
    export = (DATA / rel).read_bytes()
    path = make_journal(tmp_path / "j", export)
    assert path == tmp_path / "j" / "test.journal"
    entries = read_journal_dir(path.parent)
    expected = parse_export(export)
    assert len(entries) == len(expected)
    assert comparable(entries) == comparable(expected)
    for entry in entries:
        assert str(entry["__CURSOR"]).startswith("s=")


def test_binary_and_multiline_values_survive(tmp_path: Path) -> None:
    export = b"".join(
        export_entry({"MESSAGE": f"m{i}", "BIN": b"\xff\x00\x01", "ML": "one\ntwo", "UTF": "été"}, seq=i)
        for i in range(3)
    )
    entries = read_journal_dir(make_journal(tmp_path, export).parent)
    assert [e["MESSAGE"] for e in entries] == ["m0", "m1", "m2"]
    assert {(e["BIN"], e["ML"], e["UTF"]) for e in entries} == {(b"\xff\x00\x01", "one\ntwo", "été")}
    assert entries[0]["__REALTIME_TIMESTAMP"] == "1504104947000000"
    assert entries[0]["_HOSTNAME"] == "gorp"


def test_checkpoint_is_the_cursor_of_the_last_entry_and_progress_is_in_bytes(tmp_path: Path) -> None:
    export = b"".join(export_entry({"MESSAGE": f"m{i}"}, seq=i) for i in range(4500))
    path = make_journal(tmp_path, export)
    [group] = open_inputs([str(path)])
    [source] = group.sources
    size = path.stat().st_size
    assert source.total() == size  # bytes on disk, the unit of every other source
    result = read_all(source)
    assert [len(c.items) for c in result.chunks] == [2000, 2000, 500]
    assert [c.checkpoint for c in result.chunks] == [result.items[i]["__CURSOR"] for i in (1999, 3999, 4499)]
    assert [c.progress for c in result.chunks] == [size * 2000 // 4500, size * 4000 // 4500, size]


def _journalctl_export(directory: Path) -> bytes:
    return subprocess.run(
        ["journalctl", f"--directory={directory}", "-q", "--no-pager", "-o", "export"],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout


def test_corpus_zstd_journals_match_journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("journalctl") is None:
        pytest.skip("journalctl is not installed")
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in NO_RTC.iterdir():
        with f.open("rb") as src, (plain / f.name.removesuffix(".zst")).open("wb") as dst:
            zstandard.ZstdDecompressor().copy_stream(src, dst)
    exported = _journalctl_export(plain)
    count = sum(1 for line in exported.split(b"\n") if line.startswith(b"__CURSOR="))
    assert count == 10757  # the corpus's SOURCES.md says 10,757 entries

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    [group] = open_inputs([str(NO_RTC)])
    [source] = group.sources
    total = source.total()
    assert total is not None and total >= count  # header counts; the reader skips duplicates
    chunks = source.chunks()
    first = next(chunks)
    assert [p.name for p in temp.iterdir()][0].startswith("shipper-journal-")  # decompressed here
    rest = list(chunks)
    items = [item for chunk in [first, *rest] for i, item in enumerate(chunk.items)
             if "read_error" not in chunk.tags.get(i, ())]  # (three of the files are damaged: said)
    assert rest[-1].progress == total  # the progress bar ends at 100%
    source.close()
    assert list(temp.iterdir()) == []  # and removed on close
    assert len(items) == count
    # Same entries in the same order as journalctl (cursors are the files' own).
    assert [e["__CURSOR"] for e in items] == [e["__CURSOR"] for e in parse_export(exported)]
    assert comparable(items) == comparable(parse_export(exported))


def test_plain_journal_files_are_read_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_journal(tmp_path / "j", export_entry({"MESSAGE": "hello"}))
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    source = JournalSource("journal:x", [JournalFile(str(path), compressed=False)])
    items = read_all(source).items
    assert [e["MESSAGE"] for e in items] == ["hello"]
    assert list(temp.iterdir()) == []


def _lines(n: int, word: str = "line") -> bytes:
    return b"".join(export_entry({"MESSAGE": f"{word} {i}", "SYSLOG_IDENTIFIER": "app"}, seq=i) for i in range(n))


def _rotate(path: Path, replacement: Path) -> None:
    """What journald does to the active file: rename it, and start a new one under its name."""
    path.rename(path.with_name("test@0000000000000001-0000000000000002.journal"))
    shutil.copyfile(replacement, path)


def test_a_file_rotated_while_it_is_read_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reader opened after a rotation (a new one after each chunk here, and each worker's
    for its segments) still reads the file the replay started with, not the new file under its
    name."""
    other = make_journal(tmp_path / "other", _lines(10, "other"))
    monkeypatch.setattr(journal_open, "REOPEN_ENTRIES", 1)
    path = make_journal(tmp_path / "one", _lines(2500))
    source = JournalSource("journal:x", [JournalFile(str(path), compressed=False)])
    chunks = source.chunks()
    read = [next(chunks)]
    _rotate(path, other)
    read += list(chunks)
    source.close()
    assert [e["MESSAGE"] for chunk in read for e in chunk.items] == [f"line {i}" for i in range(2500)]

    path = make_journal(tmp_path / "segments", _lines(2500))
    source = JournalSource("journal:y", [JournalFile(str(path), compressed=False)])
    segments = source.segments(300, 16)
    cut = [next(segments)]
    _rotate(path, other)
    cut += list(segments)
    readers = SegmentReaders()
    messages = [e["MESSAGE"] for seg in cut for chunk in segment_chunks(source.origin, seg, False, [], readers)[1]
                for e in chunk.items]
    readers.close()
    source.close()
    assert messages == [f"line {i}" for i in range(2500)] and source.errors == []


def test_a_journal_source_reads_again_and_after_close(tmp_path: Path) -> None:
    path = make_journal(tmp_path / "j", _lines(30))
    source = JournalSource("journal:x", [JournalFile(str(path), compressed=False)])
    reads = [read_all_open(source), read_all_open(source)]
    source.close()
    reads.append(read_all_open(source))
    source.close()
    assert reads == [[f"line {i}" for i in range(30)]] * 3


def read_all_open(source: JournalSource) -> list[object]:
    return [e["MESSAGE"] for chunk in source.chunks() for e in chunk.items]


def test_many_files_under_a_low_open_files_limit(tmp_path: Path) -> None:
    """Pinned files and the readers take a descriptor per file each: the soft limit is raised
    (up to the hard one) rather than files failing with "Too many open files"."""
    directory = tmp_path / "many"
    for n in range(40):
        make_journal(directory, export_entry({"MESSAGE": f"file {n}", "SYSLOG_IDENTIFIER": "app"}, seq=n), name=f"f{n:02d}")
    out = tmp_path / "out.ndjson"
    script = ("import resource, sys\n"
              "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
              "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))\n"
              "from shipper.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", script, "replay", "--quiet", "--workers", "0", "--output", "ndjson",
                           "-o", str(out), str(directory)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    messages = sorted(orjson.loads(line)["message"] for line in out.read_bytes().splitlines())
    assert messages == sorted(f"file {n}" for n in range(40))


def test_a_damaged_compressed_journal_is_reported_not_fatal(tmp_path: Path) -> None:
    good = make_journal(tmp_path / "good", b"".join(export_entry({"MESSAGE": f"g{i}"}, seq=i) for i in range(50)))
    packed = (NO_RTC / "system.journal.zst").read_bytes()
    broken = tmp_path / "in" / "system@x.journal~.zst"
    broken.parent.mkdir()
    broken.write_bytes(packed[: len(packed) // 3])
    source = JournalSource(
        "journal:x", [JournalFile(str(broken), compressed=True), JournalFile(str(good), compressed=False)]
    )
    result = read_all(source)
    errors = result.tagged("read_error")
    assert errors and all(result.tags[i] == ("unparsed", "read_error") for i in errors)
    assert any(str(broken) in result.items[i]["MESSAGE"] for i in errors)
    assert {e["MESSAGE"] for e in result.items if "__CURSOR" in e} >= {f"g{i}" for i in range(50)}


def test_a_file_that_is_no_journal_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "fake.journal"
    fake.write_bytes(b"LPKSHHRH" + os.urandom(4000))
    good = make_journal(tmp_path / "good", export_entry({"MESSAGE": "fine"}))
    source = JournalSource("journal:x", [JournalFile(str(fake), False), JournalFile(str(good), False)])
    result = read_all(source)
    messages = [e["MESSAGE"] for e in result.items]
    assert "fine" in messages
    [error] = result.tagged("read_error")
    assert str(fake) in messages[error]
