"""Journal entries (field dicts from ``.journal`` files, export or JSON dumps) -> documents.

Values are ``str``, ``bytes`` (binary or not UTF-8) or a ``list`` of those (a field with several
values); ``None`` (an oversized field in ``journalctl -o json``) is skipped. Mapping (docs/fields.md):

* ``@timestamp``: ``_SOURCE_REALTIME_TIMESTAMP`` when present and valid, else
  ``__REALTIME_TIMESTAMP`` -- the stamp journalctl's text output prints, so an entry and its
  journalctl / ForwardToSyslog line fall in the same second (the deterministic id needs that).
  Neither: the previous entry's, tagged ``timestamp_inferred``.
* ``process.name`` = ``SYSLOG_IDENTIFIER`` else ``_COMM``; ``process.pid`` = ``SYSLOG_PID`` else
  ``_PID``; ``host.name`` = ``_HOSTNAME``.
* ``systemd.unit`` = ``UNIT`` (PID 1 about a unit) else ``_SYSTEMD_UNIT``; ``systemd.user_unit`` =
  ``USER_UNIT`` else ``_SYSTEMD_USER_UNIT``; ``systemd.invocation_id`` = ``INVOCATION_ID`` /
  ``USER_INVOCATION_ID`` else ``_SYSTEMD_INVOCATION_ID``; ``systemd.slice``, ``systemd.transport``.
* ``log.syslog.severity`` from ``PRIORITY``, ``.facility`` from ``SYSLOG_FACILITY``, ``.priority``
  when both are known; ``log.level`` = the severity keyword.
* ``journald.*`` per docs/fields.md; every other field into ``journald.custom`` under its own
  name, including a fallback field that was not used (``_COMM`` when ``SYSLOG_IDENTIFIER`` named
  the process). A binary value that is not UTF-8 goes there base64-encoded as ``<NAME>_base64``.
* An entry whose ``MESSAGE``, ``_HOSTNAME``, ``SYSLOG_IDENTIFIER`` or ``_COMM`` (what its id is made
  of, `shipper.ids.content_key`) is not UTF-8 is tagged ``invalid_utf8``; their bytes are kept as
  surrogateescape does until the id is made of them, then replaced with U+FFFD (`shipper.ids.settle`):
  entries that differ only in those bytes get different ids, as their ForwardToSyslog lines do.
  A mapped field with several values (rare: journald keeps them all) gives its first value.

`journal_doc` is the mapping. A C extension (``_journaldoc.c``) builds the same documents for the
common entry, in 0.9 instead of 2.4 µs (1.5 instead of 3.4 for the ~30 fields of a desktop's
entries), and calls `journal_doc` for the others (`NATIVE` says whether it was built; without it,
`journal_doc` does all of them). A test compares both.
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Mapping, Sequence

from shipper.event import TAG_INVALID_UTF8, TAG_TIMESTAMP_INFERRED, Doc
from shipper.parse.base import ParseContext
from shipper.parse.common import gc_paused
from shipper.parse.syslog_fields import FACILITIES, SEVERITIES, syslog_fields
from shipper.parse.timestamps import FALLBACK_TIMESTAMP, from_epoch, from_epoch_micros
from shipper.sources.base import Origin, RawChunk

DATASET = "journald"

# Fields whose value is a keyword of the document (the first value if there are several);
# every other field is kept in journald.custom as it is.
_KEYWORD_FIELDS = frozenset(
    {"MESSAGE", "_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP", "_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM",
     "SYSLOG_PID", "_PID", "UNIT", "_SYSTEMD_UNIT", "USER_UNIT", "_SYSTEMD_USER_UNIT", "INVOCATION_ID",
     "USER_INVOCATION_ID", "_SYSTEMD_INVOCATION_ID", "_SYSTEMD_SLICE", "_TRANSPORT", "MESSAGE_ID", "_BOOT_ID",
     "__CURSOR", "CODE_FUNC", "UNIT_RESULT", "EXIT_CODE", "EXIT_STATUS", "JOB_TYPE", "JOB_RESULT", "JOB_ID",
     "COMMAND", "PRIORITY", "SYSLOG_FACILITY"}
)
# The fields an id is made of (`shipper.ids.content_key`; the PIDs are numbers or left out): bytes
# that are not UTF-8 are kept there for the id (`_normalise`).
_ID_FIELDS = frozenset({"MESSAGE", "_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM"})
# What PID 1 adds when it speaks about a unit or a job: looked up (with CODE_FUNC, EXIT_STATUS and
# the JOB_ fields) only in entries that still have fields after the common ones are taken.
_UNIT_RECORD = (("UNIT_RESULT", "unit_result"), ("EXIT_CODE", "exit_code"), ("COMMAND", "command"))
_JOB = (("JOB_TYPE", "type"), ("JOB_RESULT", "result"), ("JOB_ID", "id"))
# PRIORITY and SYSLOG_FACILITY as journald writes them; other values ("06", "nine") take `_odd_log`.
# (Looked up with None too, for a field that is absent.)
_SEVERITY_OF: dict[str | None, tuple[int, str]] = {str(code): (code, name) for code, name in enumerate(SEVERITIES)}
_FACILITY_OF: dict[str | None, tuple[int, str]] = {str(code): (code, name) for code, name in enumerate(FACILITIES)}


class JournalParser:
    """One document per entry; stateless but for the last timestamp (for entries without one)."""

    def __init__(self, origin: Origin, ctx: ParseContext) -> None:
        self._last_ts = from_epoch(origin.mtime) if origin.mtime is not None else FALLBACK_TIMESTAMP

    def parse(self, chunk: RawChunk) -> list[Doc]:
        if chunk.kind != "fields":
            return [self._unparsed_line(str(item), chunk, i) for i, item in enumerate(chunk.items)]
        with gc_paused():
            out, self._last_ts = _documents(chunk.items, self._last_ts)
            for i, tags in chunk.tags.items():
                _add_tags(out[i], tags)
        return out

    def flush(self) -> list[Doc]:
        return []

    def held(self) -> Doc | None:
        return None  # (an entry is whole)

    def passed(self, ts: str) -> None:
        """Entries were read past this parser (the express lane), the last one stamped ``ts``."""
        self._last_ts = ts

    def state(self) -> tuple[Any, ...]:
        """The timestamp given to an entry without one (see `shipper.parse.common.TextParser.state`)."""
        return (self._last_ts,)

    def restore(self, state: tuple[Any, ...]) -> None:
        (self._last_ts,) = state

    def _unparsed_line(self, line: str, chunk: RawChunk, i: int) -> Doc:
        doc: Doc = {
            "@timestamp": self._last_ts,
            "message": line,
            "event": {"dataset": DATASET, "kind": "event"},
            "tags": ["unparsed", TAG_TIMESTAMP_INFERRED, *chunk.tags.get(i, ())],
        }
        if chunk.offsets is not None:
            doc["log"] = {"offset": chunk.offsets[i]}
        return doc


def journal_doc(fields: Mapping[str, Any], fallback_ts: str = FALLBACK_TIMESTAMP) -> Doc:
    """The document for one journal entry (see the module doc for the mapping).

    Fields are taken out of a copy of the entry as they are used; what is left is journald.custom.
    """
    c = dict(fields)
    tags: list[str] | None = None
    try:
        "".join(c.values())  # the common case, all values str, is checked in C
    except TypeError:
        tags = _normalise(c)
    pop = c.pop
    ts = _timestamp(c)
    if ts is None:
        ts = fallback_ts
        tags = [*(tags or ()), TAG_TIMESTAMP_INFERRED]
    doc: Doc = {"@timestamp": ts, "message": pop("MESSAGE", ""), "event": {"dataset": DATASET, "kind": "event"}}
    host = pop("_HOSTNAME", None)
    if host:
        doc["host"] = {"name": host}
    _process(doc, c)
    _systemd(doc, c)
    log = _log(c)
    if log is not None:
        doc["log"] = log
    journald = {}
    message_id, boot_id, cursor = pop("MESSAGE_ID", None), pop("_BOOT_ID", None), pop("__CURSOR", None)
    if message_id:
        journald["message_id"] = message_id
    if boot_id:
        journald["boot_id"] = boot_id
    if cursor:
        journald["cursor"] = cursor
    if c:  # fields left: PID 1's about a unit, and those of no keyword (journald.custom)
        _unit_record(journald, c)
        if c:
            journald["custom"] = c
    if journald:
        doc["journald"] = journald
    if tags:
        doc["tags"] = tags
    return doc


def documents_in_python(entries: Sequence[Mapping[str, Any]], last: str) -> tuple[list[Doc], str]:
    """`journal_doc` of each entry, the previous one's @timestamp as the fallback; and the last
    @timestamp."""
    out = []
    for fields in entries:
        doc = journal_doc(fields, last)
        last = doc["@timestamp"]
        out.append(doc)
    return out, last


def _native() -> Callable[[Sequence[Mapping[str, Any]], str], tuple[list[Doc], str]] | None:
    """`documents_in_python` in C, where the extension was built (see the module doc)."""
    try:
        from shipper.parse import _journaldoc  # noqa: PLC0415 - an extension, built where it can be
    except ImportError:
        return None
    return lambda entries, last: _journaldoc.docs(entries, last, journal_doc, _SEVERITY_OF, _FACILITY_OF)


_native_documents = _native()
NATIVE = _native_documents is not None
_documents = _native_documents or documents_in_python


def _timestamp(c: dict[str, Any]) -> str | None:
    """From the first valid of the two stamps, which is then taken out of the entry."""
    source = c.get("_SOURCE_REALTIME_TIMESTAMP")
    if source is not None:
        ts = from_epoch_micros(source)
        if ts is not None:
            del c["_SOURCE_REALTIME_TIMESTAMP"]
            return ts
    received = c.get("__REALTIME_TIMESTAMP")
    if received is not None:
        ts = from_epoch_micros(received)
        if ts is not None:
            del c["__REALTIME_TIMESTAMP"]
            return ts
    return None


def _process(doc: Doc, c: dict[str, Any]) -> None:
    name = c.pop("SYSLOG_IDENTIFIER", None) or c.pop("_COMM", None)
    pid = _pop_int(c, "SYSLOG_PID") if "SYSLOG_PID" in c else None
    if pid is None:
        pid = _pop_int(c, "_PID")
    if name:
        doc["process"] = {"name": name, "pid": pid} if pid is not None else {"name": name}
    elif pid is not None:
        doc["process"] = {"pid": pid}


def _systemd(doc: Doc, c: dict[str, Any]) -> None:
    pop = c.pop
    unit = pop("UNIT", None) or pop("_SYSTEMD_UNIT", None)
    user_unit = pop("USER_UNIT", None) or pop("_SYSTEMD_USER_UNIT", None)
    invocation = pop("INVOCATION_ID", None) or pop("USER_INVOCATION_ID", None) or pop("_SYSTEMD_INVOCATION_ID", None)
    slice_, transport = pop("_SYSTEMD_SLICE", None), pop("_TRANSPORT", None)
    if not (unit or user_unit or invocation or slice_ or transport):
        return
    systemd = {}
    if unit:
        systemd["unit"] = unit
    if user_unit:
        systemd["user_unit"] = user_unit
    if invocation:
        systemd["invocation_id"] = invocation
    if slice_:
        systemd["slice"] = slice_
    if transport:
        systemd["transport"] = transport
    doc["systemd"] = systemd


def _log(c: dict[str, Any]) -> dict[str, Any] | None:
    """``log.syslog`` and ``log.level`` from ``PRIORITY`` and ``SYSLOG_FACILITY`` (taken out)."""
    pri, fac = c.get("PRIORITY"), c.get("SYSLOG_FACILITY")
    if pri is None and fac is None:
        return None
    severity, facility = _SEVERITY_OF.get(pri), _FACILITY_OF.get(fac)
    if (severity is None and pri is not None) or (facility is None and fac is not None):
        return _odd_log(c, pri, fac)
    syslog: dict[str, Any] = {}
    if facility is not None:
        del c["SYSLOG_FACILITY"]
        syslog["facility"] = {"code": facility[0], "name": facility[1]}
    if severity is None:
        return {"syslog": syslog}
    del c["PRIORITY"]
    syslog["severity"] = {"code": severity[0], "name": severity[1]}
    if facility is not None:
        syslog["priority"] = facility[0] * 8 + severity[0]
    return {"syslog": syslog, "level": severity[1]}


def _odd_log(c: dict[str, Any], pri: str | None, fac: str | None) -> dict[str, Any] | None:
    """`_log` for values journald does not write (``06``, ``nine``); a value that is no code stays
    in the entry (journald.custom)."""
    syslog = syslog_fields(_int(fac), _int(pri))
    if not syslog:
        return None
    log: dict[str, Any] = {"syslog": syslog}
    if "severity" in syslog:
        del c["PRIORITY"]
        log["level"] = syslog["severity"]["name"]
    if "facility" in syslog:
        del c["SYSLOG_FACILITY"]
    return log


def _unit_record(journald: dict[str, Any], c: dict[str, Any]) -> None:
    """The rarer journald fields (PID 1's about a unit or a job, the code location), taken out."""
    pop = c.pop
    for key, name in _UNIT_RECORD:
        value = pop(key, None)
        if value:
            journald[name] = value
    func = pop("CODE_FUNC", None)
    if func:
        journald["code"] = {"func": func}
    if "JOB_ID" in c or "JOB_TYPE" in c or "JOB_RESULT" in c:
        job = {name: v for key, name in _JOB if (v := pop(key, None))}
        if job:
            journald["job"] = job
    status = _pop_int(c, "EXIT_STATUS")
    if status is not None:
        journald["exit_status"] = status


def _pop_int(c: dict[str, Any], key: str) -> int | None:
    """The field as a number, taken out of the entry; None (and left there) if it is not one."""
    value = c.get(key)
    if value is None or not (value.isdigit() and value.isascii() and len(value) <= 18):
        return None
    del c[key]
    return int(value)


def _normalise(c: dict[str, Any]) -> list[str] | None:
    """Make every value of an entry that has non-str values usable, in place: keyword fields
    become text (first value, invalid UTF-8 replaced; `_ID_FIELDS` keep it for the id and tag the
    entry ``invalid_utf8``); other fields keep their text, or base64 under ``<NAME>_base64``."""
    tags = None
    for key, value in list(c.items()):
        if value.__class__ is str:
            continue
        if value is None:
            del c[key]
        elif key in _KEYWORD_FIELDS:
            # The id's fields keep the bytes that are not UTF-8 for the id (`shipper.ids.settle`).
            kept = key in _ID_FIELDS
            c[key], bad = _text(value, "surrogateescape" if kept else "replace")
            if bad and kept:
                tags = [TAG_INVALID_UTF8]
        else:
            del c[key]
            _custom_value(c, key, value)
    return tags


def _custom_value(custom: dict[str, Any], key: str, value: Any) -> None:
    """A non-str value: bytes decoded if UTF-8 else base64 under ``<key>_base64``; lists alike."""
    values = value if isinstance(value, list) else [value]
    try:
        texts = [v.decode("utf-8") if isinstance(v, (bytes, bytearray)) else str(v) for v in values if v is not None]
    except UnicodeDecodeError:
        raw = [v if isinstance(v, (bytes, bytearray)) else str(v).encode() for v in values if v is not None]
        encoded = [base64.b64encode(v).decode("ascii") for v in raw]
        custom[f"{key}_base64"] = encoded if isinstance(value, list) else encoded[0]
        return
    custom[key] = texts if isinstance(value, list) else (texts[0] if texts else "")


def _text(value: Any, errors: str = "replace") -> tuple[str, bool]:
    """(text, whether it was not valid UTF-8) for a non-str value (bytes, a number, a list: the
    first); bytes that are not UTF-8 decoded with ``errors``."""
    if isinstance(value, list):
        value = value[0] if value else ""
        if value.__class__ is str:
            return value, False
    if isinstance(value, (bytes, bytearray)):
        try:
            return value.decode("utf-8"), False
        except UnicodeDecodeError:
            return value.decode("utf-8", errors), True
    return ("" if value is None else str(value)), False


def _int(value: str | None) -> int | None:
    """A decimal number (ASCII digits, at most 18); None for anything else."""
    return int(value) if value is not None and value.isascii() and value.isdigit() and 0 < len(value) <= 18 else None


def _add_tags(doc: Doc, tags: tuple[str, ...]) -> None:
    existing = doc.setdefault("tags", [])
    existing.extend(t for t in tags if t not in existing)
