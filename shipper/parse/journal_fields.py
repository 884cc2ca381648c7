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
* A ``MESSAGE`` that is not UTF-8 is decoded with replacement characters and tagged ``invalid_utf8``.
  A mapped field with several values (rare: journald keeps them all) gives its first value.
"""

from __future__ import annotations

import base64
from typing import Any, Mapping

from shipper.event import TAG_INVALID_UTF8, TAG_TIMESTAMP_INFERRED, Doc
from shipper.parse.base import ParseContext
from shipper.parse.common import gc_paused
from shipper.parse.syslog_fields import syslog_fields
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
_JOURNALD = (
    ("MESSAGE_ID", "message_id"), ("_BOOT_ID", "boot_id"), ("__CURSOR", "cursor"), ("UNIT_RESULT", "unit_result"),
    ("EXIT_CODE", "exit_code"), ("COMMAND", "command"),
)
_JOB = (("JOB_TYPE", "type"), ("JOB_RESULT", "result"), ("JOB_ID", "id"))


class JournalParser:
    """One document per entry; stateless but for the last timestamp (for entries without one)."""

    def __init__(self, origin: Origin, ctx: ParseContext) -> None:
        self._last_ts = from_epoch(origin.mtime) if origin.mtime is not None else FALLBACK_TIMESTAMP

    def parse(self, chunk: RawChunk) -> list[Doc]:
        if chunk.kind != "fields":
            return [self._unparsed_line(str(item), chunk, i) for i, item in enumerate(chunk.items)]
        out = []
        last = self._last_ts
        tagmap = chunk.tags
        with gc_paused():
            for i, fields in enumerate(chunk.items):
                doc = journal_doc(fields, last)
                last = doc["@timestamp"]
                if tagmap and i in tagmap:
                    _add_tags(doc, tagmap[i])
                out.append(doc)
        self._last_ts = last
        return out

    def flush(self) -> list[Doc]:
        return []

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
    _syslog(doc, c)
    journald = _journald(c)
    if c:
        journald["custom"] = c
    if journald:
        doc["journald"] = journald
    if tags:
        doc["tags"] = tags
    return doc


def _timestamp(c: dict[str, Any]) -> str | None:
    """From the first valid of the two stamps, which is then taken out of the entry."""
    for key in ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"):
        ts = from_epoch_micros(c.get(key, ""))
        if ts is not None:
            del c[key]
            return ts
    return None


def _process(doc: Doc, c: dict[str, Any]) -> None:
    name = c.pop("SYSLOG_IDENTIFIER", None) or c.pop("_COMM", None)
    pid: int | None = None
    for key in ("SYSLOG_PID", "_PID"):
        pid = _int(c.get(key))
        if pid is not None:
            del c[key]
            break
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


def _journald(c: dict[str, Any]) -> dict[str, Any]:
    pop = c.pop
    journald: dict[str, Any] = {}
    for key, name in _JOURNALD:
        v = pop(key, None)
        if v:
            journald[name] = v
    func = pop("CODE_FUNC", None)
    if func:
        journald["code"] = {"func": func}
    if "JOB_ID" in c or "JOB_TYPE" in c or "JOB_RESULT" in c:
        job = {name: v for key, name in _JOB if (v := pop(key, None))}
        if job:
            journald["job"] = job
    status = _int(c.get("EXIT_STATUS"))
    if status is not None:
        del c["EXIT_STATUS"]
        journald["exit_status"] = status
    return journald


def _syslog(doc: Doc, c: dict[str, Any]) -> None:
    pri, fac = c.get("PRIORITY"), c.get("SYSLOG_FACILITY")
    if pri is None and fac is None:
        return
    syslog = syslog_fields(_int(fac), _int(pri))
    if not syslog:
        return
    log: dict[str, Any] = {"syslog": syslog}
    if "severity" in syslog:
        del c["PRIORITY"]
        log["level"] = syslog["severity"]["name"]
    if "facility" in syslog:
        del c["SYSLOG_FACILITY"]
    doc["log"] = log


def _normalise(c: dict[str, Any]) -> list[str] | None:
    """Make every value of an entry that has non-str values usable, in place: keyword fields
    become text (first value, invalid UTF-8 replaced: ``MESSAGE`` then tags the entry
    ``invalid_utf8``); other fields keep their text, or base64 under ``<NAME>_base64``."""
    tags = None
    for key, value in list(c.items()):
        if value.__class__ is str:
            continue
        if value is None:
            del c[key]
        elif key in _KEYWORD_FIELDS:
            c[key], bad = _text(value)
            if bad and key == "MESSAGE":
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


def _text(value: Any) -> tuple[str, bool]:
    """(text, whether it was not valid UTF-8) for a non-str value (bytes, a number, a list: the first)."""
    if isinstance(value, list):
        value = value[0] if value else ""
        if value.__class__ is str:
            return value, False
    if isinstance(value, (bytes, bytearray)):
        try:
            return value.decode("utf-8"), False
        except UnicodeDecodeError:
            return value.decode("utf-8", "replace"), True
    return ("" if value is None else str(value)), False


def _int(value: str | None) -> int | None:
    """A decimal number (ASCII digits, at most 18); None for anything else."""
    return int(value) if value is not None and value.isascii() and value.isdigit() and 0 < len(value) <= 18 else None


def _add_tags(doc: Doc, tags: tuple[str, ...]) -> None:
    existing = doc.setdefault("tags", [])
    existing.extend(t for t in tags if t not in existing)
