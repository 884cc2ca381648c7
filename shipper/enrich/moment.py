"""The order in which the recognised events of one @timestamp are linked, across inputs.

Events of several inputs logged in one second (syslog files have no finer stamps) come in an order
no clock decides: the order of the inputs on a command line, of the backing indices of a search,
of a store. Linked in such an order, a failure in ``messages`` can come before the sendmail
SYSERR in ``maillog`` that caused it, open an incident of its own and leave the SYSERR to
another. So every linker takes them in one order of its own (`causes_first`): each input's in the
order it was read, and across inputs causes (and summaries) before failures (a process logs its
error before systemd logs that it failed), else by input name. `Incidents` does so within each
call; `shipper.enrich.relink` (`shipper relink`, `causes`, `report`) with the stored events.
"""

from __future__ import annotations

import re
from collections import deque
from itertools import groupby
from operator import itemgetter
from shipper.event import Doc, get_path

_SEQNUM = re.compile(r"(?:^|;)s=([0-9a-f]+);i=([0-9a-f]+)")


def place(doc: Doc) -> tuple[str, int]:
    """Where ``doc`` was read: its input (the file; the journal's sequence number id) and its
    position in it (the offset; the journal's sequence number; else -1)."""
    log = doc.get("log") or {}
    offset = log.get("offset")
    if not isinstance(offset, int):
        offset = -1
        seqnum = _SEQNUM.search(str(get_path(doc, "journald.cursor") or ""))
        if seqnum:
            return f"journal {seqnum.group(1)}", int(seqnum.group(2), 16)
    return str((log.get("file") or {}).get("path") or ""), offset


def role(doc: Doc) -> str | None:
    rc = doc.get("rootcause")
    return rc.get("role") if rc else None


def causes_first(moment: list[Doc]) -> list[Doc]:
    """The recognised events of one @timestamp, each input's (`place`) in their order here, in
    linking order: the next is the head of the first input (by name) whose head is not a failure,
    else of the first input."""
    names = [place(doc)[0] for doc in moment]
    if names.count(names[0]) == len(names):
        return moment
    inputs: dict[str, deque[Doc]] = {}
    for name, doc in zip(names, moment):
        inputs.setdefault(name, deque()).append(doc)
    queues = [inputs[name] for name in sorted(inputs)]
    out: list[Doc] = []
    while queues:
        head = min(queues, key=lambda q: role(q[0]) == "failure")  # (the first input of the least)
        out.append(head.popleft())
        queues = [q for q in queues if q]
    return out


_STAMP = itemgetter("@timestamp")


def linking(docs: list[Doc]) -> list[Doc]:
    """The recognised events of ``docs`` (those with a ``rootcause.role``), in time order as
    given, each run of one @timestamp in `causes_first` order."""
    roles = [doc for doc in docs if "role" in (doc.get("rootcause") or ())]
    out: list[Doc] = []
    for _, run in groupby(roles, key=_STAMP):
        moment = list(run)
        out += causes_first(moment) if len(moment) > 1 else moment
    return out
