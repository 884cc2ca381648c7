"""The syslog parser on header shapes the corpus lacks (RFC 5424, journalctl output modes, locales),
on multi-line records across chunks, and on hostile input."""

from __future__ import annotations

import random
import re

import pytest

from shipper.event import TAG_INVALID_UTF8, TAG_META, TAG_TIMESTAMP_INFERRED, TAG_TRUNCATED, TAG_UNPARSED, Doc, get_path
from shipper.parse.base import ParseContext

from shipper.parse.dispatch import make_parser
from shipper.sources.base import Origin, RawChunk
from tests.helpers.parse import Lines, continuations, parse_text

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
ORIGIN = Origin("messages", "syslog", "/var/log/messages", mtime=1504108800.0)  # 2017-08-30T16:00Z


def parse(*lines: str, year: int | None = 2017, timezone: str = "UTC") -> list[Doc]:
    return parse_text("syslog", Lines(list(lines), [i * 1000 for i in range(len(lines))]), year=year, timezone=timezone)


def one(line: str, **ctx: object) -> Doc:
    docs = parse(line, **ctx)  # type: ignore[arg-type]
    assert len(docs) == 1
    return docs[0]


# -- RFC 5424 (the RFC's own examples, §6.5) ------------------------------------------------------


def test_rfc5424_with_bom_and_nil_values() -> None:
    doc = one("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8")
    assert doc["@timestamp"] == "2003-10-11T22:14:15.003000Z"
    assert doc["message"] == "'su root' failed for lonvick on /dev/pts/8"
    assert doc["host"] == {"name": "mymachine.example.com"}
    assert doc["process"] == {"name": "su"}
    assert doc["log"]["syslog"] == {
        "priority": 34,
        "facility": {"code": 4, "name": "auth"},
        "severity": {"code": 2, "name": "crit"},
        "version": "1",
        "hostname": "mymachine.example.com",
        "appname": "su",
        "msgid": "ID47",
    }
    assert doc["log"]["level"] == "crit"


def test_rfc5424_with_procid_and_zone_offset() -> None:
    doc = one("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.")
    assert doc["@timestamp"] == "2003-08-24T12:14:15.000003Z"
    assert doc["process"] == {"name": "myproc", "pid": 8710}
    assert doc["message"] == "%% It's time to make the do-nuts."
    assert get_path(doc, "log.syslog.facility.name") == "local4" and get_path(doc, "log.syslog.severity.name") == "notice"


def test_rfc5424_structured_data() -> None:
    doc = one(
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        'eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] \ufeffAn application event log entry...'
    )
    assert doc["message"] == "An application event log entry..."
    assert doc["log"]["syslog"]["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
        "examplePriority@32473": {"class": "high"},
    }
    doc = one('<165>1 2003-10-11T22:14:15.003Z host app - - [id@1 a="x\\"y\\\\z\\]w" b=""]')
    assert doc["log"]["syslog"]["structured_data"] == {"id@1": {"a": 'x"y\\z]w', "b": ""}}
    assert doc["message"] == ""


def test_rfc5424_nil_timestamp_and_broken_sd() -> None:
    docs = parse("<13>1 2017-08-30T14:55:47Z gorp app 1 - - first", "<13>1 - gorp app 2 - [broken no close")
    assert docs[1]["@timestamp"] == "2017-08-30T14:55:47.000000Z"
    assert docs[1]["tags"] == [TAG_TIMESTAMP_INFERRED]
    assert docs[1]["message"] == "[broken no close"


# -- PRI and FreeBSD -v/-vv ---------------------------------------------------------------------


def test_pri_before_an_rfc3164_header() -> None:
    doc = one("<13>Aug 30 14:55:47 gorp sendmail[24097]: daemon Daemon1: problem creating SMTP socket")
    assert doc["process"] == {"name": "sendmail", "pid": 24097}
    assert doc["log"]["syslog"]["priority"] == 13 and doc["log"]["level"] == "notice"
    assert doc["message"] == "daemon Daemon1: problem creating SMTP socket"


def test_pri_before_an_iso_header() -> None:
    doc = one("<30>2018-08-14T14:30:02.203151+02:00 linux-sqrz systemd[4179]: Stopped target Paths.")
    assert doc["@timestamp"] == "2018-08-14T12:30:02.203151Z"
    assert get_path(doc, "log.syslog.facility.name") == "daemon" and doc["log"]["level"] == "info"


