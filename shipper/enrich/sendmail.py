"""The fields of ordinary sendmail lines, the context of an investigation.

The `Recognise` enricher calls `add_fields` for documents whose ``process.name`` is a sendmail
ident (`sendmail_idents`: the ``processes`` of the sendmail family's units, ``sendmail``,
``sm-mta``, ...), in its one pass over a batch. It sets, when absent:

* ``sendmail.queue_id``: the queue id before ``: `` (``r5I9YcUV004201``) or ``NOQUEUE``;
* ``sendmail.from``, ``.to``, ``.relay``, ``.stat``, ``.mailer``, ``.dsn``, ``.delay``, ``.daemon``
  from the ``key=value, key=value`` list (a value may itself hold ``, ``: ``stat=Deferred: 421 ...,
  ...`` — a piece without ``key=`` belongs to the value before it);
* ``sendmail.version`` and ``sendmail.daemon_mode`` from ``starting daemon (8.14.4): SMTP+queueing@01:00:00``.
"""

from __future__ import annotations

import re
from shipper.event import Doc
from shipper.recognise.rules import Rules

_KEYS = frozenset(("from", "to", "relay", "stat", "mailer", "dsn", "delay", "daemon"))
_START = "starting daemon ("
# Between two items of the key=value list (a ", " inside a value is not followed by "word=").
_SPLIT = re.compile(r", (?=[A-Za-z0-9]+=)")


def sendmail_idents(rules: Rules) -> frozenset[str]:
    return frozenset(p for f in rules.families if f.name == "sendmail" for u in f.units for p in u.processes)


def parse_line(text: str) -> dict[str, str]:
    """The sendmail.* fields of one message (after the syslog header)."""
    out: dict[str, str] = {}
    rest = text
    colon = text.find(": ")
    if 5 <= colon <= 20 and text[:colon].isalnum():
        out["queue_id"] = text[:colon]
        rest = text[colon + 2 :]
    if rest.startswith(_START):
        version, _, mode = rest[len(_START) :].partition("): ")
        out["version"] = version
        if mode:
            out["daemon_mode"] = mode
        return out
    if "=" in rest:
        for piece in _SPLIT.split(rest):
            key, _, value = piece.partition("=")
            if key in _KEYS:
                out[key] = value
    return out


def add_fields(doc: Doc, text: str) -> None:
    """Set the sendmail.* fields of ``doc`` from its message ``text`` (keeping values already set)."""
    found = parse_line(text)
    if not found:
        return
    current = doc.get("sendmail")
    if current is None:
        doc["sendmail"] = found
    else:
        for key, value in found.items():
            current.setdefault(key, value)
