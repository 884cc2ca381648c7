"""Linking at read time: the incidents of what a store holds, as one replay of it all links them.

The link fields (``rootcause.incident``, a failure's ``rootcause.cause``, hint and remediation,
and the unit of a failure that named none) are written at ingest by the `Incidents` of the run
that stored the event, which saw only that run's events: a failure replayed apart from its cause
stays "no cause found", and the store keeps that first copy (duplicates are absorbed by id).

`relink` puts each stored document back as `Recognise` left it (`unlinked`) and links them all
again, in time order, in one pass. Documents of one @timestamp are taken in an order of their own
(`linking_order`: each input's as read, causes before failures across inputs, as a replay links
them: `shipper.enrich.moment`), whatever order the store or Elasticsearch returns them in.
First, a dependency failure stored without the unit whose failure it follows (``Dependency failed
for Local File Systems.`` replayed apart from ``data.mount``'s failure) is recognised again with
the failures around it (`name_dependencies`), as `shipper.enrich.nearby` names that unit when both
are read by one run. `linking_span` widens a time window to where that gives the same links as
linking everything: `Incidents` joins nothing to an incident whose last event is more than a
window old, so a gap of more than a window between recognised events is a clean cut; but for a
start of the unit (a recovery), which ends its incident up to an hour old (`incident_record.reach`):
the span reads an hour more on each side, and what was read only for that is written back only where
it links whole (`linked_whole`).
Documents other shippers sent (Filebeat, Vector: recognised by the ingest pipeline) are read with
shipper's field names, through the mapping that pipeline reads them through
(`shipper.enrich.sender_fields`): the unit an entry is about, not the sender's ``init.scope``.
"""

from __future__ import annotations

import copy
import re
from bisect import bisect_left
from itertools import groupby
from typing import Callable, Iterable, Iterator

from shipper.config.model import DEFAULT_INCIDENT_WINDOW
from shipper.enrich import sender_fields
from shipper.enrich.incident_record import reach
from shipper.enrich.incidents import Incidents, epoch, host_of, is_consequence
from shipper.enrich.moment import causes_first, place, role
from shipper.enrich.nearby import DEPENDENCY_WINDOW
from shipper.enrich.recognise import Recognise, UnitMap
from shipper.event import Doc, get_path
from shipper.recognise.rules import Rules, load_rules
from shipper.sources.live import iso

DEFAULT_WINDOW = float(DEFAULT_INCIDENT_WINDOW)

# What `hints.no_cause_hint` puts before a failure's own hint: "no recognised error from UNIT in
# the last WINDOW; look at WHERE. " (no WHERE holds ". ": tests/unit/test_relink_read_time.py).
_NO_CAUSE = re.compile(r"no recognised error from .+? in the last .+?; look at .+?\. ", re.DOTALL)


class _Unlinker:
    """Takes stored documents back to their state before linking."""

    def __init__(self, rules: Rules) -> None:
        self.units = UnitMap(rules)
        self.signatures = {s.id: s for s in rules.signatures}
        self.recognise = Recognise(rules)
        self.rules = rules

    def __call__(self, doc: Doc) -> Doc:
        rc = doc.get("rootcause")
        if not rc or "role" not in rc:
            return doc
        rc.pop("incident", None)
        if rc["role"] == "failure":
            rc["hint"], rc["remediation"] = self._own_texts(doc)
            rc.pop("cause", None)
            sig = self.signatures.get(rc["signature"])
            if sig is not None and self.units.resolve(doc, sig, {}) is None:
                rc.pop("unit", None)  # nothing on the event names one: its incident's, given by linking
        return doc

    def _own_texts(self, doc: Doc) -> tuple[str, str]:
        """A failure's own hint and remediation (a dependency failure's are never changed).
        Without a cause, linking put a preamble before
        the hint (`_NO_CAUSE`). A cause replaced both: the line is recognised again, alone, else
        as a line of its unit's ``systemctl status`` block (``Main PID: ...`` is read only there)."""
        rc = doc["rootcause"]
        hint, remediation = str(rc.get("hint", "")), str(rc.get("remediation", ""))
        if is_consequence(rc, self.rules):
            return hint, remediation  # linking leaves a dependency failure's own texts alone
        if "cause" not in rc:
            found = _NO_CAUSE.match(hint)
            return (hint[found.end():] if found else hint), remediation
        bare = {k: v for k, v in doc.items() if k != "rootcause"}
        headers: list[list[Doc]] = [[]]
        if rc.get("unit"):
            headers.append([{**bare, "message": f"● {rc['unit']} - "}])
        for header in headers:
            again = copy.deepcopy(bare)
            self.recognise.reset()
            self.recognise.enrich(copy.deepcopy(header) + [again])
            own = again.get("rootcause") or {}
            if own.get("signature") == rc["signature"]:
                return str(own.get("hint", "")), str(own.get("remediation", ""))
        return "", ""


def linking_order(docs: Iterable[Doc]) -> list[Doc]:
    """``docs`` in the order `relink` links them, which no store or search decides: by @timestamp
    (stored fixed-width: compared as text); within one @timestamp, each input's in the order it
    was read (`place`, `_record_order`), and across inputs causes (and summaries) before failures,
    else by input (`shipper.enrich.moment.causes_first`, as a replay links them)."""
    out: list[Doc] = []
    for _, moment in groupby(sorted(docs, key=_stamp), key=_stamp):
        out += causes_first([doc for _, record in groupby(sorted(moment, key=place), key=place)
                             for doc in _record_order(list(record))])
    return out


def _stamp(doc: Doc) -> str:
    return str(doc.get("@timestamp", ""))