# -- journalctl output modes and locales ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "stamp"),
    [
        ("2022-10-24T00:00:05+0000 fedora systemd[1]: Started x.", "2022-10-24T00:00:05.000000Z"),  # short-iso
        ("2022-10-24T00:00:05.123456+0000 fedora systemd[1]: Started x.", "2022-10-24T00:00:05.123456Z"),  # -precise
        ("Mon 2022-10-24 00:00:05 UTC fedora systemd[1]: Started x.", "2022-10-24T00:00:05.000000Z"),  # short-full
        ("Mon 2022-10-24 02:00:05 CEST fedora systemd[1]: Started x.", "2022-10-24T00:00:05.000000Z"),
        ("1666569605.123456 fedora systemd[1]: Started x.", "2022-10-24T00:00:05.123456Z"),  # short-unix
        ("Oct 24 02:00:05.123456 fedora systemd[1]: Started x.", "2022-10-24T00:00:05.123456Z"),  # short-precise
        ("Oct 24 02:00:05 fedora systemd[1]: Started x.", "2022-10-24T00:00:05.000000Z"),  # short
    ],
)
def test_journalctl_modes(line: str, stamp: str) -> None:
    doc = one(line, year=2022, timezone="Europe/Berlin")
    assert doc["@timestamp"] == stamp
    assert doc["host"] == {"name": "fedora"} and doc["process"] == {"name": "systemd", "pid": 1}
    assert doc["message"] == "Started x."


@pytest.mark.parametrize(
    ("month", "number"),
    [
        ("avril", 4), ("avr.", 4), ("févr.", 2), ("Mär", 3), ("Okt", 10), ("dic", 12), ("ene", 1), ("gen", 1),
        ("ago", 8), ("out", 10), ("mrt", 3), ("mei", 5), ("янв", 1), ("мая", 5), (" 1월", 1), ("10월", 10),
        (" 2月", 2), ("12月", 12), ("3月", 3), ("Jän", 1), ("sept.", 9),
    ],
)
def test_localised_month_names(month: str, number: int) -> None:
    doc = one(f"{month} 20 17:37:07 tourny elasticsearch[10763]: ERROR: [1] bootstrap checks failed", year=2020)
    assert doc["@timestamp"] == f"2020-{number:02d}-20T17:37:07.000000Z"
    assert doc["process"] == {"name": "elasticsearch", "pid": 10763}


def test_journalctl_header_lines_are_meta_documents() -> None:
    docs = parse(
        "-- Logs begin at Fri 2020-08-14 08:39:06 UTC, end at Fri 2020-08-14 09:15:49 UTC. --",
        "Aug 14 09:03:22 docker systemd[1]: Unit nginx.service cannot be reloaded because it is inactive.",
        "-- Reboot --",
        "-- Boot 5ea5fc4f82a14186b5332a788ef9435e --",
        "-- No entries --",
        year=2020,
    )
    assert [d.get("tags") for d in docs] == [[TAG_META, TAG_TIMESTAMP_INFERRED], None] + [[TAG_META, TAG_TIMESTAMP_INFERRED]] * 3
    assert docs[0]["@timestamp"] == "2020-08-14T09:03:22.000000Z"  # the first dated line's
    assert docs[2]["@timestamp"] == "2020-08-14T09:03:22.000000Z"


def test_catalog_text_of_journalctl_x_folds_into_its_entry() -> None:
    docs = parse(
        "-- Subject: orphan catalog text",
        "Aug 14 09:15:47 docker systemd[1]: Failed to start The nginx HTTP and reverse proxy server.",
        "-- Subject: Unit nginx.service has failed",
        "-- Defined-By: systemd",
        "-- ",
        "-- Unit nginx.service has failed.",
        "Aug 27 12:26:08 docker4 systemd[1]: emonhub.service: Failed with result 'exit-code'.",
        "░░ Subject: Unit failed",
        "░░ ",
        year=2020,
    )
    assert len(docs) == 3
    assert docs[0]["tags"] == [TAG_UNPARSED, TAG_TIMESTAMP_INFERRED]
    assert docs[1]["message"].splitlines() == [
        "Failed to start The nginx HTTP and reverse proxy server.",
        "-- Subject: Unit nginx.service has failed",
        "-- Defined-By: systemd",
        "-- ",
        "-- Unit nginx.service has failed.",
    ]
    assert docs[2]["message"] == "emonhub.service: Failed with result 'exit-code'.\n░░ Subject: Unit failed\n░░ "


# -- multi-line records, chunks, tags, inferred times ------------------------------------------------


def chunk(items: list[str], start: int = 0, tags: dict[int, tuple[str, ...]] | None = None) -> RawChunk:
    return RawChunk(ORIGIN, "text", items, [start + i * 100 for i in range(len(items))], tags or {})


