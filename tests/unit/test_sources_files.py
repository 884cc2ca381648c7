"""Text inputs: every corpus file read line by line, compressed copies, damaged and hostile input."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import random
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Callable

import pytest
import zstandard

from shipper.sources.files import CHUNK_LINES
from shipper.sources.lines import LineBlock, iter_line_blocks
from shipper.sources.open import open_inputs
from tests.helpers.sources import ReadResult, read_all

DATA = Path(__file__).resolve().parents[1] / "data"
TEXT_FILES = sorted(
    str(p.relative_to(DATA)) for p in DATA.rglob("*") if p.is_file() and not p.name.endswith(".zst")
)
BIG = DATA / "corpus/derived/fedora37-no-rtc/journal.short-iso.log"  # 1.4 MB: several blocks

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
}
PARTIAL: dict[str, Callable[[bytes], bytes]] = {  # what can be decompressed from the start of a truncated archive
    "gz": lambda data: zlib.decompressobj(wbits=31).decompress(data),
    "bz2": lambda data: bz2.BZ2Decompressor().decompress(data),
    "xz": lambda data: lzma.LZMADecompressor().decompress(data),
    "zst": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}
CLI = {"gz": ["gzip", "-c"], "bz2": ["bzip2", "-c"], "xz": ["xz", "-c"], "zst": ["zstd", "-q", "-c"]}


def reference(data: bytes) -> tuple[list[bytes], list[int]]:
    """The lines of ``data`` and their offsets, computed the slow, obvious way (a run of NUL bytes
    at a line's start is not part of it, `shipper.sources.lines`)."""
    lines, offsets, pos = [], [], 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl
        line = data[pos:end]
        text = line.lstrip(b"\0")
        lines.append(text[:-1] if text.endswith(b"\r") else text)
        offsets.append(pos + len(line) - len(text))
        pos = end + 1
    return lines, offsets


def read_path(path: Path, **kwargs: object) -> ReadResult:
    [group] = open_inputs([str(path)], **kwargs)  # type: ignore[arg-type]
    [source] = group.sources
    return read_all(source)


def assert_same_lines(result: ReadResult, data: bytes) -> None:
    lines, offsets = reference(data)
    assert len(result.items) == len(lines)
    assert result.offsets == offsets
    invalid = []
    for i, line in enumerate(lines):
        try:
            text = line.decode()
        except UnicodeDecodeError:
            text = line.decode("utf-8", "surrogateescape")  # kept for the id (shipper.ids), then U+FFFD
            invalid.append(i)
        assert result.items[i] == text, f"line {i}"
    assert result.tagged("invalid_utf8") == invalid
    assert result.tagged("truncated") == []


@pytest.mark.parametrize("rel", TEXT_FILES)
def test_every_corpus_file_reads_all_its_lines(rel: str) -> None:
    path = DATA / rel
    data = path.read_bytes()
    result = read_path(path, fmt="syslog")
    expected = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    assert len(result.items) == expected
    assert_same_lines(result, data)
    last = result.chunks[-1]
    assert last.progress == len(data)
    assert last.checkpoint == (str(path), len(data))
    assert all(c.origin.path == str(path) and c.origin.mtime == os.stat(path).st_mtime for c in result.chunks)


def test_chunks_are_at_most_2000_lines_and_checkpoints_follow_the_lines() -> None:
    result = read_path(BIG)
    assert len(result.chunks) > 5
    seen = 0
    for chunk in result.chunks:
        assert 0 < len(chunk.items) <= CHUNK_LINES
        seen += len(chunk.items)
        assert chunk.checkpoint == (
            str(BIG), result.offsets[seen] if seen < len(result.offsets) else BIG.stat().st_size,
        )
    progress = [c.progress for c in result.chunks]
    assert progress == sorted(progress)
    [group] = open_inputs([str(BIG)])
    assert group.sources[0].total() == BIG.stat().st_size


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("name", ["corpus/derived/fedora37-no-rtc/journal.short-iso.log", "corpus/real/systemd/journal-1.txt"])
def test_compressed_copies_give_identical_items(tmp_path: Path, kind: str, name: str) -> None:
    data = (DATA / name).read_bytes()
    plain = read_path(DATA / name, fmt="syslog")
    packed = tmp_path / f"copy.{kind}"
    packed.write_bytes(COMPRESSORS[kind](data))
    result = read_path(packed, fmt="syslog")
    assert result.items == plain.items
    assert result.offsets == plain.offsets
    assert result.tags == plain.tags
    assert result.chunks[-1].progress == packed.stat().st_size
    [group] = open_inputs([str(packed)])
    assert group.sources[0].total() == packed.stat().st_size


@pytest.mark.parametrize("kind", sorted(CLI))
def test_archives_made_by_the_command_line_tools(tmp_path: Path, kind: str) -> None:
    if shutil.which(CLI[kind][0]) is None:
        pytest.skip(f"{CLI[kind][0]} is not installed")
    data = BIG.read_bytes()
    packed = tmp_path / f"messages.1.{kind}"
    packed.write_bytes(subprocess.run([*CLI[kind], str(BIG)], capture_output=True, check=True).stdout)
    assert read_path(packed).items == read_path(BIG).items
    assert_same_lines(read_path(packed), data)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_concatenated_members_and_frames(tmp_path: Path, kind: str) -> None:
    data = BIG.read_bytes()
    cut = data.index(b"\n", len(data) // 3) - 20  # the join falls inside a line
    packed = tmp_path / "joined"
    packed.write_bytes(COMPRESSORS[kind](data[:cut]) + COMPRESSORS[kind](data[cut:]))
    assert_same_lines(read_path(packed), data)


@pytest.mark.parametrize(("content", "name"), [("gz", "maillog.txt"), ("zst", "maillog.2.gz"), ("plain", "messages.bz2")])
def test_misleading_extension_is_detected_by_content(tmp_path: Path, content: str, name: str) -> None:
    data = (DATA / "seed/messages-sendmail.log").read_bytes()
    path = tmp_path / name
    path.write_bytes(data if content == "plain" else COMPRESSORS[content](data))
    result = read_path(path)
    assert_same_lines(result, data)
    assert result.chunks[0].origin.format == "syslog"


def _big_text(lines: int = 60000) -> bytes:
    seed = (DATA / "corpus/real/loghub/OpenSSH_2k.log").read_bytes().splitlines(keepends=True)
    return b"".join(b"%d " % i + seed[i % len(seed)] for i in range(lines))


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_truncated_archive_keeps_what_was_read_and_reports_the_break(tmp_path: Path, kind: str) -> None:
    data = _big_text(200000 if kind == "bz2" else 60000)  # bz2 needs several 900 kB blocks
    packed = COMPRESSORS[kind](data)
    path = tmp_path / f"maillog.3.{kind}"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    result = read_path(path)
    *good, error = result.items
    assert len(good) > 1000
    # Everything a one-shot decompressor recovers from the truncated archive is handed on:
    # the lines, the last one cut short by the break (tagged), then the error at that offset.
    partial = PARTIAL[kind](packed[: len(packed) * 2 // 3])
    assert good == [line.decode() for line in reference(partial)[0]]
    assert result.tags[len(good) - 1] == ("truncated",)
    assert result.tags[len(good)] == ("unparsed", "read_error")
    assert result.offsets[-1] == len(partial)
    assert str(path) in error and f"at byte {len(partial)}" in error and "truncated or corrupt" in error


@pytest.mark.parametrize("kind", ["gz", "xz", "zst"])
def test_corrupt_archive_does_not_crash(tmp_path: Path, kind: str) -> None:
    packed = bytearray(COMPRESSORS[kind](_big_text()))
    for i in range(len(packed) // 2, len(packed) // 2 + 64):
        packed[i] ^= 0x5A
    path = tmp_path / "broken"
    path.write_bytes(bytes(packed))
    result = read_path(path)
    assert result.tagged("read_error") == [len(result.items) - 1]


def test_random_bytes_do_not_crash(tmp_path: Path) -> None:
    rng = random.Random(42)
    data = bytes(rng.randrange(256) for _ in range(300_000))
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    result = read_path(path, max_line_bytes=1000)
    lines, offsets = reference(data)
    assert len(result.items) == len(lines)
    assert result.offsets == offsets
    assert result.tagged("truncated") == [i for i, line in enumerate(lines) if len(line) > 1000]
    assert result.tagged("invalid_utf8")
    assert all(isinstance(item, str) for item in result.items)


def test_invalid_utf8_nul_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    data = b"ok line\r\nbad \xff\xfe byte\nnul \x00 inside\n\xc3\xa9t\xc3\xa9\nlast without newline"
    path = tmp_path / "mixed.log"
    path.write_bytes(data)
    result = read_path(path)
    assert result.items == ["ok line", "bad \udcff\udcfe byte", "nul \x00 inside", "été", "last without newline"]
    assert result.tags == {1: ("invalid_utf8",)}
    assert result.offsets == [0, 9, 21, 34, 40]


def test_a_1mb_line_is_truncated_and_tagged(tmp_path: Path) -> None:
    data = b"before\n" + b"x" * 1_000_000 + b"\nafter\n"
    path = tmp_path / "long.log"
    path.write_bytes(data)
    result = read_path(path, max_line_bytes=4096)
    assert result.items == ["before", "x" * 4096, "after"]
    assert result.tags == {1: ("truncated",)}
    assert result.offsets == [0, 7, 1_000_008]


def test_a_line_longer_than_several_blocks_is_buffered_only_up_to_the_cap() -> None:
    line = b"y" * (5 << 20)
    stream = io.BytesIO(line + b"\nnext")
    blocks = list(iter_line_blocks(stream.read, cap=100, block_size=1 << 16))
    lines = [x for b in blocks for x in b.lines]
    assert lines == [b"y" * 100, b"next"]
    assert [o for b in blocks for o in b.offsets] == [0, len(line) + 1]
    assert blocks[0].truncated == [0]


def test_cut_inside_a_multibyte_character_is_not_invalid(tmp_path: Path) -> None:
    path = tmp_path / "utf8.log"
    path.write_bytes("é".encode() * 100 + b"\n")  # 200 bytes, cut at 51: inside a character
    result = read_path(path, max_line_bytes=51)
    assert result.items == ["é" * 25]
    assert result.tags == {0: ("truncated",)}


def test_line_of_exactly_the_cap_is_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cap.log"
    path.write_bytes(b"a" * 64 + b"\n" + b"b" * 65 + b"\n")
    result = read_path(path, max_line_bytes=64)
    assert result.items == ["a" * 64, "b" * 64]
    assert result.tags == {1: ("truncated",)}


@pytest.mark.parametrize("block_size", [1, 2, 3, 7, 64, 1000])
def test_line_splitting_matches_the_reference_for_any_block_size(block_size: int) -> None:
    rng = random.Random(block_size)
    alphabet = [b"a", b"b", b"\n", b"\r", b"\r\n", b"\xc3\xa9", b"\x00", b"\n\n"]
    for _ in range(30):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
        cap = rng.choice([1, 5, 20, 1000])
        blocks = list(iter_line_blocks(io.BytesIO(data).read, cap=cap, block_size=block_size))
        lines, offsets = reference(data)
        got = [x for b in blocks for x in b.lines]
        assert got == [line if len(line) <= cap else _cut(data, off, cap) for line, off in zip(lines, offsets)]
        assert [o for b in blocks for o in b.offsets] == offsets
        assert [i + n for b, n in zip(blocks, _starts(blocks)) for i in b.truncated] == [
            i for i, line in enumerate(lines) if len(line) > cap
        ]


def _starts(blocks: list[LineBlock]) -> list[int]:
    """The index of each block's first line in the whole stream."""
    starts, n = [], 0
    for block in blocks:
        starts.append(n)
        n += len(block.lines)
    return starts


def _cut(data: bytes, offset: int, cap: int) -> bytes:
    """A long line cut to the cap (a "\\r" is stripped only at the real end of a line)."""
    return data[offset : offset + cap]


def test_empty_file_gives_no_items(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    assert read_path(path).items == []
    path.write_bytes(b"\n")
    assert read_path(path).items == [""]
