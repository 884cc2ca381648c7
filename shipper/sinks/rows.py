"""The local store's rows (`shipper.sinks.local`), made from documents in a worker process or by
the express lane (`shipper.parallel._express_lines.c`, `line_row`), which writes the same.

The main process binds them into SQLite with the GIL held, so they are shaped for the sqlite3
module, which spends ~0.15 us on every value it binds:

* ``str`` and ``int`` only: ``None`` and ``bytes`` go through its adapter lookup (~0.2 and
  ~0.4 us more per value on CPython 3.11), so absent text is ``""`` (stored as NULL by
  ``nullif``) and the document is ``str``;
* an ordinary event's row has 6 values; only the rare recognised or unparsed one carries the
  3 more columns (signature, incident, unparsed), so each kind has its own INSERT.
"""

from __future__ import annotations

from typing import Any

import orjson

from shipper.event import TAG_UNPARSED, Doc


def encode_rows(docs: list[Doc]) -> list[tuple[Any, ...]]:
    """The table rows of the documents (pure: a worker process may make them)."""
    return [_row(d) for d in docs]


def _row(doc: Doc, dumps: Any = orjson.dumps) -> tuple[Any, ...]:
    """(id, ts, host, process, message, doc), plus (signature, incident, unparsed) when recognised or unparsed."""
    host = doc.get("host")
    proc = doc.get("process")
    rest = doc.copy()  # without message: half the cost of a dict comprehension (-0.3 us a row)
    message = rest.pop("message", "")
    row = (
        doc["event"]["id"],
        doc["@timestamp"],
        host.get("name") or "" if host else "",
        proc.get("name") or "" if proc else "",
        message,
        dumps(rest).decode(),
    )
    rc = doc.get("rootcause")
    tags = doc.get("tags")
    unparsed = 1 if tags and TAG_UNPARSED in tags else 0
    if rc or unparsed:
        return (*row, rc.get("signature") or "" if rc else "", rc.get("incident") or "" if rc else "", unparsed)
    return row
