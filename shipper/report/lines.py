"""The stored lines around each incident, for the HTML report: what an operator would scroll through.

For an incident: the lines of its host from a few lines before its first event to a few lines after
its last, everything in between included, each as ``[ts, host, process, pid, message, mark]``.
``mark`` is the role the line plays in this incident (``cause``, ``failure``, ``summary``, ``recovery``),
``unparsed`` for a line kept unparsed, else empty. A long run keeps its head, its tail and the
incident's own lines in between, and says how many lines it left out (``{"skipped": n}``).

One ordered sweep over the store per stretch of time the incidents cover (their windows merged),
so a report of many incidents reads each line once, and a store of few incidents reads little.
Which incident a line belongs to is what linking at read time says (`linked_docs`, as for the
incidents themselves), not the ``rootcause.incident`` stored with it: events stored by separate
runs belong to the incident they make together.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from shipper.enrich.hints import SERVICE_MANAGER
from shipper.enrich.relink import DEFAULT_WINDOW
from shipper.event import TAG_UNPARSED, Doc, get_path
from shipper.report.causes import Incident, linked_docs
from shipper.sinks.local import LocalStore
from shipper.timeargs import format_ts

CONTEXT = timedelta(seconds=60)  # how far before and after an incident its host's lines are looked at
AROUND = 5  # lines shown before the incident's first line and after its last
MAX_LINES = 60  # per incident: the first and last 30 when there are more

Row = list[Any]
_OWN = frozenset({"cause", "failure", "summary", "recovery"})  # marks of an incident's own lines
QUOTED = 3  # at most this many of a program's last lines quoted for a failure with no recognised cause
_LOOKED_AT = 10  # among the host's last lines (not the service manager's) before the failure
# What an error line looks like in any program's words (nginx "[emerg]", haproxy "[ALERT]", "cannot bind").
_ERRORISH = re.compile(r"(?i)\b(?:emerg|alert|crit(?:ical)?|errors?|fatal|fail(?:ed|ure)?|denied|cannot|can't"
                       r"|unable|refused|invalid|not found|no such|panic|abort(?:ed)?)\b")


@dataclass
class _Run:
    """The lines of one incident while the sweep is inside it."""

    incident: dict[str, Any]
    host: Any  # the host whose lines it collects
    head: list[Row] = field(default_factory=list)
    tail: deque[Row] = field(default_factory=lambda: deque(maxlen=MAX_LINES // 2))
    middle: list[Any] = field(default_factory=list)  # the incident's own lines between head and tail, and gaps
    kept: int = 0  # own lines in middle
    skipped: int = 0  # lines left out since the last one kept
    after: int = 0  # lines since the incident's latest line
    end: str = ""  # past this, no line belongs to the incident's context

    def __post_init__(self) -> None:
        self.end = _shift(self.incident["last"], CONTEXT)

    def add(self, row: Row, *, own: bool) -> None:
        self.after = 0 if own else self.after + 1
        if len(self.head) < MAX_LINES // 2:
            self.head.append(row)
            return
        if len(self.tail) == self.tail.maxlen:
            self._drop(self.tail[0])
        self.tail.append(row)

    def _drop(self, row: Row) -> None:
        """A line leaving the tail: the incident's own lines stay (up to a limit), others are counted."""
        if row[5] in _OWN and self.kept < MAX_LINES // 2:
            if self.skipped:
                self.middle.append({"skipped": self.skipped})
                self.skipped = 0
            self.middle.append(row)
            self.kept += 1
        else:
            self.skipped += 1

    def done(self, ts: str) -> bool:
        return ts > self.incident["last"] and (self.after >= AROUND or ts >= self.end)

    def rows(self) -> list[Any]:
        gap: list[Any] = [{"skipped": self.skipped}] if self.skipped else []
        return [*self.head, *self.middle, *gap, *self.tail]


class _Sweep:
    """Reads documents in time order and hands each to the incidents whose context it is in."""

    def __init__(self, incidents: list[dict[str, Any]], owners: dict[str, str]) -> None:
        self.wanted = {inc["id"]: inc for inc in incidents}
        self.owners = owners  # event.id -> its incident
        self.out: dict[str, list[Any]] = {key: [] for key in self.wanted}
        self.recent: dict[Any, deque[tuple[str, Row]]] = {}  # per host: its last lines, for the context before
        self.active: dict[Any, list[_Run]] = {}  # per host: the incidents being collected
        self.by_id: dict[str, _Run] = {}

    def feed(self, doc: Doc) -> None:
        ts, host = doc["@timestamp"], get_path(doc, "host.name")
        runs = self.active.setdefault(host, [])
        for run in [r for r in runs if r.done(ts)]:
            self.finish(run)
        own = self.owners.get(get_path(doc, "event.id"))
        for run in runs:
            mine = own == run.incident["id"]
            run.add(_row(doc, own if mine else None), own=mine)
        if own is not None and own in self.wanted and not any(r.incident["id"] == own for r in runs):
            self.own_elsewhere(doc, own, host, runs)
        self.recent.setdefault(host, deque(maxlen=AROUND)).append((ts, _row(doc, None)))

    def own_elsewhere(self, doc: Doc, own: str, host: Any, runs: list[_Run]) -> None:
        """A line of an incident not collected on this host: its start, or a line logged by another host."""
        run = self.by_id.get(own)
        if run is None and not self.out[own]:
            run = self.by_id[own] = _Run(self.wanted[own], host)
            start = _shift(run.incident["first"], -CONTEXT)
            for seen, row in self.recent.get(host, ()):
                if seen >= start:
                    run.add(row, own=False)
            runs.append(run)
        if run is not None:
            run.add(_row(doc, own), own=True)

    def finish(self, run: _Run) -> None:
        self.out[run.incident["id"]] = run.rows()
        del self.by_id[run.incident["id"]]
        self.active[run.host].remove(run)

    def close(self) -> None:
        for run in list(self.by_id.values()):
            self.finish(run)
        self.recent.clear()


