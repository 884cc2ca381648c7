"""The C reader of journal entries (shipper/sources/_journalread.c) gives exactly what the Python
loop over systemd-python's calls gives (`read_in_python`): same entries, same field order, same
chunks and cursors, the same error after damage; on the real corpus journals and on files made
by systemd-journal-remote with binary, multi-line, multi-valued and empty entries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import zstandard

from shipper.sources.export import Fields
from shipper.sources.journal_entries import incomplete_count, journal_module, native_reader, read_entries, read_in_python
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal
from tests.helpers.memory import grown_after

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

DATA = Path(__file__).resolve().parents[1] / "data"
NO_RTC = DATA / "corpus/real/systemd/no-rtc"  # real Fedora journals (tests/data/corpus/SOURCES.md)


def reader(paths: list[Path]) -> Any:
    return journal_module()._Reader(0, None, [str(p) for p in paths])


def read_both(paths: list[Path], **kw: Any) -> tuple[list[Any], list[Any], list[str], list[str]]:
    """(chunks, chunks, errors, errors) read by the C reader, then by the Python loop."""
    results: list[Any] = []
    for read in (read_entries, read_in_python):
        errors: list[str] = []
        r = reader(paths)
        chunks = [(items, cursor) for items, cursor in read(r, errors, **kw)]
        r.close()
        results += [chunks, errors]
    return results[0], results[2], results[1], results[3]


def ordered(chunks: list[tuple[list[Fields], str | None]]) -> list[tuple[list[list[tuple[str, Any]]], str | None]]:
    """Chunks with each entry as its list of items: equal only if the field order is equal too."""
    return [([list(e.items()) for e in items], cursor) for items, cursor in chunks]


def test_the_c_reader_is_built_here() -> None:
    # scripts/bootstrap installs gcc and libsystemd-dev, so the optional extension must exist:
    # without this check a failed build would only make the journal slower, silently.
    assert native_reader() is not None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    plain = tmp_path_factory.mktemp("no-rtc")
    for f in NO_RTC.iterdir():
        with f.open("rb") as src, (plain / f.name.removesuffix(".zst")).open("wb") as dst:
            zstandard.ZstdDecompressor().copy_stream(src, dst)
    return sorted(plain.iterdir())


def test_the_corpus_journals_read_the_same(corpus: list[Path]) -> None:
    native, python, native_errors, python_errors = read_both(corpus)
    assert sum(len(items) for items, _ in native) == 10757  # SOURCES.md: 10,757 entries
    assert ordered(native) == ordered(python)
    # (two entries of the damaged corpus files lost a field: `journal_entries.Entries`)
    assert native_errors == python_errors and sum(map(incomplete_count, native_errors)) == 2
    assert all(map(incomplete_count, native_errors))


def test_odd_values_read_the_same(tmp_path: Path) -> None:
    export = b"".join(
        export_entry({"MESSAGE": f"m{i}", "BIN": b"\xff\x00\x01", "ML": "one\ntwo", "UTF": "été", "EMPTY": ""}, seq=i)
        for i in range(3)
    )
    # A field given twice in one entry is kept with both values (a list).
    export += export_entry({"MESSAGE": "twice"}, seq=3)[:-1] + b"TAG=a\nTAG=b\nTAG=\xfe\n\n"
    path = make_journal(tmp_path, export)
    native, python, _, _ = read_both([path])
    assert ordered(native) == ordered(python)
    [(entries, _)] = native
    assert (entries[0]["BIN"], entries[0]["ML"], entries[0]["UTF"], entries[0]["EMPTY"]) == (
        b"\xff\x00\x01", "one\ntwo", "été", "")
    assert sorted(entries[3]["TAG"], key=repr) == sorted(["a", "b", b"\xfe"], key=repr)
    assert entries[0]["__REALTIME_TIMESTAMP"] == "1504104947000000"
    assert list(entries[0])[-2:] == ["__REALTIME_TIMESTAMP", "__CURSOR"]


def test_limit_and_chunks_and_position_are_the_same(tmp_path: Path) -> None:
    path = make_journal(tmp_path, b"".join(export_entry({"MESSAGE": f"m{i}"}, seq=i) for i in range(10)))
    native, python, _, _ = read_both([path], limit=7, chunk=3)
    assert [len(items) for items, _ in native] == [3, 3, 1]
    assert ordered(native) == ordered(python)
    assert [cursor for _, cursor in native] == [native[i][0][-1]["__CURSOR"] for i in range(3)]
    # Stopping early leaves the reader after the last entry handed on, with either reader.
    for read in (read_entries, read_in_python):
        r = reader([path])
        chunks = read(r, [], chunk=4)
        next(chunks)
        chunks.close()
        [(rest, _)] = list(read(r, []))
        r.close()
        assert [e["MESSAGE"] for e in rest] == [f"m{i}" for i in range(4, 10)]


@pytest.mark.parametrize("at", [0.475, 0.5, 0.575])
def test_a_file_damaged_under_the_reader_reads_the_same(tmp_path: Path, at: float) -> None:
    # sd_journal skips the objects it cannot make sense of (it reports no error for these):
    # both readers must then hand on the same entries.
    path = make_journal(tmp_path, b"".join(export_entry({"MESSAGE": f"m{i}" * 50}, seq=i) for i in range(3000)))
    results = []
    for read in (read_entries, read_in_python):
        copy = tmp_path / f"{read.__name__}.journal"
        copy.write_bytes(path.read_bytes())
        r = reader([copy])
        errors: list[str] = []
        chunks = read(r, errors, chunk=500)
        first = next(chunks)
        with copy.open("r+b") as f:  # 64 KiB of garbage inside the file, while it is being read
            f.seek(int(copy.stat().st_size * at))
            f.write(b"\xff" * 65536)
        rest = list(chunks)
        r.close()
        results.append((ordered([first, *rest]), errors))
    assert results[0] == results[1]
    assert 500 <= sum(len(items) for items, _ in results[0][0]) < 3000  # the damage was met


def test_the_c_reader_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    native = native_reader()
    assert native is not None
    r = reader([make_journal(tmp_path, export_entry({"MESSAGE": "x"}))])
    r.close()
    with pytest.raises(ValueError, match="closed"):
        native.pack(r, 10)
    with pytest.raises(TypeError):
        native.pack(object(), 10)
    assert native.bind(type("_Reader", (), {})) is False  # a layout it does not know: not bound
    data, count, _, _, _, _ = native.pack(reader([tmp_path / "test.journal"]), 10)
    assert count == 1 and native.unpack(data, 0, len(data))[0]["MESSAGE"] == "x"
    for start, stop in ((0, len(data) - 1), (1, len(data)), (-1, len(data)), (0, len(data) + 1)):
        with pytest.raises(ValueError):
            native.unpack(data, start, stop)



def test_packing_and_unpacking_leak_nothing(tmp_path: Path) -> None:
    native = native_reader()
    assert native is not None
    path = make_journal(tmp_path, b"".join(export_entry({"MESSAGE": f"m{i}", "BIN": b"\xff" * (i % 3), "A": "x"}, seq=i)
                                         for i in range(300)))

    def once() -> None:
        r = reader([path])
        data, count, _, _, _, _ = native.pack(r, 1000)
        assert count == 300 and len(native.unpack(data, 0, len(data))) == 300
        r.close()

    grown = grown_after(once, 5, 100)
    assert grown < 20_000, f"{grown} bytes more after 100 rounds"


# Run in a child process, so that a crash in C fails the test instead of killing the test run.
_FUZZ = """
import collections, random, sys
from pathlib import Path
from shipper.sources.journal_entries import incomplete_count, journal_module, read_entries, read_in_python

