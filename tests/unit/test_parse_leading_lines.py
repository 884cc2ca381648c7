"""An input's undated first lines take the time of the first dated line after them.

The field report's `systemctl status` paste (tests/data/pasted/systemctl-status-sendmail.txt) starts
with five lines without a time ("● sendmail.service - ...", "Loaded:", "Active: failed ... since
...", "Process:", "Main PID:") above the unit's journal lines. With the file's mtime (the paste
saved three months after the failure) one incident would span three months. They wait for the
first dated line (14:55:47) and take its time, still tagged
``timestamp_inferred``; only without a dated line within `LEADING_DOCS` documents (or
`LEADING_CHARS` characters), or before the input ends, do they take the mtime. Nothing is dropped
or reordered, whatever the chunks, and the parser's state carries the waiting lines.
"""

from __future__ import annotations

import calendar
import os
import shutil
from pathlib import Path

import orjson
import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.event import TAG_TIMESTAMP_INFERRED, TAG_UNPARSED, Doc
from shipper.parse.base import ParseContext
from shipper.parse.common import LEADING_CHARS, LEADING_DOCS
from shipper.parse.dispatch import make_parser
from shipper.parse.syslog import SyslogParser
from shipper.sources.base import Origin, RawChunk
from tests.helpers.parse import Lines, parse_text, read_lines

PASTE = Path(__file__).resolve().parents[1] / "data" / "pasted" / "systemctl-status-sendmail.txt"
SAVED = calendar.timegm((2017, 11, 27, 22, 50, 10))  # the paste's mtime: three months after the failure
FIRST_DATED = "2017-08-30T14:55:47.000000Z"  # "Aug 30 14:55:47 gorp sendmail[24097]: ..."
MTIME = "2017-11-27T22:50:10.000000Z"
STATUS_LINES = 5


def paste(tmp_path: Path) -> Path:
    path = tmp_path / "status.txt"
    shutil.copy(PASTE, path)
    os.utime(path, (SAVED, SAVED))
    return path


def replay_ndjson(env: Env, path: Path, out: Path, workers: str) -> list[Doc]:
    args = ["replay", "--timezone", "UTC", "--workers", workers, "--output", "ndjson", "-o", str(out), str(path)]
    assert main(args, env) == 0
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_the_status_block_takes_the_time_of_the_journal_lines_below_it(env: Env, tmp_path: Path) -> None:
    lines = PASTE.read_text().splitlines()
    docs = replay_ndjson(env, paste(tmp_path), tmp_path / "out.ndjson", "0")
    assert [d["message"] for d in docs[:STATUS_LINES]] == lines[:STATUS_LINES]  # every line, in order
    assert [d["message"] for d in docs[STATUS_LINES:]] == [line.split(": ", 1)[1] for line in lines[STATUS_LINES:]]
    for doc in docs[:STATUS_LINES]:
        assert doc["@timestamp"] == FIRST_DATED
        assert doc["tags"] == [TAG_UNPARSED, TAG_TIMESTAMP_INFERRED]
    journal = docs[STATUS_LINES:]
    assert [d["@timestamp"][11:19] for d in journal] == [line[7:15] for line in lines[STATUS_LINES:]]
    assert all("tags" not in d for d in journal)