def test_a_record_stays_open_across_chunks_until_flush() -> None:
    parser = make_parser(ORIGIN, ParseContext("UTC", 2017))
    first = parser.parse(chunk(["Aug 30 14:55:47 gorp app[1]: one", "Aug 30 14:55:48 gorp app[1]: two"]))
    assert [d["message"] for d in first] == ["one"]  # "two" may still be continued
    second = parser.parse(chunk(["\tcontinued", "  and again"], 200, {1: (TAG_TRUNCATED,)}))
    assert second == []
    tail = parser.flush()
    assert [d["message"] for d in tail] == ["two\n\tcontinued\n  and again"]
    assert tail[0]["tags"] == [TAG_TRUNCATED] and tail[0]["log"]["offset"] == 100
    assert parser.flush() == []


def test_a_restored_state_is_not_changed_by_the_lines_after_it() -> None:
    """A parallel replay restores one state into several parsers (a block done again, and the
    comparison with the next block's start): lines that continue the held record must change the
    parser's copy, not the state it was given."""
    parser = make_parser(ORIGIN, ParseContext("UTC", 2017))
    parser.parse(chunk(["Aug 30 14:55:48 gorp app[1]: two"]))
    state = parser.state()
    before = repr(state)
    for _ in range(2):
        again = make_parser(ORIGIN, ParseContext("UTC", 2017))
        again.restore(state)
        assert again.parse(chunk(["\tcontinued"], 100)) == []
        assert [d["message"] for d in again.flush()] == ["two\n\tcontinued"]
    assert repr(state) == before


def test_item_tags_are_copied_to_the_document() -> None:
    parser = make_parser(ORIGIN, ParseContext("UTC", 2017))
    tags = {0: (TAG_INVALID_UTF8,), 1: (TAG_TRUNCATED, TAG_INVALID_UTF8)}
    docs = parser.parse(chunk(["Aug 30 14:55:47 gorp app[1]: caf\ufffd", "garbage \ufffd"], tags=tags))
    docs += parser.flush()
    assert docs[0]["tags"] == [TAG_INVALID_UTF8]
    assert docs[1]["tags"] == [TAG_UNPARSED, TAG_TIMESTAMP_INFERRED, TAG_TRUNCATED, TAG_INVALID_UTF8]


def test_unparsed_lines_take_the_previous_time_else_the_next_else_the_mtime() -> None:
    parser = make_parser(ORIGIN, ParseContext("UTC", None))
    docs = parser.parse(chunk(["first, no header", "Aug 30 14:55:47 gorp app[1]: ok", "then garbage"])) + parser.flush()
    assert [d["@timestamp"] for d in docs] == [
        "2017-08-30T14:55:47.000000Z",  # before any dated line: the first one's
        "2017-08-30T14:55:47.000000Z",  # year from the mtime
        "2017-08-30T14:55:47.000000Z",
    ]
    assert docs[0]["message"] == "first, no header" and docs[0]["tags"] == [TAG_UNPARSED, TAG_TIMESTAMP_INFERRED]
    parser = make_parser(ORIGIN, ParseContext("UTC", None))
    docs = parser.parse(chunk(["no header", "none either"])) + parser.flush()
    assert [d["@timestamp"] for d in docs] == ["2017-08-30T16:00:00.000000Z"] * 2  # no dated line: the file's mtime


def test_stdin_without_path_or_offsets() -> None:
    origin = Origin("stdin", "syslog")
    parser = make_parser(origin, ParseContext("UTC", 2017))
    docs = parser.parse(RawChunk(origin, "text", ["Aug 30 14:55:47 gorp app[1]: ok", "junk"])) + parser.flush()
    assert "log" not in docs[0] and "log" not in docs[1]
    assert docs[0]["process"] == {"name": "app", "pid": 1}


def test_no_event_id_and_no_shared_objects() -> None:
    docs = parse("Aug 30 14:55:47 gorp app[1]: a", "Aug 30 14:55:47 gorp app[1]: b")
    assert "id" not in docs[0]["event"]
    assert docs[0]["event"] is not docs[1]["event"] and docs[0]["log"] is not docs[1]["log"]


def test_journal_entries_sent_to_the_syslog_parser_are_not_lost() -> None:
    parser = make_parser(ORIGIN, ParseContext("UTC", 2017))
    docs = parser.parse(RawChunk(ORIGIN, "fields", [{"MESSAGE": "hello", "__REALTIME_TIMESTAMP": "1504104947000000"}]))
    assert docs[0]["message"] == "hello" and docs[0]["event"]["dataset"] == "journald"


# -- hostile input -----------------------------------------------------------------------------------


def source_lines(data: bytes) -> Lines:
    """Lines as a source makes them: split, decoded with replacement, tagged."""
    out = Lines([], [])
    pos = 0
    for i, raw in enumerate(data.split(b"\n")):
        out.offsets.append(pos)
        pos += len(raw) + 1
        try:
            out.items.append(raw.decode())
        except UnicodeDecodeError:
            out.items.append(raw.decode("utf-8", "replace"))
            out.tags[i] = (TAG_INVALID_UTF8,)
    return out


