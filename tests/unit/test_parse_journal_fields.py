"""Journal entries -> documents: the field mapping on real entries (journalctl JSON and export dumps,
the binary no-RTC journals), and the same entries read as journalctl text giving the same
second, host, process and message (what the deterministic id hashes)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shipper.event import TAG_INVALID_UTF8, TAG_UNPARSED, Doc, get_path
from shipper.parse.base import ParseContext
from shipper.parse.common import TAG_TIMESTAMP_INFERRED
from shipper.parse.journal_fields import journal_doc
from shipper.parse.journal_fields import JournalParser
from shipper.sources.base import Origin, RawChunk
from tests.helpers.parse import DATA, export_entries, json_entries, parse_fields, parse_text, read_lines

FEDORA = DATA / "corpus/derived/fedora37-no-rtc"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
MAPPED = {
    "MESSAGE", "_SOURCE_REALTIME_TIMESTAMP", "_HOSTNAME", "SYSLOG_IDENTIFIER", "SYSLOG_PID", "UNIT", "USER_UNIT",
    "INVOCATION_ID", "USER_INVOCATION_ID", "_SYSTEMD_SLICE", "_TRANSPORT", "MESSAGE_ID", "_BOOT_ID", "__CURSOR",
    "CODE_FUNC", "UNIT_RESULT", "EXIT_CODE", "EXIT_STATUS", "JOB_TYPE", "JOB_RESULT", "JOB_ID", "COMMAND", "PRIORITY",
    "SYSLOG_FACILITY",
}


FAILURE_IDS = {"98e322203f7a4ed290d09fe03c09fe15", "d9b373ed55a64feb8242e02dbe79a49c", "be02cf6855d2428ba40df7e9d022f03d"}


def failures() -> list[dict[str, Any]]:
    return json_entries(FEDORA / "failures.json")


def test_pid1_about_a_unit() -> None:
    """failures.json line 13: gdm.service's main process exited with status 1."""
    entry = failures()[12]
    doc = journal_doc(entry)
    assert doc["@timestamp"] == "2022-10-24T04:04:20.733697Z"  # _SOURCE_REALTIME_TIMESTAMP
    assert doc["message"] == "gdm.service: Main process exited, code=exited, status=1/FAILURE"
    assert doc["host"] == {"name": "fedora"}
    assert doc["process"] == {"name": "systemd", "pid": 1}
    assert doc["systemd"] == {
        "unit": "gdm.service",
        "invocation_id": "e7cb6f05a0f84c429b154630f201ecc3",
        "slice": "-.slice",
        "transport": "journal",
    }
    journald = dict(doc["journald"])
    custom = journald.pop("custom")
    assert journald == {
        "message_id": "98e322203f7a4ed290d09fe03c09fe15",
        "boot_id": "5ea5fc4f82a14186b5332a788ef9435e",
        "cursor": entry["__CURSOR"],
        "exit_code": "exited",
        "command": "ExecStart",
        "code": {"func": "unit_log_process_exit"},
        "exit_status": 1,
    }
    assert doc["log"] == {
        "syslog": {"priority": 29, "severity": {"code": 5, "name": "notice"}, "facility": {"code": 3, "name": "daemon"}},
        "level": "notice",
    }
    # The fallbacks that were not used stay, with every field nothing else took.
    assert custom["_SYSTEMD_UNIT"] == "init.scope" and custom["_COMM"] == "systemd"
    assert "_PID" not in custom  # no SYSLOG_PID: _PID was used
    assert custom["__REALTIME_TIMESTAMP"] == "1666584260758447"
    assert set(custom) == set(entry) - MAPPED - {"_PID"}
    assert doc["event"] == {"dataset": "journald", "kind": "event"} and "tags" not in doc


