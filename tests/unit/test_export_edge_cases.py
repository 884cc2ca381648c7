"""Export dumps that are damaged or cut short: how they are recognised and what is kept."""

from __future__ import annotations

from pathlib import Path

import orjson

from shipper.cli import main
from shipper.env import Env
from shipper.sources.export import ExportParser, Fields
from shipper.sources.open import open_inputs
from shipper.sources.sniff import sniff
from tests.helpers.journal import export_entry
from tests.helpers.sources import ReadResult, read_all

SAMPLE = Path(__file__).resolve().parents[1] / "data/corpus/real/integrations/test.journal.export"  # 22 entries
DAMAGE = b"MESSAGE\n" + (1000).to_bytes(8, "little") + b"short\n"  # a binary field shorter than its length


def read_path(path: Path, **kwargs: object) -> ReadResult:
    [group] = open_inputs([str(path)], **kwargs)  # type: ignore[arg-type]
    [source] = group.sources
    return read_all(source)


def parse(data: bytes) -> tuple[list[tuple[Fields, tuple[str, ...] | None, int]], ExportParser]:
    parser = ExportParser(65536)
    return parser.feed(data) + parser.feed(b"", eof=True), parser


def damaged(entry: bytes) -> bytes:
    """``entry`` with `DAMAGE` before its MESSAGE field."""
    at = entry.index(b"MESSAGE=")
    return entry[:at] + DAMAGE + entry[at:]


def test_a_damaged_first_entry_does_not_make_a_dump_text(tmp_path: Path) -> None:
    data = damaged(SAMPLE.read_bytes())
    path = tmp_path / "bad.export"
    path.write_bytes(data)
    assert sniff(data) == "journal-export"
    result = read_path(path)
    assert len(result.items) == 23 and list(result.tags) == result.tagged("unparsed") == [0]  # the damaged entry
    assert "short" in result.items[0]["MESSAGE"]


def test_the_share_of_well_formed_entries_decides() -> None:
    good = [export_entry({"MESSAGE": f"entry {i} " + "x" * 1000}, seq=i) for i in range(3)]  # damage inside
    bad = [damaged(entry) for entry in good]
    assert sniff(bad[0] + good[1] + good[2]) == "journal-export"
    assert sniff(good[0] + bad[1] + bad[2]) == "syslog"  # mostly damaged: no clear dump


def test_a_dump_cut_in_a_text_field(env: Env, tmp_path: Path) -> None:
    """`head -c 5000` of a dump: the cut entry is kept as unparsed text, then a read error says where."""
    data = SAMPLE.read_bytes()[:5000]
    path = tmp_path / "cut.export"
    path.write_bytes(data)
    result = read_path(path)
    start = data.rindex(b"\n\n") + 2
    *_, cut, error = result.items
    assert cut["MESSAGE"] == data[start:].decode()
    assert result.tags[len(result.items) - 2] == ("unparsed", "truncated")
    assert result.tagged("read_error") == [len(result.items) - 1]
    assert f"read error in {path} at byte 5000" in error["MESSAGE"]
    assert f"entry that starts at byte {start}" in error["MESSAGE"]
    out = tmp_path / "out.ndjson"
    assert main(["replay", "--quiet", "--output", "ndjson", "-o", str(out), str(path)], env) == 0
    assert "replay: warning: 1 read error" in env.stderr.getvalue()  # type: ignore[attr-defined]
    assert "read_error" in orjson.loads(out.read_bytes().splitlines()[-1])["tags"]


def test_only_an_entry_cut_in_a_field_is_cut() -> None:
    whole = export_entry({"MESSAGE": "last"})
    complete, complete_parser = parse(whole.rstrip(b"\n") + b"\n")  # without the blank line after it
    cut, cut_parser = parse(whole[: whole.index(b"MESSAGE=last") + len(b"MESSAGE=la")])
    assert [(item["MESSAGE"], tags) for item, tags, _ in complete] == [("last", None)]
    assert [tags for _, tags, _ in cut] == [("unparsed", "truncated")]
    assert complete_parser.cut is None and cut_parser.cut == 0


def test_a_binary_field_shorter_than_its_length_is_cut_unless_entries_follow() -> None:
    first, second = export_entry({"MESSAGE": "one"}, seq=1), export_entry({"MESSAGE": "two"}, seq=2)
    big = b"BIN\n" + (10_000).to_bytes(8, "little") + b"only a part"
    out, parser = parse(first + second[:-1] + big)
    assert [tags for _, tags, _ in out] == [None, ("unparsed", "truncated")] and parser.cut == len(first)
    assert out[1][0]["MESSAGE"].endswith("only a part") and out[1][0]["__REALTIME_TIMESTAMP"] == "1504104949000000"
    out, parser = parse(first + second[:-1] + big + b"\n\n" + first)  # a wrong length, not a cut
    assert [tags for _, tags, _ in out] == [None, ("unparsed",), None] and parser.cut is None


JSON_DUMP = SAMPLE.parents[2] / "derived/fedora37-no-rtc/failures.json"  # `journalctl -o json`: 30 entries


def test_a_json_dump_cut_in_a_line(env: Env, tmp_path: Path) -> None:
    """`head -c` of a JSON dump: the cut line is kept as unparsed text, then a read error says where."""
    whole = JSON_DUMP.read_bytes()
    start = whole.index(b"\n", len(whole) // 2) + 1
    data = whole[: start + 100]
    path = tmp_path / "cut.json"
    path.write_bytes(data)
    result = read_path(path)
    *entries, cut, error = result.items
    assert len(entries) == data.count(b"\n") and all("MESSAGE" in x for x in entries)
    assert cut["MESSAGE"] == data[start:].decode()
    assert result.tags == {len(entries): ("unparsed", "truncated"), len(entries) + 1: ("unparsed", "read_error")}
    assert f"read error in {path} at byte {len(data)}" in error["MESSAGE"]
    assert f"the input ends inside the JSON entry that starts at byte {start}" in error["MESSAGE"]
    assert "journalctl -o json ends every entry with a line end" in error["MESSAGE"]
    out = tmp_path / "out.ndjson"
    assert main(["replay", "--quiet", "--output", "ndjson", "-o", str(out), str(path)], env) == 0
    assert "replay: warning: 1 read error" in env.stderr.getvalue()  # type: ignore[attr-defined]
    *_, last_line, read_error = (orjson.loads(line) for line in out.read_bytes().splitlines())
    assert "truncated" in last_line["tags"] and "read_error" in read_error["tags"]


def test_a_json_dump_whose_last_line_has_no_line_end_is_not_cut(env: Env, tmp_path: Path) -> None:
    whole = JSON_DUMP.read_bytes()
    path = tmp_path / "dump.json"
    path.write_bytes(whole.rstrip(b"\n"))
    result = read_path(path)
    assert len(result.items) == 30 and result.tags == {}
    path.write_bytes(whole + b"[1, 2]")  # complete JSON, if not an entry: unparsed, not cut
    result = read_path(path)
    assert len(result.items) == 31 and result.tags == {30: ("unparsed",)}
    out = tmp_path / "out.ndjson"
    assert main(["replay", "--quiet", "--output", "ndjson", "-o", str(out), str(path)], env) == 0
    assert "read error" not in env.stderr.getvalue()  # type: ignore[attr-defined]