def _record_order(docs: list[Doc]) -> list[Doc]:
    """The events read at one place, in the order `Recognise` gives them: a multi-line record (its
    whole text) first, then the events of its other recognised lines in the record's order."""
    if len(docs) == 1:
        return docs

    def text(doc: Doc) -> str:
        return str(doc.get("message", ""))

    def event_id(doc: Doc) -> str:
        return str(get_path(doc, "event.id") or "")

    whole = max(docs, key=lambda d: (len(text(d)), event_id(d)))
    at = {id(d): text(whole).find(text(d)) for d in docs}
    rest = sorted((d for d in docs if d is not whole),
                  key=lambda d: (at[id(d)] if at[id(d)] >= 0 else len(text(whole)), event_id(d)))
    return [whole, *rest]


def relink(docs: Iterable[Doc], *, window: float = DEFAULT_WINDOW) -> list[Doc]:
    """The stored recognised ``docs`` linked anew, all in one pass, in `linking_order` (returned
    so): a failure seen before its cause learns the best cause of its incident, whatever batches
    the run that stored them had, and whatever order they are given in. Each is read with
    shipper's field names (`sender_fields.view`: another shipper's document as the recognition
    pipeline reads it); of the documents, only ``rootcause`` is changed (in place)."""
    rules = load_rules()
    unlink = _Unlinker(rules)
    read = [(sender_fields.view(doc), doc) for doc in docs]
    doc_of = {id(seen): doc for seen, doc in read}
    views = linking_order(seen for seen, _ in read)
    name_dependencies(views, rules)
    linked = [unlink(seen) for seen in views]
    Incidents(window, rules).enrich(linked)
    out = []
    for seen in linked:
        doc = doc_of[id(seen)]
        if "rootcause" in seen:
            doc["rootcause"] = seen["rootcause"]
        out.append(doc)
    return out


def name_dependencies(docs: list[Doc], rules: Rules | None = None) -> int:
    """The dependency failures of ``docs`` (recognised, in @timestamp order; changed in place) that
    name no failed unit (``rootcause.dependency``), recognised again in one batch with the failures
    on their host within `DEPENDENCY_WINDOW` of them, as one run of them all would: those that then
    name one take it, with their texts. Returns how many did."""
    rules = rules or load_rules()
    lacking = [d for d in docs if role(d) == "failure" and is_consequence(d["rootcause"], rules)
               and not d["rootcause"].get("dependency")]
    if not lacking:
        return 0
    moments: dict[str, list[float]] = {}
    for doc in lacking:
        moments.setdefault(host_of(doc), []).append(epoch(doc["@timestamp"]))
    around = [d for d in docs if role(d) == "failure" and _near(d, moments)]
    again = [copy.deepcopy({k: v for k, v in d.items() if k != "rootcause"}) for d in around]
    Recognise(rules).enrich(again)
    wanted = {id(d) for d in lacking}
    named = 0
    for doc, bare in zip(around, again):
        rc, own = doc["rootcause"], bare.get("rootcause") or {}
        if id(doc) in wanted and own.get("signature") == rc["signature"] and own.get("dependency"):
            rc.update({k: own[k] for k in ("dependency", "title", "hint", "remediation") if k in own})
            named += 1
    return named


def _near(doc: Doc, moments: dict[str, list[float]]) -> bool:
    """Whether ``doc`` is on a host of ``moments`` within `DEPENDENCY_WINDOW` of one of its times
    (in order)."""
    at, times = epoch(doc["@timestamp"]), moments.get(host_of(doc), [])
    i = bisect_left(times, at - DEPENDENCY_WINDOW)
    return i < len(times) and times[i] <= at + DEPENDENCY_WINDOW


def linking_span(since: str | None, until: str | None, window: float,
                 before: Callable[[str], Iterator[str]], after: Callable[[str], Iterator[str]]) -> tuple[str | None, str | None]:
    """``[since, until)`` widened to the recognised events that link as they would with all:
    back to the last gap of more than ``window`` before ``since``, then a `reach` (an hour) further
    back, to the gap before that (what a start in the span may end); on to the first gap after
    ``until``, then a reach on, to the gap after that (the starts that end the span's incidents).
    ``before(ts)``/``after(ts)``: the recognised events' @timestamps before ``ts`` (newest first)
    and from ``ts`` on (oldest first). Returns the first included @timestamp and the first
    excluded one (None: unbounded). Of what it reads, all links as with all but some starts of its
    first hour (`linked_whole`)."""
    hour = reach(window)
    start = _back(since, window, before)
    if start is not None:
        start = _back(iso(epoch(start) - hour), window, before)
    end = _on(until, window, after)
    if end is not None:
        end = _on(iso(epoch(end) + hour), window, after)
    return start, end


def linked_whole(doc: Doc, start: str | None, window: float) -> bool:
    """Whether `relink` of the documents from ``start`` on (`linking_span`'s) links ``doc`` as
    linking them all would: all but a start (a recovery) less than a `reach` after ``start``, whose
    incident may be older than what was read."""
    return start is None or role(doc) != "recovery" or epoch(str(doc["@timestamp"])) - reach(window) >= epoch(start)


def _back(since: str | None, window: float, before: Callable[[str], Iterator[str]]) -> str | None:
    """The first @timestamp after the last gap of more than ``window`` before ``since`` (None: none)."""
    if since is None:
        return None
    start, edge = since, epoch(since)
    for ts in before(since):
        if edge - epoch(ts) > window:
            return start
        start, edge = ts, epoch(ts)
    return None


def _on(until: str | None, window: float, after: Callable[[str], Iterator[str]]) -> str | None:
    """The first @timestamp after the first gap of more than ``window`` from ``until`` on (None: none)."""
    if until is None:
        return None
    edge = epoch(until)
    for ts in after(until):
        if epoch(ts) - edge > window:
            return ts
        edge = epoch(ts)
    return None