@pytest.mark.parametrize("fmt", ["syslog", "elasticsearch"])
def test_random_bytes_nuls_and_invalid_utf8_lose_nothing(fmt: str) -> None:
    rnd = random.Random(7)
    good = b"Aug 30 14:55:47 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket"
    parts = [rnd.randbytes(rnd.randint(0, 300)) for _ in range(300)]
    parts += [b"\x00" * 50, good.replace(b"gorp", b"go\x00rp"), good + b"\xff\xfe", b"\t\x00\xff", good]
    lines = source_lines(b"\n".join(parts))
    docs = parse_text(fmt, lines, year=2017)  # type: ignore[arg-type]
    folded = continuations(docs, lines)
    assert len(docs) + len(folded) == len(lines.items)
    for doc in docs:
        assert STAMP.match(doc["@timestamp"]) and isinstance(doc["message"], str)
    invalid = [d for d in docs if TAG_INVALID_UTF8 in d.get("tags", ())]
    assert len(invalid) >= sum(1 for i in lines.tags if i not in folded) > 100


def test_a_one_megabyte_line() -> None:
    big = "x" * (1 << 20)
    docs = parse(f"Aug 30 14:55:47 gorp app[1]: {big}", "\t" + big, big, "\t" + big)
    assert len(docs) == 3
    assert docs[0]["message"] == big + "\n\t" + big and docs[0]["process"] == {"name": "app", "pid": 1}
    assert docs[1]["message"] == big and docs[1]["tags"] == [TAG_UNPARSED, TAG_TIMESTAMP_INFERRED]
    assert docs[2]["message"] == "\t" + big  # nothing folds into an unparsed line


def test_unicode_digits_are_not_numbers() -> None:
    docs = parse(
        "Aug 30 14:55:47 gorp app[1]: ok",
        "Aug 3\u00b2 14:55:47 gorp app[1]: superscript day",
        "Aug 30 14:55:4\u0663 gorp app[1]: arabic-indic second",
        "<1\u0663>Aug 30 14:55:47 gorp app[1]: in the PRI",
        "2022-10-24T00:00:0\u0665+0000 fedora app[1]: in an ISO stamp",
        "Aug 30 14:55:48 gorp app[\u0661\u0662]: in the pid",
    )
    assert len(docs) == 6
    for doc in docs:
        assert STAMP.match(doc["@timestamp"]) and doc["@timestamp"].isascii()
    assert [d["@timestamp"][17:19] for d in docs] == ["47", "47", "47", "47", "47", "48"]
    assert docs[5]["message"] == "app[\u0661\u0662]: in the pid" and "process" not in docs[5]


HOT_PATH_LINES = [
    "2022-10-24T00:00:05+0000 fedora systemd[1]: Started x.",
    "2022-10-24T00:00:05.123456789+02:00 fedora systemd: Started x.",
    "2022-10-24T00:00:05.123-05:30 fedora systemd[1]: Started x.",
    "2022-10-24T00:00:05Z fedora systemd[1]: Started x.",
    "2022-02-30T00:00:05Z fedora systemd[1]: an invalid date",
    "2022-10-24T00:00:05Z fedora no tag here",
    "2022-10-24T00:00:05Z fedora: the tag where the host would be",
    "2022-10-24T00:00:05+02 fedora systemd[1]: a short zone",
    "2022-10-24T00:00:60Z fedora systemd[1]: a leap second",
    "Oct 24 02:00:05 fedora systemd[1]: Started x.",
    "Oct 24 02:00:60 fedora systemd[1]: a leap second",
    "Feb 30 02:00:05 fedora systemd[1]: an invalid date",
    "Oct 24 02:00:05 fedora: no host",
    "Oct 24 02:00:05 fedora sshd[12]:no space",
]


def test_hot_paths_give_what_the_general_path_gives() -> None:
    """The hot paths (RFC 3164 and ISO stamps with a zone) are shortcuts: lines read without
    offsets take the general path, and must come out the same (but for ``log.offset``)."""

    def read(offsets: list[int] | None) -> list[Doc]:
        parser = make_parser(ORIGIN, ParseContext("Europe/Berlin", 2022))
        docs = parser.parse(RawChunk(ORIGIN, "text", HOT_PATH_LINES, offsets)) + parser.flush()
        for doc in docs:
            doc.get("log", {}).pop("offset", None)
        return docs

    hot, general = read(list(range(len(HOT_PATH_LINES)))), read(None)
    assert len(hot) == len(HOT_PATH_LINES)
    for line, a, b in zip(HOT_PATH_LINES, hot, general):
        assert a == b, line