def test_user_manager_about_a_user_unit() -> None:
    """failures.json line 1: a user unit failed with result 'resources'."""
    doc = journal_doc(failures()[0])
    assert doc["@timestamp"] == "2022-10-24T04:00:53.027504Z"
    assert doc["process"] == {"name": "systemd", "pid": 1562}
    assert doc["systemd"]["unit"] == "user@1000.service"  # no UNIT: the unit that logged it
    assert doc["systemd"]["user_unit"] == "app-gnome-gnome\\x2dkeyring\\x2dpkcs11-1704.scope"
    assert doc["systemd"]["invocation_id"] == "64c10aa1c50644fb9db1acec88b0521b"  # USER_INVOCATION_ID
    assert doc["journald"]["unit_result"] == "resources"
    assert doc["journald"]["custom"]["_SYSTEMD_USER_UNIT"] == "init.scope"
    assert doc["journald"]["custom"]["_SYSTEMD_INVOCATION_ID"] == "000629ad69384e029feaade80c4e0d99"


def test_every_failure_entry() -> None:
    for entry, doc in zip(failures(), parse_fields(failures())):
        assert doc == journal_doc(entry)
        assert STAMP.match(doc["@timestamp"])
        assert doc["systemd"]["unit"] == entry.get("UNIT", entry["_SYSTEMD_UNIT"])
        assert doc["journald"]["message_id"] in FAILURE_IDS
        assert not set(doc["journald"]["custom"]) & MAPPED


def test_the_export_dump_gives_the_same_documents_as_the_json_dump() -> None:
    exported = export_entries((FEDORA / "failures.export").read_bytes())
    assert parse_fields(exported) == parse_fields(failures())


def text_key(doc: Doc) -> tuple[Any, ...]:
    # journalctl's text output prints a TAB as 8 spaces
    process = doc.get("process", {})
    message = doc["message"].replace("\t", " " * 8)
    return (doc["@timestamp"][:19], get_path(doc, "host.name"), process.get("name"), process.get("pid"), message)


def test_failures_read_as_json_and_as_journalctl_text_agree() -> None:
    journal = parse_fields(failures())
    text = Counter(map(text_key, parse_text("syslog", read_lines(FEDORA / "journal.short-iso.log"))))
    for doc in journal:
        assert text[text_key(doc)] >= 1, doc["message"]
    assert len(journal) == 30


def test_the_binary_no_rtc_journals_and_their_journalctl_text_agree(tmp_path: Path) -> None:
    """All 10,756 entries of the real Fedora journals (read file by file with systemd-python) against
    the 10,755 lines journalctl printed for them: one entry has an empty MESSAGE, which journalctl
    does not print."""
    journal_module = pytest.importorskip("systemd.journal")
    zstandard = pytest.importorskip("zstandard")
    entries: list[dict[str, Any]] = []
    converters = {k: _text for k in journal_module.DEFAULT_CONVERTERS}
    converters["__MONOTONIC_TIMESTAMP"] = lambda value: str(value[0])
    for packed in sorted((DATA / "corpus/real/systemd/no-rtc").glob("*.zst")):
        path = tmp_path / packed.name[:-4]
        with packed.open("rb") as src, path.open("wb") as dst:
            zstandard.ZstdDecompressor().copy_stream(src, dst)
        with journal_module.Reader(files=[str(path)], converters=converters) as reader:
            entries += list(reader)
    journal = Counter(map(text_key, parse_fields(entries)))
    text = Counter(map(text_key, parse_text("syslog", read_lines(FEDORA / "journal.short-iso.log"))))
    assert sum(journal.values()) == 10756 and sum(text.values()) == 10755
    assert not text - journal
    assert [k[4] for k in journal - text] == [""]


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.mark.parametrize(
    ("name", "entries"),
    [
        ("real/beats/journal1.export", 10),
        ("real/integrations/test.journal.export", 23),
        ("real/systemd/journal-1.txt", 1),
        ("real/systemd/sample.txt", 10),
    ],
)
def test_real_export_dumps(name: str, entries: int) -> None:
    fields = export_entries((DATA / "corpus" / name).read_bytes())
    docs = parse_fields(fields)
    assert len(docs) == len(fields) == entries
    for entry, doc in zip(fields, docs):
        assert STAMP.match(doc["@timestamp"]) and TAG_TIMESTAMP_INFERRED not in doc.get("tags", ())
        assert doc["message"] == entry.get("MESSAGE", "")