source, work, rounds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
data = source.read_bytes()
def le64(at):
    return int.from_bytes(data[at:at + 8], "little")
# The entries' objects: after the two hash tables (offset and size at 104/112 and 120/128 of the
# header), up to the end of the last object (its offset at 136, its size at 8 of the object).
first = max(le64(104) + le64(112), le64(120) + le64(128))
used = le64(136) + le64(le64(136) + 8)
seen = collections.Counter()
for seed in range(rounds):
    rnd = random.Random(seed)
    damaged = bytearray(data)
    for _ in range(rnd.randint(1, 4)):  # a few bytes overwritten among the entries' objects
        at = rnd.randrange(first, used - 8)
        n = rnd.choice((1, 2, 8))
        damaged[at:at + n] = rnd.randbytes(n)
    path = work / f"{seed}.journal"
    path.write_bytes(bytes(damaged))
    got = []
    for read in (read_entries, read_in_python):
        reader = journal_module()._Reader(0, None, [str(path)])
        errors = []
        got.append(([list(e.items()) for items, _ in read(reader, errors, chunk=7) for e in items], errors))
        reader.close()
    (c_entries, c_errors), (p_entries, p_errors) = got
    if [e for e in p_errors if not incomplete_count(e)]:  # stopped at a damaged field (no '=', a name not UTF-8): the C reader read on from there
        seen["python stopped"] += 1
        assert c_entries[:len(p_entries)] == p_entries and len(c_entries) > len(p_entries) and c_errors, seed
    else:
        seen["same"] += 1
        assert got[0] == got[1], seed
    path.unlink()
print(seen["same"], seen["python stopped"])
"""


def test_damaged_files_never_crash_the_c_reader_and_read_as_in_python(tmp_path: Path) -> None:
    """A few bytes overwritten among the entries of a real journal file, 300 times: the C reader
    never crashes; where the Python loop reads the file through, both give the same entries; where
    systemd-python stops at a damaged field, the C reader gives the same entries up to there, goes
    on, and says what it left out."""
    path = make_journal(tmp_path / "j", b"".join(
        export_entry({"MESSAGE": f"m{i} " + "x" * (i % 50), "SYSLOG_IDENTIFIER": "t", "BIN": b"\xff\x00" * (i % 3)}, seq=i)
        for i in range(300)))
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-c", _FUZZ, str(path), str(work), "300"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]  # a crash in C: a negative code (the signal)
    same, stopped = map(int, proc.stdout.split())
    assert same + stopped == 300 and same > 100 and stopped > 0  # the damage was met, both ways
