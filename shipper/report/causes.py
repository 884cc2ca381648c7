"""Incidents from stored documents, as text (``shipper causes``) and as JSON (scripts, the HTML report).

`linked_incidents` reads them from the store: the recognised events around the asked window,
linked anew (`shipper.enrich.relink`: events stored by separate runs link as one run of them all
would link them), and the incidents that overlap the window, each whole. `build_incidents` groups
documents by ``rootcause.incident``; `render_text` and `to_json` present the same `Incident`
objects, so the text and the JSON (and the HTML report built on `to_json`) never disagree.

The cause of an incident is the one its failure events carry (``rootcause.cause.signature``), else
the cause signature with the highest rank; every other recognised error of the incident is listed
too, with how often it repeated and over what span. The units that did not start because the
incident's unit failed (its dependency failures) are listed after it ("consequences: ...").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from shipper.enrich import exitcodes
from shipper.enrich.incidents import is_consequence
from shipper.enrich.relink import DEFAULT_WINDOW, linking_span, relink
from shipper.event import TAG_TIMESTAMP_INFERRED, Doc, get_path, has_tag
from shipper.recognise.rules import load_rules
from shipper.report.printable import printable
from shipper.report.subject import subject
from shipper.sinks.local import LocalStore


RESTART_LOOP = "systemd.start_limit_hit"  # the failure that ends a restart loop


@dataclass
class CauseLine:
    signature: str
    title: str
    message: str
    hint: str
    remediation: str
    docs: list[str]
    count: int
    first: str
    last: str
    rank: int = 0


@dataclass
class Failure:
    signatures: list[str]  # in the order first seen
    title: str  # the first failure event's title
    at: str  # @timestamp of the first failure event
    exit_code: int | None = None
    exit_kind: str | None = None  # systemd.exit_code: exited / killed / dumped
    exit_explained: str | None = None
    result: str | None = None

    @property
    def label(self) -> str:
        """``exit 71, EX_OSERR`` / ``SIGABRT, core dumped`` / ``result 'resources'``; the first
        failure's, and ``then restarted until it hit its start limit`` after it when a restart
        loop followed (the first failure is the one to fix)."""
        if self.exit_code is not None:
            text = exitcodes.label(self.exit_kind, self.exit_code)
        elif self.result is not None:
            text = f"result '{self.result}'"
        else:
            text = ""
        if RESTART_LOOP in self.signatures and "start-limit" not in text:
            return f"{text}, then restarted until it hit its start limit" if text else "restarted until it hit its start limit"
        return text


@dataclass
class Incident:
    id: str
    host: str | None
    unit: str | None
    first: str
    last: str
    events: int
    failure: Failure | None
    causes: list[CauseLine] = field(default_factory=list)  # the cause first
    summary: str | None = None  # a summary event's title (Elasticsearch: "[n] bootstrap checks failed")
    # The summary's own hint and remediation, told once after the errors it sums up (why the
    # Elasticsearch checks are enforced at all); empty when the summary is the incident's cause.
    summary_hint: str = ""
    summary_remediation: str = ""
    hint: str = ""
    remediation: str = ""
    docs: list[str] = field(default_factory=list)
    consequences: list[str] = field(default_factory=list)  # the titles of the dependency failures it caused
    subject: str = ""  # what failed, as the headline says it: the unit, or the program (`subject`)
    # A failure with no recognised cause: the program's last lines before it (`shipper.report.lines.last_lines`).
    last_lines: list[dict[str, Any]] = field(default_factory=list)
    # The unit's start that ended it (role ``recovery``: "running again at ..."), and its last event before.
    recovered: str | None = None
    last_error: str = ""

    @property
    def cause(self) -> CauseLine | None:
        return self.causes[0] if self.causes else None

    @property
    def when(self) -> str:
        return self.failure.at if self.failure else (self.last_error or self.last)


def linked_docs(store: LocalStore, *, since: str | None, until: str | None,
                window: float = DEFAULT_WINDOW) -> list[Doc]:
    """The recognised documents of ``[since, until)`` and of every incident that reaches into it,
    linked anew, in @timestamp order (``window``: ``recognise.incident_window``)."""
    start, end = linking_span(since, until, window, store.recognised_before, store.recognised_after)
    return relink(store.iter_docs(since=start, until=end, only_recognised=True), window=window)


def linked_incidents(store: LocalStore, *, since: str | None, until: str | None,
                     window: float = DEFAULT_WINDOW) -> list[Incident]:
    """The incidents that overlap ``[since, until)``, newest first, each whole (its failure and
    all its causes, also those outside the window), linked as one replay of the store would."""
    incidents = build_incidents(linked_docs(store, since=since, until=until, window=window))
    return [i for i in incidents if (until is None or i.first < until) and (since is None or i.last >= since)]


def build_incidents(docs: Iterable[Doc]) -> list[Incident]:
    """Incidents, newest first, from documents in @timestamp order (as `LocalStore.iter_docs` yields)."""
    groups: dict[str, list[Doc]] = {}
    for doc in docs:
        incident = get_path(doc, "rootcause.incident")
        if incident and get_path(doc, "rootcause.signature"):
            groups.setdefault(str(incident), []).append(doc)
    ranks = {s.id: s.rank for s in load_rules().signatures}
    incidents = [_incident(key, events, ranks) for key, events in groups.items()]
    incidents.sort(key=lambda i: (i.when, i.id), reverse=True)
    return incidents


def _incident(key: str, events: list[Doc], ranks: dict[str, int]) -> Incident:
    failures = [d for d in events if d["rootcause"].get("role") == "failure"]
    own = [d for d in failures if not is_consequence(d["rootcause"])]
    consequences = [d for d in failures if is_consequence(d["rootcause"])] if own else []
    failures = own or failures  # what failed first is the incident's unit, failure and hint
    causes = [d for d in events if d["rootcause"].get("role") == "cause"]
    summaries = [d for d in events if d["rootcause"].get("role") == "summary"]
    recoveries = [d for d in events if d["rootcause"].get("role") == "recovery"]
    unit = next((d["rootcause"]["unit"] for d in failures + causes + summaries if d["rootcause"].get("unit")), None)
    host = next((get_path(d, "host.name") for d in events if get_path(d, "host.name")), None)
    lines = _cause_lines(causes or summaries, failures, ranks)
    inc = Incident(
        id=key,
        host=host,
        unit=unit,
        first=events[0]["@timestamp"],
        last=events[-1]["@timestamp"],
        events=len(events),
        failure=_failure(failures),
        causes=lines,
        summary=summaries[0]["rootcause"].get("title") if summaries and causes else None,
        summary_hint=summaries[0]["rootcause"].get("hint", "") if summaries and causes else "",
        summary_remediation=summaries[0]["rootcause"].get("remediation", "") if summaries and causes else "",
        consequences=list(dict.fromkeys(d["rootcause"].get("title", "") for d in consequences)),
        subject=subject(unit, events),
        recovered=recoveries[-1]["@timestamp"] if recoveries else None,
        last_error=next((d["@timestamp"] for d in reversed(events) if d not in recoveries), ""),
    )
    source: Any = lines[0] if lines else (failures[0]["rootcause"] if failures else {})
    if isinstance(source, CauseLine):
        inc.hint, inc.remediation, inc.docs = source.hint, source.remediation, source.docs
    else:
        inc.hint, inc.remediation, inc.docs = source.get("hint", ""), source.get("remediation", ""), source.get("docs", [])
    return inc


def _cause_lines(causes: list[Doc], failures: list[Doc], ranks: dict[str, int]) -> list[CauseLine]:
    """One line per distinct error (`_cause_key`), the cause the failures name first, then by rank and time."""
    lines: dict[tuple[str, ...], CauseLine] = {}
    for doc in causes:
        rc = doc["rootcause"]
        key = _cause_key(rc)
        line = lines.get(key)
        if line is None:
            lines[key] = CauseLine(
                signature=rc["signature"],
                title=rc.get("title", ""),
                message=doc.get("message", ""),
                hint=rc.get("hint", ""),
                remediation=rc.get("remediation", ""),
                docs=list(rc.get("docs", [])),
                count=1,
                first=doc["@timestamp"],
                last=doc["@timestamp"],
                rank=ranks.get(rc["signature"], 0),
            )
        else:
            line.count += 1
            line.last = doc["@timestamp"]
    named = next((get_path(d, "rootcause.cause") for d in failures if get_path(d, "rootcause.cause.signature")), None)
    order = list(lines.values())
    order.sort(key=lambda c: (not _is_named(c, named), -c.rank, c.first))
    return order


def _cause_key(rc: dict[str, Any]) -> tuple[str, ...]:
    """What makes two cause events one line: the same error told the same way (signature, title,
    hint, remediation). A repeated error folds into ×N; two errors of one signature (two different
    SYSERRs, two failed bootstrap checks) stay two lines, each with its own hint and remedy."""
    return (rc["signature"], rc.get("title", ""), rc.get("hint", ""), rc.get("remediation", ""))


def _is_named(line: CauseLine, named: dict[str, Any] | None) -> bool:
    """Whether ``line`` is the cause the failures were linked to (``rootcause.cause``)."""
    if named is None or line.signature != named.get("signature"):
        return False
    return line.title == named.get("title", line.title)


def _failure(failures: list[Doc]) -> Failure | None:
    if not failures:
        return None
    # The first whose time is its own: a pasted `systemctl status` block's lines take a time
    # from the lines around them (tagged timestamp_inferred), before the unit really failed.
    first = next((d for d in failures if not has_tag(d, TAG_TIMESTAMP_INFERRED)), failures[0])
    out = Failure(
        signatures=list(dict.fromkeys(d["rootcause"]["signature"] for d in failures)),
        title=first["rootcause"].get("title", ""),
        at=first["@timestamp"],
    )
    for doc in failures:
        code = get_path(doc, "process.exit_code")
        if out.exit_code is None and isinstance(code, int):
            out.exit_code = code
            out.exit_kind = get_path(doc, "systemd.exit_code")
            out.exit_explained = get_path(doc, "process.exit_code_explained")
        result = get_path(doc, "systemd.result")
        if out.result is None and result:
            out.result = str(result)
    return out


def _clock(ts: str) -> str:
    return ts[11:19]


def _when(ts: str) -> str:
    return f"{ts[:10]} {ts[11:19]}Z"


def _span(first: str, last: str) -> str:
    """``first``–``last`` to the second; one time when they are the same second (an incident
    shorter than a second: its stamps differ only in fractions not printed)."""
    if first[:19] == last[:19]:
        return _clock(first)
    if first[:10] == last[:10]:
        return f"{_clock(first)}–{_clock(last)}"
    return f"{_when(first)}–{_when(last)}"


def headline(inc: Incident) -> str:
    """``sendmail.service failed (exit 71, EX_OSERR) — cause: ... (×3, 14:55:52–14:56:02) — hint: ...``"""
    unit = inc.subject or inc.unit or "a unit"
    if inc.failure is not None:
        label = inc.failure.label
        what = f"{unit} failed ({label})" if label else f"{unit} failed"
    elif inc.summary:
        what = f"{unit}: {inc.summary}"
    else:
        what = f"{unit}: errors, no failure seen"
    cause = inc.cause
    if cause is None:
        return f"{what} — no cause found — hint: {inc.hint}"
    return f"{what} — cause: {cause.title} (×{cause.count}, {_span(cause.first, cause.last)}) — hint: {inc.hint}"


def render_text(incidents: list[Incident], counts: dict[str, Any] | None = None, *, windowed: bool = False) -> str:
    """The text of ``shipper causes``: one block per incident, newest first, then the counts (of the
    events in the time window, when ``windowed``). Every line is `printable`: whatever came from the
    logs, the output holds no control character."""
    out: list[str] = []
    if not incidents:
        out.append("no incidents: no recognised failure or cause in this time range")
    for inc in incidents:
        out.append(f"{_when(inc.when)}  {inc.host or '-'}  {headline(inc)}")
        if inc.recovered:
            at = _clock(inc.recovered) if inc.recovered[:10] == inc.when[:10] else _when(inc.recovered)
            out.append(f"    running again at {at}")
        if inc.remediation:
            out.append(f"    remediation: {inc.remediation}")
        out.extend(_also(inc))
        if inc.last_lines:
            out.append("    its last lines before the failure:")
            out.extend(f"      {_clock(r['at'])} {_who(r)}: {r['message']}" for r in inc.last_lines)
        if inc.summary_hint:
            out.append(f"    overall: {inc.summary_hint}")
        if inc.summary_remediation:
            out.append(f"      remediation: {inc.summary_remediation}")
        if inc.consequences:
            out.append(f"    consequences: {'; '.join(inc.consequences)}")
        if inc.failure is not None and inc.failure.exit_explained:
            out.append(f"    exit status: {inc.failure.exit_explained}")
        if inc.docs:
            out.append(f"    docs: {' '.join(inc.docs)}")
        events = f"{inc.events} event" + ("" if inc.events == 1 else "s")
        out.append(f"    incident {inc.id}: {events}, {_span(inc.first, inc.last)}")
        out.append("")
    if counts:
        out.extend(_counts_text(counts, windowed))
    return "\n".join(map(printable, out)).rstrip("\n") + "\n"


def _who(row: dict[str, Any]) -> str:
    """``nginx[4171]``, as syslog writes a line's sender."""
    pid = row.get("pid")
    return f"{row.get('process') or '-'}{'' if pid is None else f'[{pid}]'}"