def test_a_multi_valued_binary_safe_field() -> None:
    (entry,) = export_entries((DATA / "corpus/real/systemd/journal-1.txt").read_bytes())
    doc = journal_doc(entry)
    assert doc["@timestamp"] == "2016-11-05T23:39:07.837945Z"
    assert doc["journald"]["custom"]["COREDUMP_PROC_CGROUP"] == [
        "1:name=systemd:/\n0::/user.slice/user-1002.slice/user@1002.service/gnome-terminal-server.service\n"
    ] * 2


def test_binary_values_invalid_utf8_and_odd_values() -> None:
    doc = journal_doc(
        {
            "MESSAGE": b"caf\xe9 au lait",
            "__REALTIME_TIMESTAMP": "1504104947000000",
            "_HOSTNAME": [b"gorp", b"other"],
            "SYSLOG_IDENTIFIER": "sendmail",
            "SYSLOG_PID": "24097",
            "_PID": "24097",
            "COREDUMP": b"\x7fELF\x00\xff",
            "TEXT_AS_BYTES": b"plain",
            "MANY": ["a", b"\xff"],
            "OVERSIZED": None,
            "PRIORITY": "nine",
        }
    )
    assert doc["message"] == "caf\udce9 au lait" and doc["tags"] == [TAG_INVALID_UTF8]  # U+FFFD once it has its id
    assert doc["host"] == {"name": "gorp"}
    assert doc["process"] == {"name": "sendmail", "pid": 24097}
    assert doc["journald"]["custom"] == {
        "_PID": "24097",
        "COREDUMP_base64": "f0VMRgD/",
        "TEXT_AS_BYTES": "plain",
        "MANY_base64": ["YQ==", "/w=="],
        "PRIORITY": "nine",
    }
    assert "log" not in doc


def test_unicode_digits_are_not_numbers() -> None:
    entry = {"__REALTIME_TIMESTAMP": "\u0661" * 16, "_PID": "\u00b2", "EXIT_STATUS": "\u0667\u0661", "PRIORITY": "\u0663"}
    doc = journal_doc(entry)
    assert doc["@timestamp"] == "1970-01-01T00:00:00.000000Z" and doc["tags"] == [TAG_TIMESTAMP_INFERRED]
    assert "process" not in doc and "log" not in doc
    assert doc["journald"]["custom"] == entry  # nothing of it was usable, nothing is lost


def test_entries_without_a_time_take_the_previous_one() -> None:
    origin = Origin("dump", "journal", mtime=1504104947.0)
    parser = JournalParser(origin, ParseContext("UTC"))
    entries = [
        {"MESSAGE": "first"},
        {"MESSAGE": "x", "__REALTIME_TIMESTAMP": "1504105000000001"},
        {"MESSAGE": "y", "__REALTIME_TIMESTAMP": "bad"},
    ]
    docs = parser.parse(RawChunk(origin, "fields", entries, tags={2: (TAG_UNPARSED,)}))
    assert [d["@timestamp"] for d in docs] == [
        "2017-08-30T14:55:47.000000Z",  # the mtime
        "2017-08-30T14:56:40.000001Z",
        "2017-08-30T14:56:40.000001Z",  # the previous entry's
    ]
    assert docs[0]["tags"] == [TAG_TIMESTAMP_INFERRED] and "tags" not in docs[1]
    assert docs[2]["tags"] == [TAG_TIMESTAMP_INFERRED, TAG_UNPARSED]
    assert parser.flush() == []


def test_text_lines_sent_to_the_journal_parser_are_kept_unparsed() -> None:
    origin = Origin("dump", "journal")
    docs = JournalParser(origin, ParseContext("UTC")).parse(RawChunk(origin, "text", ["not a dict"], [7]))
    assert docs[0]["message"] == "not a dict" and docs[0]["log"] == {"offset": 7}
    assert docs[0]["tags"] == [TAG_UNPARSED, TAG_TIMESTAMP_INFERRED]