def incident_lines(store: LocalStore, incidents: list[dict[str, Any]],
                   window: float = DEFAULT_WINDOW) -> dict[str, list[Any]]:
    """``{incident id: rows}`` for ``to_json``'s incidents (an incident with no stored line gets [])."""
    windows = _windows(incidents)
    owners: dict[str, str] = {}
    if windows:
        for doc in linked_docs(store, since=windows[0][0], until=windows[-1][1], window=window):
            incident = get_path(doc, "rootcause.incident")
            if incident:
                owners[doc["event"]["id"]] = incident
    sweep = _Sweep(incidents, owners)
    for since, until in windows:
        for doc in store.iter_docs(since=since, until=until):
            sweep.feed(doc)
        sweep.close()
    return sweep.out


def span_of(inc: Incident) -> dict[str, Any]:
    """What `incident_lines` needs of an incident."""
    return {"id": inc.id, "first": inc.first, "last": inc.last}


def quote_last_lines(store: LocalStore, incidents: list[Incident], window: float = DEFAULT_WINDOW) -> None:
    """`add_last_lines` for ``shipper causes``: reads the lines of the incidents that need them only."""
    wanted = [i for i in incidents if i.failure is not None and i.cause is None]
    if wanted:
        add_last_lines(wanted, incident_lines(store, [span_of(i) for i in wanted], window=window))


def add_last_lines(incidents: list[Incident], lines: dict[str, list[Any]]) -> None:
    """Set `Incident.last_lines` of each failure no recognised error explains, from its rows
    (`incident_lines`): the failing program's own words are then the best clue there is."""
    for inc in incidents:
        if inc.failure is not None and inc.cause is None:
            inc.last_lines = last_lines(lines.get(inc.id, []), inc.unit)


def last_lines(rows: list[Any], unit: str | None) -> list[dict[str, Any]]:
    """The program's last lines before the incident's last failure line, at most `QUOTED`, the
    error-looking ones first: among the host's last `_LOOKED_AT` lines before it that are not the
    service manager's, those of the unit's program (``nginx`` for nginx.service) or that look like
    an error. Nothing when none is either: another program's ordinary line would mislead."""
    failure = max((i for i, r in enumerate(rows) if isinstance(r, list) and r[5] == "failure"), default=None)
    if failure is None:
        return []
    host = rows[failure][1]
    before = [r for r in rows[:failure] if isinstance(r, list) and r[1] == host and r[5] not in _OWN
              and r[2] != SERVICE_MANAGER]  # (the manager's lines about the unit are the incident's own)[-_LOOKED_AT:]
    stem = unit.rsplit(".", 1)[0] if unit else None
    errors = [r for r in before if _ERRORISH.search(str(r[4]))]
    own = [r for r in before if stem is not None and r[2] == stem and r not in errors]
    chosen = errors[-QUOTED:]
    if len(chosen) < QUOTED:
        chosen += own[-(QUOTED - len(chosen)):]
    return [{"at": r[0], "process": r[2], "pid": r[3], "message": r[4]} for r in chosen]


def _row(doc: Doc, incident: str | None) -> Row:
    if incident is not None:
        mark = str(get_path(doc, "rootcause.role") or "")
    else:
        mark = TAG_UNPARSED if TAG_UNPARSED in (doc.get("tags") or ()) else ""
    return [doc["@timestamp"], get_path(doc, "host.name"), get_path(doc, "process.name"),
            get_path(doc, "process.pid"), doc.get("message", ""), mark]


def _windows(incidents: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """The incidents' [first - CONTEXT, last + CONTEXT] stretches, overlapping ones merged, in order."""
    spans = sorted((_shift(i["first"], -CONTEXT), _shift(i["last"], CONTEXT + timedelta(microseconds=1)))
                   for i in incidents)
    merged: list[tuple[str, str]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _shift(ts: str, delta: timedelta) -> str:
    return format_ts(datetime.fromisoformat(ts.replace("Z", "+00:00")) + delta)
