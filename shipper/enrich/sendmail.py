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

KEYS = frozenset(("from", "to", "relay", "stat", "mailer", "dsn", "delay", "daemon"))
_START = "starting daemon ("
# A wanted item of the key=value list, searched in ", " + the list: its key, and its value up to
# the next ", word=" (a ", " inside a value is not followed by "word="). Linear: ``[^,]`` and ``,``
# never match the same character. (No possessive quantifier: Debian 12's Python 3.11.2 matches them
# wrongly, CPython gh-106052; `tests/unit/test_regex_portable.py`.)
_ITEM = re.compile(r", (" + "|".join(sorted(KEYS)) + r")=([^,]*(?:,(?! [A-Za-z0-9]+=)[^,]*)*)")
# A list whose first piece is a wanted key without "=" ("dsn, stat=..."): that key, empty.
_BARE_KEY = re.compile(r"(" + "|".join(sorted(KEYS)) + r"), [A-Za-z0-9]+=")


def sendmail_idents(rules: Rules) -> frozenset[str]:
    return frozenset(p for f in rules.families if f.name == "sendmail" for u in f.units for p in u.processes)


def parse_line(text: str) -> dict[str, str]:
    """The sendmail.* fields of one message (after the syslog header)."""
    out: dict[str, str] = {}
    rest = text
    colon = text.find(": ")
    if 5 <= colon <= 20:
        queue_id = text[:colon]
        if queue_id.isalnum():
            out["queue_id"] = queue_id
            rest = text[colon + 2 :]
    if rest.startswith(_START):
        version, _, mode = rest[len(_START) :].partition("): ")
        out["version"] = version
        if mode:
            out["daemon_mode"] = mode
        return out
    if "=" in rest:
        bare = _BARE_KEY.match(rest)
        if bare is not None:
            out[bare.group(1)] = ""
        out.update(_ITEM.findall(", " + rest))  # a key given twice keeps its first place, its last value
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