def test_the_incident_spans_its_twenty_seconds_not_three_months(env: Env, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    assert main(["replay", "--timezone", "UTC", "--store", str(db), str(paste(tmp_path))], env) == 0
    assert main(["causes", "--store", str(db), "--format", "json"], env) == 0
    (incident,) = orjson.loads(env.stdout.getvalue())["incidents"]  # type: ignore[attr-defined]
    assert incident["unit"] == "sendmail.service" and incident["host"] == "gorp"
    assert (incident["first"], incident["last"]) == (FIRST_DATED, "2017-08-30T14:56:07.000000Z")
    assert incident["when"] == "2017-08-30T14:56:07.000000Z"  # the exit's own time, not the status block's
    assert incident["events"] == 12  # the status block's failure and PID lines are in it
    assert MTIME not in env.stdout.getvalue()  # type: ignore[attr-defined]


def test_workers_give_the_status_block_the_same_time(env: Env, tmp_path: Path) -> None:
    path = paste(tmp_path)
    one = replay_ndjson(env, path, tmp_path / "one.ndjson", "0")
    assert replay_ndjson(env, path, tmp_path / "two.ndjson", "2") == one


def parse_paste(chunk: int, mtime: float | None = SAVED) -> list[Doc]:
    return parse_text("syslog", read_lines(PASTE), year=2017, mtime=mtime, chunk=chunk)


def test_the_same_documents_whatever_the_chunks() -> None:
    whole = parse_paste(1000)
    assert [d["@timestamp"] for d in whole[:STATUS_LINES]] == [FIRST_DATED] * STATUS_LINES
    for chunk in range(1, len(whole) + 1):
        assert parse_paste(chunk) == whole, f"chunks of {chunk} lines"


def test_the_state_carries_the_waiting_lines_to_another_parser() -> None:
    """As a parallel replay does between blocks: `state` after any line, `restore` in a new
    parser, the rest there; the documents of both are those of one parser."""
    lines = read_lines(PASTE)
    whole = parse_paste(1000)
    origin = Origin("t", "syslog", "/var/log/test.log", mtime=SAVED)
    for cut in range(len(lines.items) + 1):
        first = make_parser(origin, ParseContext("UTC", 2017))
        docs = first.parse(_chunk(origin, lines, 0, cut))
        second = make_parser(origin, ParseContext("UTC", 2017))
        second.restore(first.state())
        assert second.state() == first.state()
        docs += second.parse(_chunk(origin, lines, cut, len(lines.items))) + second.flush()
        assert docs == whole, f"cut after line {cut}"


def _chunk(origin: Origin, lines: Lines, start: int, stop: int) -> RawChunk:
    return RawChunk(origin, "text", lines.items[start:stop], lines.offsets[start:stop])


def undated(n: int, width: int = 10) -> list[str]:
    return [f"no time {i} " + "x" * width for i in range(n)]


def parse_lines(items: list[str], chunk: int = 7) -> tuple[list[list[Doc]], list[Doc]]:
    """Each chunk's documents, and what `flush` gives (a file saved at ``SAVED``)."""
    origin = Origin("t", "syslog", "/var/log/test.log", mtime=SAVED)
    parser = make_parser(origin, ParseContext("UTC", 2017))
    lines = Lines(items, [i * 100 for i in range(len(items))])
    given = [parser.parse(_chunk(origin, lines, k, k + chunk)) for k in range(0, len(items), chunk)]
    return given, parser.flush()


def test_without_a_dated_line_they_take_the_mtime_when_the_input_ends() -> None:
    given, flushed = parse_lines(undated(20))
    assert given == [[]] * 3  # they waited
    assert [d["message"] for d in flushed] == undated(20)
    assert {d["@timestamp"] for d in flushed} == {MTIME}


def test_they_wait_for_a_bounded_number_of_documents() -> None:
    dated = "Aug 30 14:55:47 gorp app[1]: at last"
    given, flushed = parse_lines([*undated(LEADING_DOCS), "one too many", dated, "after it"], chunk=1)
    assert given[:LEADING_DOCS] == [[]] * LEADING_DOCS  # as many as may wait
    released = given[LEADING_DOCS]  # given with the line past the bound, before the dated line
    assert [d["message"] for d in released] == [*undated(LEADING_DOCS), "one too many"]
    assert {d["@timestamp"] for d in released} == {MTIME}
    rest = [d for docs in given[LEADING_DOCS + 1 :] for d in docs] + flushed
    assert [(d["message"], d["@timestamp"]) for d in rest] == [("at last", FIRST_DATED), ("after it", FIRST_DATED)]


def test_they_wait_for_a_bounded_number_of_characters() -> None:
    wide = undated(LEADING_CHARS // 60_000 + 1, 60_000)  # a few long lines
    given, _ = parse_lines([*wide, "Aug 30 14:55:47 gorp app[1]: at last"], chunk=1)
    released = [d for docs in given[: len(wide)] for d in docs]
    assert [d["message"] for d in released] == wide and {d["@timestamp"] for d in released} == {MTIME}


def test_a_dated_record_held_open_gives_them_its_time_at_once() -> None:
    """The dated line is the chunk's last (held: a next line may continue it); the lines before it
    do not wait for the next chunk (the daemon would hold them until the file grows)."""
    status = ["● x.service - X", "   Active: failed", "Aug 30 14:55:47 gorp app[1]: first"]
    given, flushed = parse_lines(status, chunk=3)
    assert [(d["message"], d["@timestamp"]) for d in given[0]] == [
        ("● x.service - X", FIRST_DATED), ("   Active: failed", FIRST_DATED)]
    assert [d["message"] for d in flushed] == ["first"]


def test_only_the_first_lines_wait() -> None:
    """After a dated line, an undated one takes the previous record's time at once, as before."""
    given, _ = parse_lines(["Aug 30 14:55:47 gorp app[1]: one", "junk", "Aug 30 14:55:50 gorp app[1]: two"], chunk=2)
    assert [(d["message"], d["@timestamp"]) for d in given[0]] == [("one", FIRST_DATED), ("junk", FIRST_DATED)]


def test_lines_read_elsewhere_end_the_wait() -> None:
    """The express lane tells the parser of lines it took (`passed`): what comes after them is not
    the input's first lines any more."""
    origin = Origin("t", "syslog", "/var/log/test.log", mtime=SAVED)
    parser = make_parser(origin, ParseContext("UTC", 2017))
    assert isinstance(parser, SyslogParser) and not parser.waiting()
    assert parser.parse(_chunk(origin, Lines(["junk"], [0]), 0, 1)) == []
    assert parser.waiting()
    assert [d["@timestamp"] for d in parser.flush()] == [MTIME]
    parser.passed(FIRST_DATED)
    docs = parser.parse(_chunk(origin, Lines(["more junk"], [100]), 0, 1))
    assert [d["@timestamp"] for d in docs] == [FIRST_DATED]


def test_elasticsearch_console_lines_above_the_log_take_its_first_time() -> None:
    """The same for the Elasticsearch parser: a status block and console lines above the log."""
    path = PASTE.parents[1] / "corpus" / "excerpts" / "elasticsearch" / "es7.3.1-rpm-systemd-status78-and-log.log"
    docs = parse_text("elasticsearch", read_lines(path), timezone="Europe/London")
    first = next(i for i, d in enumerate(docs) if TAG_TIMESTAMP_INFERRED not in d.get("tags", ()))
    assert first > 5 and docs[first]["@timestamp"] == "2022-09-05T02:38:26.308000Z"
    assert {d["@timestamp"] for d in docs[:first]} == {docs[first]["@timestamp"]}
