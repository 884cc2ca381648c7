"""shipper's field names for a document, whoever sent it: the one mapping that the recognition
pipeline (`shipper.setup.doc_view`, in Painless) and `shipper relink` (`view`, in Python) read a
stored document through.

shipper's recognition and linking read shipper's documents (docs/fields.md). Other shippers name
the same facts otherwise: Filebeat's and Elastic Agent's journald input (its field table: beats
``filebeat/input/journald/pkg/journalfield/default.go``) put ``MESSAGE_ID`` in ``message_id``,
``SYSLOG_IDENTIFIER`` in ``syslog.identifier``, ``_COMM`` in ``journald.process.name`` (no
``process.name``), ``UNIT`` in ``journald.unit`` (in ``journald.custom.unit`` up to 8.15 at least),
``USER_UNIT`` in ``journald.custom.user_unit``, ``INVOCATION_ID`` and ``USER_INVOCATION_ID`` in
``journald.custom.*`` and ``EXIT_CODE``, ``UNIT_RESULT``, ``JOB_RESULT`` in ``journald.custom.*``,
while their ``systemd.unit``, ``systemd.user_unit`` and ``systemd.invocation_id`` are the
*sender's* (``init.scope`` for the service managers); Vector's journald source keeps the journal's
own names (``_SYSTEMD_UNIT``, ``USER_UNIT``, ``MESSAGE_ID``) and sends ``host`` as a string.

Each of shipper's fields is the first of its `SOURCES` the document holds (not empty), as
shipper's parsers fill them (``systemd.unit`` = ``UNIT`` else ``_SYSTEMD_UNIT``, ``process.name`` =
``SYSLOG_IDENTIFIER`` else ``_COMM``: shipper/parse/journal_fields.py). shipper's own documents
read the same through it.
"""

from __future__ import annotations

from typing import Any

from shipper.event import Doc

# shipper's field -> where the document may hold it, first found wins: shipper's own name where
# it means the same for every sender, else the more specific names before it.
SOURCES: dict[str, tuple[str, ...]] = {
    "process.name": ("syslog.identifier", "process.name", "journald.process.name", "SYSLOG_IDENTIFIER", "_COMM"),
    "process.pid": ("syslog.pid", "process.pid", "journald.pid", "SYSLOG_PID", "_PID"),
    "systemd.unit": ("journald.unit", "journald.custom.unit", "UNIT", "systemd.unit", "_SYSTEMD_UNIT"),
    "systemd.user_unit": ("journald.custom.user_unit", "USER_UNIT", "systemd.user_unit", "_SYSTEMD_USER_UNIT"),
    "systemd.invocation_id": ("journald.custom.invocation_id", "journald.custom.user_invocation_id", "INVOCATION_ID",
                              "USER_INVOCATION_ID", "systemd.invocation_id", "_SYSTEMD_INVOCATION_ID"),
    "journald.message_id": ("journald.message_id", "message_id", "MESSAGE_ID"),
    "journald.exit_code": ("journald.exit_code", "journald.custom.exit_code", "EXIT_CODE"),
    "journald.unit_result": ("journald.unit_result", "journald.custom.unit_result", "UNIT_RESULT"),
    "journald.job.result": ("journald.job.result", "journald.custom.job_result", "JOB_RESULT"),
    "host.name": ("host.name", "host.hostname", "_HOSTNAME"),
    "journald.boot_id": ("journald.boot_id", "journald.host.boot_id", "_BOOT_ID"),
}
# shipper's fields that are numbers (journal_fields._pop_int): a sender's text of digits is that number.
_NUMBERS = frozenset({"process.pid"})
# What shipper's documents hold as objects and linking reads into (`Recognise`, `Incidents`,
# `relink.linking_order`): another sender's value of another kind there (Vector's ``host``, a
# Docker line's ``log`` string) is not shipper's field, and is left out of the view.
_OBJECTS = frozenset({*(field.partition(".")[0] for field in SOURCES), "log", "event", "error"})


def held(doc: Doc, dotted: str) -> Any:
    """The value of ``dotted`` in ``doc`` if it holds one that is not empty (each object on the way
    one), else None: what the pipeline's view counts as present."""
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return None if value is None or str(value) == "" else value


def view(doc: Doc) -> Doc:
    """``doc`` with shipper's field names: each field of `SOURCES` from the first of its sources
    ``doc`` holds. ``doc`` is not changed: the objects on the way to a field set are copies, the
    rest (``rootcause`` too) is ``doc``'s own."""
    out = {k: v for k, v in doc.items() if k not in _OBJECTS or isinstance(v, dict)}
    copies: set[int] = set()
    for field, sources in SOURCES.items():
        for source in sources:
            value = held(doc, source)
            if value is not None:
                typed = _typed(field, value)
                if source != field or typed is not value:
                    _put(out, field, typed, copies)
                break
    return out


def _typed(field: str, value: Any) -> Any:
    if field in _NUMBERS and isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return value


def _put(out: Doc, dotted: str, value: Any, copies: set[int]) -> None:
    """Set ``dotted`` in ``out``, copying each object on the way once (``copies``: those made)."""
    *parents, last = dotted.split(".")
    here = out
    for part in parents:
        child = here.get(part)
        if not isinstance(child, dict):
            child = {}
        elif id(child) not in copies:
            child = dict(child)
        copies.add(id(child))
        here[part] = child
        here = child
    here[last] = value
