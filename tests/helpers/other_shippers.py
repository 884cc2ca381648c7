"""Journal entries as other shippers put them into Elasticsearch, for the recognition pipeline's tests.

* `filebeat(entry)`: the document of Filebeat's (and Elastic Agent's) journald input: its field
  table (beats ``filebeat/input/journald/pkg/journalfield/default.go``: ``MESSAGE_ID`` ->
  ``message_id``, ``SYSLOG_IDENTIFIER`` -> ``syslog.identifier``, ``_SYSTEMD_UNIT`` ->
  ``systemd.unit``, ``UNIT`` -> ``journald.unit``, ...; integers as numbers), every other field in
  ``journald.custom`` under its name in lower case without leading ``_`` (``USER_UNIT`` ->
  ``journald.custom.user_unit``), and ``process.pid`` from ``_PID`` (``conv.go``). ``old=True``:
  ``UNIT`` in ``journald.custom.unit`` too, as Filebeat 8.15 sent it (the system integration's
  test documents, ``tests/data/corpus/real/integrations/*.json``) before ``UNIT`` had a field of
  its own. ``host.name`` is the host's, as Filebeat's ``add_host_metadata`` gives it on that host.
* `raw(entry)`: the journal's own field names at the top level, ``MESSAGE`` as ``message`` (Vector's
  journald source, rsyslog's imjournal properties).
* `entries(paths)`: the journal entries of journal files, exports and JSON dumps, as read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

from shipper.event import Doc, set_path
from shipper.sources.open import open_inputs

_TEXT = {
    "MESSAGE": "message", "MESSAGE_ID": "message_id", "SYSLOG_IDENTIFIER": "syslog.identifier",
    "_SYSTEMD_UNIT": "systemd.unit", "_SYSTEMD_USER_UNIT": "systemd.user_unit", "_SYSTEMD_SLICE": "systemd.slice",
    "_SYSTEMD_CGROUP": "systemd.cgroup", "_SYSTEMD_SESSION": "systemd.session", "_TRANSPORT": "systemd.transport",
    "_SYSTEMD_INVOCATION_ID": "systemd.invocation_id", "_SYSTEMD_USER_SLICE": "systemd.user_slice",
    "UNIT": "journald.unit", "_COMM": "journald.process.name", "_EXE": "journald.process.executable",
    "_CMDLINE": "journald.process.command_line", "_BOOT_ID": "journald.host.boot_id", "_HOSTNAME": "host.hostname",
    "_MACHINE_ID": "host.id", "CODE_FILE": "journald.code.file", "CODE_FUNC": "journald.code.func",
    "COREDUMP_UNIT": "journald.coredump.unit", "COREDUMP_USER_UNIT": "journald.coredump.user_unit",
}
_INTEGER = {
    "_PID": "journald.pid", "SYSLOG_PID": "syslog.pid", "PRIORITY": "syslog.priority", "SYSLOG_FACILITY": "syslog.facility",
    "_UID": "journald.uid", "_GID": "journald.gid", "CODE_LINE": "journald.code.line", "_SYSTEMD_OWNER_UID": "systemd.owner_uid",
}
_DROPPED = {"__CURSOR", "__MONOTONIC_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP", "_SOURCE_MONOTONIC_TIMESTAMP"}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _integer(value: Any) -> Any:
    text = _text(value)
    try:
        return int(text.split(",")[0])  # conv.go: "on some versions of systemd the 'syslog.pid' can contain the username"
    except ValueError:
        return text


def filebeat(entry: dict[str, Any], *, old: bool = False) -> Doc:
    doc: Doc = {}
    custom: dict[str, str] = {}
    for name, value in entry.items():
        if name in _DROPPED or name == "__REALTIME_TIMESTAMP":
            continue
        if name in _INTEGER:
            set_path(doc, _INTEGER[name], _integer(value))
        elif name in _TEXT and not (old and name == "UNIT"):
            set_path(doc, _TEXT[name], _text(value))
        else:
            custom[name.lstrip("_").lower()] = _text(value)
    if custom:
        set_path(doc, "journald.custom", custom)
    pid = doc.get("journald", {}).get("pid")
    if pid is not None:
        set_path(doc, "process.pid", pid)
    hostname = doc.get("host", {}).get("hostname")
    if hostname is not None:
        set_path(doc, "host.name", hostname)
    return doc


def raw(entry: dict[str, Any]) -> Doc:
    doc: Doc = {name: _text(value) for name, value in entry.items() if name != "MESSAGE"}
    if "MESSAGE" in entry:
        doc["message"] = _text(entry["MESSAGE"])
    return doc


def entries(paths: Sequence[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each journal entry of ``paths`` (files of other kinds are passed over), with its file."""
    for group in open_inputs([str(p) for p in paths]):
        for source in group.sources:
            try:
                for chunk in source.chunks():
                    if chunk.kind == "fields":
                        where = Path(chunk.origin.path or chunk.origin.source_id)
                        yield from ((where, entry) for entry in chunk.items)
            finally:
                source.close()
