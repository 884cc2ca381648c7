"""The journal mapping where a field is used or kept: fallbacks, odd numbers, both stamps. Every
field of an entry ends up in the document, mapped or in journald.custom (in the entry's order)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from shipper.event import TAG_TIMESTAMP_INFERRED
from shipper.parse.journal_fields import journal_doc

STAMP = "1504104947000123"  # 2017-08-30T14:55:47.000123Z
DAEMON = {"code": 3, "name": "daemon"}
INFO = {"code": 6, "name": "info"}


def doc_of(**fields: Any) -> dict[str, Any]:
    entry = dict(fields)
    doc = journal_doc(entry)
    assert entry == fields  # the entry is not changed
    return doc


def custom(doc: dict[str, Any]) -> dict[str, Any] | None:
    return doc.get("journald", {}).get("custom")


def test_an_entry_of_common_fields_only_has_no_custom() -> None:
    doc = doc_of(
        __REALTIME_TIMESTAMP=STAMP, _BOOT_ID="b" * 32, _HOSTNAME="gorp", SYSLOG_IDENTIFIER="sendmail", _PID="24097",
        PRIORITY="3", _TRANSPORT="syslog", MESSAGE="daemon MTA: problem creating SMTP socket", __CURSOR="s=1;i=2",
    )
    assert orjson.dumps(doc) == orjson.dumps({
        "@timestamp": "2017-08-30T14:55:47.000123Z",
        "message": "daemon MTA: problem creating SMTP socket",
        "event": {"dataset": "journald", "kind": "event"},
        "host": {"name": "gorp"},
        "process": {"name": "sendmail", "pid": 24097},
        "systemd": {"transport": "syslog"},
        "log": {"syslog": {"severity": {"code": 3, "name": "err"}}, "level": "err"},
        "journald": {"boot_id": "b" * 32, "cursor": "s=1;i=2"},
    })  # byte for byte: the key order is part of the output


@pytest.mark.parametrize(
    ("priority", "facility", "log", "kept"),
    [
        ("6", "3", {"syslog": {"facility": DAEMON, "severity": INFO, "priority": 30}, "level": "info"}, {}),
        (None, "23", {"syslog": {"facility": {"code": 23, "name": "local7"}}}, {}),
        ("06", None, {"syslog": {"severity": INFO}, "level": "info"}, {}),  # not as journald writes it
        ("8", "3", {"syslog": {"facility": DAEMON}}, {"PRIORITY": "8"}),
        ("7", "24", {"syslog": {"severity": {"code": 7, "name": "debug"}}, "level": "debug"}, {"SYSLOG_FACILITY": "24"}),
        ("", "x", None, {"PRIORITY": "", "SYSLOG_FACILITY": "x"}),
    ],
)
def test_priority_and_facility(priority: str | None, facility: str | None, log: Any, kept: dict[str, str]) -> None:
    fields = {"MESSAGE": "m", "__REALTIME_TIMESTAMP": STAMP}
    if priority is not None:
        fields["PRIORITY"] = priority
    if facility is not None:
        fields["SYSLOG_FACILITY"] = facility
    doc = doc_of(**fields)
    assert doc.get("log") == log
    assert (custom(doc) or {}) == kept


def test_fallbacks_not_used_are_kept_in_the_entrys_order() -> None:
    doc = doc_of(
        _COMM="systemd", X_FIRST="1", _SYSTEMD_UNIT="init.scope", UNIT="gdm.service", SYSLOG_PID="x12",
        _PID="1", SYSLOG_IDENTIFIER="systemd", _SYSTEMD_INVOCATION_ID="i0", INVOCATION_ID="i1",
        _SOURCE_REALTIME_TIMESTAMP=STAMP, __REALTIME_TIMESTAMP="1504104948000000", X_LAST="2",
    )
    assert doc["@timestamp"] == "2017-08-30T14:55:47.000123Z"  # the source's stamp
    assert doc["process"] == {"name": "systemd", "pid": 1}  # SYSLOG_PID is no number: _PID
    assert doc["systemd"] == {"unit": "gdm.service", "invocation_id": "i1"}
    assert list(custom(doc) or {}) == [
        "_COMM", "X_FIRST", "_SYSTEMD_UNIT", "SYSLOG_PID", "_SYSTEMD_INVOCATION_ID", "__REALTIME_TIMESTAMP", "X_LAST",
    ]


def test_an_invalid_source_stamp_is_kept_and_the_received_one_used() -> None:
    doc = doc_of(MESSAGE="m", _SOURCE_REALTIME_TIMESTAMP="soon", __REALTIME_TIMESTAMP=STAMP)
    assert doc["@timestamp"] == "2017-08-30T14:55:47.000123Z" and "tags" not in doc
    assert custom(doc) == {"_SOURCE_REALTIME_TIMESTAMP": "soon"}


def test_no_valid_stamp_keeps_both() -> None:
    fields = {"MESSAGE": "m", "_SOURCE_REALTIME_TIMESTAMP": "", "__REALTIME_TIMESTAMP": "12x"}
    doc = journal_doc(fields, "2020-01-01T00:00:00.000000Z")
    assert doc["@timestamp"] == "2020-01-01T00:00:00.000000Z" and doc["tags"] == [TAG_TIMESTAMP_INFERRED]
    assert custom(doc) == {"_SOURCE_REALTIME_TIMESTAMP": "", "__REALTIME_TIMESTAMP": "12x"}


def test_a_unit_record_and_a_job() -> None:
    doc = doc_of(
        MESSAGE="sendmail.service: Failed with result 'exit-code'.", __REALTIME_TIMESTAMP=STAMP,
        UNIT="sendmail.service", UNIT_RESULT="exit-code", EXIT_CODE="exited", EXIT_STATUS="71", COMMAND="ExecStart",
        CODE_FUNC="unit_log_failure", JOB_TYPE="start", JOB_RESULT="failed", JOB_ID="",
        MESSAGE_ID="d9b373ed55a64feb8242e02dbe79a49c",
    )
    assert doc["journald"] == {
        "message_id": "d9b373ed55a64feb8242e02dbe79a49c", "unit_result": "exit-code", "exit_code": "exited",
        "command": "ExecStart", "code": {"func": "unit_log_failure"}, "job": {"type": "start", "result": "failed"},
        "exit_status": 71,
    }  # an empty field is dropped, as everywhere


def test_an_exit_status_that_is_no_number_is_kept() -> None:
    doc = doc_of(MESSAGE="m", __REALTIME_TIMESTAMP=STAMP, EXIT_STATUS="71/OSERR", CODE_FUNC="f")
    assert doc["journald"] == {"code": {"func": "f"}, "custom": {"EXIT_STATUS": "71/OSERR"}}
