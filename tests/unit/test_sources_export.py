"""Journal dumps: ``journalctl -o export`` and ``-o json`` files read as field chunks."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from shipper.sources.export import ExportParser, Fields, fields_from_json
from shipper.sources.open import open_inputs
from tests.helpers.journal import export_entry
from tests.helpers.sources import ReadResult, read_all

DATA = Path(__file__).resolve().parents[1] / "data"
SYSTEMD = DATA / "corpus/real/systemd"
FEDORA = DATA / "corpus/derived/fedora37-no-rtc"

EXPORTS = {
    "corpus/real/systemd/journal-1.txt": 1,
    "corpus/real/systemd/sample.txt": 10,
    "corpus/real/beats/journal1.export": 10,
    "corpus/real/integrations/test.journal.export": 23,
    "corpus/derived/fedora37-no-rtc/failures.export": 30,
}


def read_path(path: Path, **kwargs: object) -> ReadResult:
    [group] = open_inputs([str(path)], **kwargs)  # type: ignore[arg-type]
    [source] = group.sources
    return read_all(source)


def parse_whole(data: bytes, cap: int = 65536) -> list[tuple[Fields, tuple[str, ...] | None, int]]:
    parser = ExportParser(cap)
    return parser.feed(data) + parser.feed(b"", eof=True)


@pytest.mark.parametrize("rel", sorted(EXPORTS))
def test_export_corpus_files(rel: str) -> None:
    data = (DATA / rel).read_bytes()
    result = read_path(DATA / rel)
    assert len(result.items) == EXPORTS[rel] == data.count(b"__CURSOR=")
    assert result.tags == {}
    for item in result.items:
        assert str(item["__CURSOR"]).startswith("s=")
        assert int(item["__REALTIME_TIMESTAMP"]) > 10**15
    chunk = result.chunks[-1]
    assert (chunk.kind, chunk.origin.format, chunk.offsets) == ("fields", "journal", None)
    assert chunk.checkpoint == (str(DATA / rel), len(data))


def test_binary_fields_and_repeated_fields_of_journal_1() -> None:
    [entry] = read_path(SYSTEMD / "journal-1.txt").items
    cgroup = "1:name=systemd:/\n0::/user.slice/user-1002.slice/user@1002.service/gnome-terminal-server.service\n"
    # The field occurs twice in the entry, with the same value: kept once, as a journal file does.
    assert entry["COREDUMP_PROC_CGROUP"] == cgroup
    assert entry["COREDUMP_RLIMIT"] == "-1"
    assert entry["_SOURCE_REALTIME_TIMESTAMP"] == "1478389147837945"


def test_journal_2_does_not_crash() -> None:
    data = (SYSTEMD / "journal-2.txt").read_bytes()
    result = read_path(SYSTEMD / "journal-2.txt")
    [entry] = result.items
    assert entry["MESSAGE"] == data[16:-1].decode()
    assert entry["MESSAGE"].startswith("Process 23353 (systemd_coredump_exception_handler.py)")


def test_only_the_known_dunder_fields_are_kept() -> None:
    entry = read_path(DATA / "corpus/real/beats/journal1.export").items[0]
    assert {k for k in entry if k.startswith("__")} == {
        "__CURSOR",
        "__REALTIME_TIMESTAMP",
        "__MONOTONIC_TIMESTAMP",
        "__SEQNUM",
    }


def test_export_and_json_dumps_of_the_same_entries_agree() -> None:
    export = read_path(FEDORA / "failures.export").items
    json = read_path(FEDORA / "failures.json").items
    assert len(export) == len(json) == 30
    assert export == json


@pytest.mark.parametrize("rel", sorted(EXPORTS))
def test_feeding_byte_by_byte_gives_the_same_entries(rel: str) -> None:
    data = (DATA / rel).read_bytes()
    parser = ExportParser(65536)
    pieces = []
    for i in range(len(data)):
        pieces += parser.feed(data[i : i + 1])
    pieces += parser.feed(b"", eof=True)
    assert pieces == parse_whole(data)


def test_a_cut_binary_field_becomes_an_unparsed_item_with_the_fields_before_it() -> None:
    data = (SYSTEMD / "journal-1.txt").read_bytes()
    cut = data[: data.index(b"gnome-terminal")]  # inside the first binary COREDUMP_PROC_CGROUP
    [(item, tags, end)] = parse_whole(cut)
    assert tags is not None and tags[0] == "unparsed"
    assert str(item["__CURSOR"]).startswith("s=80f62820")
    assert item["_TRANSPORT"] == "journal"
    assert "COREDUMP_PROC_CGROUP" in item["MESSAGE"]  # the raw text of the entry
    assert end == len(cut)


def test_a_broken_entry_does_not_take_the_next_ones_with_it() -> None:
    good = [export_entry({"MESSAGE": f"entry {i}", "PRIORITY": "6"}, seq=i) for i in range(3)]
    broken = b"MESSAGE=fine\nthis line is no field at all\nPRIORITY=3\n\n"
    huge = b"MESSAGE\n" + (1 << 62).to_bytes(8, "little") + b"xyz\n\n"
    out = parse_whole(good[0] + broken + good[1] + huge + good[2])
    assert [tags for _, tags, _ in out] == [None, ("unparsed",), None, ("unparsed",), None]
    assert [item["MESSAGE"] for item, _, _ in out][::2] == ["entry 0", "entry 1", "entry 2"]
    assert out[1][0]["MESSAGE"] == broken.decode().rstrip("\n")


def test_unparsed_raw_text_is_cut_to_the_cap() -> None:
    raw = b"NOT A FIELD " + b"z" * 5000 + b"\n\n"
    [(item, tags, _)] = parse_whole(raw, cap=100)
    assert len(item["MESSAGE"]) == 100
    assert tags == ("unparsed", "truncated")


def test_a_long_broken_stretch_is_kept_in_pieces_cut_at_line_ends() -> None:
    lines = [b"line %d of a text that is no export" % i for i in range(100)]
    out = parse_whole(b"MESSAGE=ok\n" + b"\n".join(lines) + b"\n", cap=200)
    messages = [str(item["MESSAGE"]) for item, _, _ in out]
    assert all(len(m) <= 200 for m in messages)
    assert "\n".join(messages) == "MESSAGE=ok\n" + b"\n".join(lines).decode()
    assert {tags for _, tags, _ in out} == {("unparsed",)}


def test_a_field_with_several_values_becomes_a_list() -> None:
    data = b"MESSAGE=m\nTAG=a\nTAG=b\nTAG=a\nTAG\n\x01\x00\x00\x00\x00\x00\x00\x00c\n\n"
    [(item, tags, _)] = parse_whole(data)
    assert item == {"MESSAGE": "m", "TAG": ["a", "b", "c"]}
    assert tags is None


def test_export_without_final_blank_line_and_text_values_that_are_not_utf8() -> None:
    """A last entry without its blank line is whole; one whose last line has no newline is cut
    (test_export_edge_cases.py): every export field ends with one."""
    data = b"MESSAGE=caf\xe9\n__REALTIME_TIMESTAMP=1\n\nMESSAGE=last\n"
    out = parse_whole(data)
    assert [item for item, _, _ in out] == [{"MESSAGE": b"caf\xe9", "__REALTIME_TIMESTAMP": "1"}, {"MESSAGE": "last"}]


def test_compressed_export_with_a_read_error_keeps_the_entries(tmp_path: Path) -> None:
    data = (FEDORA / "failures.export").read_bytes() * 20
    packed = gzip.compress(data)
    path = tmp_path / "dump.export.gz"
    path.write_bytes(packed[: len(packed) // 2])
    result = read_path(path)
    assert result.chunks[0].origin.format == "journal"
    assert len(result.items) > 100
    assert result.tagged("read_error") == [len(result.items) - 1]
    assert str(path) in result.items[-1]["MESSAGE"]


def test_fields_from_json_value_kinds() -> None:
    obj = {
        "MESSAGE": "hello",
        "BIN": [255, 0, 120],
        "TEXT_AS_BYTES": list(b"caf\xc3\xa9"),
        "MULTI": ["a", [98], "c"],
        "BIG": None,
        "__CURSOR": "s=1",
        "__SEQNUM_ID": "x",
        "NUMBER": 5,
    }
    assert fields_from_json(obj) == {
        "MESSAGE": "hello",
        "BIN": b"\xff\x00x",
        "TEXT_AS_BYTES": "café",
        "MULTI": ["a", "b", "c"],
        "__CURSOR": "s=1",
        "NUMBER": "5",
    }


def test_json_dump_with_bad_lines(tmp_path: Path) -> None:
    lines = [
        orjson.dumps({"MESSAGE": "one", "__REALTIME_TIMESTAMP": "1"}),
        b"",
        b"this is not json",
        b'{"MESSAGE": "cut',
        b"[1, 2]",
        orjson.dumps({"MESSAGE": "two", "__REALTIME_TIMESTAMP": "2"}),
    ]
    path = tmp_path / "dump.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = read_path(path, fmt="journal-json")
    assert [item["MESSAGE"] for item in result.items] == ["one", "this is not json", '{"MESSAGE": "cut', "[1, 2]", "two"]
    assert result.tagged("unparsed") == [1, 2, 3]


def test_json_line_longer_than_the_json_cap_is_unparsed_and_truncated(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    path.write_bytes(orjson.dumps({"MESSAGE": "x" * 3000}) + b"\n")
    [group] = open_inputs([str(path)], fmt="journal-json", max_line_bytes=1000)
    ok = read_all(group.sources[0])
    assert ok.items == [{"MESSAGE": "x" * 3000}]  # JSON lines may be longer than max_line_bytes


def test_a_broken_stretch_without_blank_line_is_handed_on_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shipper.sources.export.BROKEN_WAIT", 1000)
    text = b"".join(b"plain text line %d\n" % i for i in range(2000))  # no blank line anywhere
    parser = ExportParser(300)
    out = []
    for i in range(0, len(text), 512):
        got = parser.feed(text[i : i + 512])
        out += got
        assert len(parser._buf) < 2000  # the stretch does not pile up
    out += parser.feed(b"", eof=True)
    assert "\n".join(str(item["MESSAGE"]) for item, _, _ in out) == text.decode().rstrip("\n")
    assert all(tags == ("unparsed",) for _, tags, _ in out)