def _also(inc: Incident) -> list[str]:
    """The incident's other errors. One as strong as the cause (a second failed bootstrap check, a
    second SYSERR) needs fixing too: it comes with its hint, and its remediation when that differs."""
    out: list[str] = []
    for extra in inc.causes[1:]:
        also = f"    also: {extra.title} (×{extra.count}, {_span(extra.first, extra.last)})"
        if extra.rank < inc.causes[0].rank:
            out.append(also)
            continue
        out.append(f"{also} — hint: {extra.hint}")
        if extra.remediation and extra.remediation != inc.remediation:
            out.append(f"      remediation: {extra.remediation}")
    return out


def _counts_text(counts: dict[str, Any], windowed: bool) -> list[str]:
    def top(name: str) -> str:
        items = counts.get(name) or {}
        return ", ".join(f"{k} {v}" for k, v in items.items()) or "-"

    total = f"events in this window: {counts.get('total', 0)}" if windowed else f"events: {counts.get('total', 0)} stored"
    return [
        f"{total}, {counts.get('unparsed', 0)} unparsed, "
        f"{counts.get('recognised', 0)} recognised",
        f"  by host: {top('by_host')}",
        f"  by process: {top('by_process')}",
    ]


def to_json(incidents: list[Incident], counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The same incidents as plain JSON-ready data (what ``--format json`` prints)."""
    return {
        "incidents": [_incident_json(i) for i in incidents],
        "counts": counts or {},
    }


def _incident_json(inc: Incident) -> dict[str, Any]:
    failure = inc.failure
    return {
        "id": inc.id,
        "host": inc.host,
        "unit": inc.unit,
        "subject": inc.subject,
        "when": inc.when,
        "first": inc.first,
        "last": inc.last,
        "events": inc.events,
        "headline": headline(inc),
        "failure": None
        if failure is None
        else {
            "signatures": failure.signatures,
            "title": failure.title,
            "at": failure.at,
            "label": failure.label,
            "exit_code": failure.exit_code,
            "exit_kind": failure.exit_kind,
            "exit_explained": failure.exit_explained,
            "result": failure.result,
        },
        "summary": inc.summary,
        "summary_hint": inc.summary_hint,
        "summary_remediation": inc.summary_remediation,
        "causes": [
            {
                "signature": c.signature,
                "title": c.title,
                "message": c.message,
                "hint": c.hint,
                "remediation": c.remediation,
                "count": c.count,
                "first": c.first,
                "last": c.last,
            }
            for c in inc.causes
        ],
        "hint": inc.hint,
        "remediation": inc.remediation,
        "docs": inc.docs,
        "consequences": inc.consequences,
        "last_lines": inc.last_lines,
        "recovered": inc.recovered,
    }
