"""Link each failure to its cause: the `Incidents` enricher.

An incident is the events of one failure of one unit on one host; they all carry the same
``rootcause.incident``. Rules (the window is ``recognise.incident_window``, 10 minutes by default):

* A cause (or summary) event opens an incident for its host and unit (``rootcause.unit``), or joins
  the open one unless a failure already followed a known cause (then the unit was restarted and
  fails anew). A failure seen before any cause (a pasted ``systemctl status`` above the log) leaves
  the incident open to the causes that follow. The id is on the event when it is written.
* A failure event of the unit within the window of the incident's last event joins it and carries
  ``rootcause.cause.*`` (signature, title, message, hint, count, first, last); its hint and
  remediation become the cause's. With no cause, its hint says so and where to look.
* Journal invocation ids are an exact join: an event whose ``systemd.invocation_id`` differs from
  the incident's belongs to another run of the unit (a new incident). So are boots: an event whose
  ``journald.boot_id`` differs from the incident's joins nothing of it (a host's clock without an
  RTC starts each boot at the same time). A text log tells no boot id: there the kernel's banner at
  boot (``kernel: Linux version 6.0.7-301.fc37.aarch64 (...)``, role ``boot``: `_boot`) ends the
  host's open incidents, and what follows it is never linked to what came before.
* A user manager (``systemd[1562]``: process ``systemd``, not PID 1) runs one user's units for one
  session: an event it logged joins no incident of another manager of the host (each login, each
  boot has its own; a text log names no invocation or boot, but the manager's PID). The system
  manager's ``foo.service`` and a user manager's are two units, each with its own open incident
  (`incident_record.Runs`): one's failure, cause or start never ends or hides the other's. A
  ``systemd`` line with no PID (rsyslog on RHEL 7) and a program's own line fit either (the newest).
* A start of the unit after its failure or errors (a ``recovery``: ``Started Sendmail Mail Transport
  Agent.``, kept by `shipper.enrich.nearby` only within its `RECOVERY_WINDOW`, an hour) joins the
  unit's last incident of its run (host, manager, journal boot) if that incident's last event is
  at most that hour before it (`incident_record.reach`: not only a window), and ends it: a
  later cause or failure of the unit is a new incident, never linked to what came before the start.
  A restart loop that never starts (start-limit-hit) stays one incident. A failure of the unit
  with no cause less than a window after that start says "no recognised error since it started
  again at HH:MM:SS UTC" (`Incident.restarted`), not "in the last 10 minutes".
* A cause that tells no host (a pasted excerpt: ``sendmail[82759]: ... SYSERR``) joins the open
  incident of its unit only if that incident's causes of no host are of its program (process
  name; "" for none, as an Elasticsearch console's lines): three errors of three programs pasted
  together are three incidents, not one of host "-". (Its input file does not separate it: the
  lines of a program's own log and systemd's lines in another file are one failure.)
* A failure that names no unit joins by the PID it names (``Main PID: 24097 (code=exited,
  status=71)`` of a status block <-> ``sendmail[24097]``), else the incident of the failure logged
  just before it on the same host (``Failed to start Sendmail Mail Transport Agent.`` follows the
  exit line: systemd writes them together).
* A dependency failure (``Dependency failed for Local File Systems.``; a signature with
  ``consequence: true`` in the signature files: `is_consequence`) is a consequence: it joins
  the incident of the unit whose failure it follows (``rootcause.dependency``, found by
  `shipper.enrich.nearby`), whatever its own invocation; without one, the incident of its own unit
  (a ``Dependency failed for DESCRIPTION.`` line names none: the job line systemd logs with it gives
  their incident its unit). It keeps its own hint (which names what to fix first), never "no
  recognised error", and its own unit.
* A kernel OOM kill whose unit no line told (systemd's line about it came in a later batch, after
  the kill's was written) opens an incident of no unit; the first line of a unit on the host that
  says its process was killed so, a moment later (`nearby.killed`, `nearby.OOM_WINDOW`), makes it
  that unit's incident, unless the unit has one open: the kill and the unit's failure are one
  incident whatever the batches, in one process and with workers (linking runs in time order).
* A summary (``[2] bootstrap checks failed``) logged a moment after the failure that closed the
  incident of the checks it sums up joins that incident (`shipper.enrich.incident_record.sums_up`): Elasticsearch 7 prints it
  last, below the checks and ``did not exit normally``.
* Among an incident's causes the highest ``rank`` is "the cause"; repeats of it are counted
  (the same SYSERR every 5 seconds stays one incident: ×N, first-last).
* Events of one @timestamp from several inputs are linked causes first, each input's in its
  order (`shipper.enrich.moment`): a SYSERR in maillog and systemd's failure in messages in one
  second make one incident whatever order the inputs were given in, as `relink` links them. The
  callers keep each @timestamp's events in one call (`shipper.pipeline.merged`,
  `shipper.enrich.order`).

Incident ids derive from the first event's id, so a replay gives the same ids. Open incidents
are dropped once the newest event is a window past their last one, or the hour a start may still
end them (bounded memory).
"""

from __future__ import annotations

from typing import Any, Callable

from shipper.enrich import hints
from shipper.enrich.incident_fields import boot_of, epoch, host_of, manager_of, named_pid, pid_of, program_of
from shipper.enrich.incident_record import SAME_MOMENT, Cause, Incident, Runs, of_run, reach, run_of, same_run, sums_up
from shipper.enrich.incident_state import Links, links_from, links_json
from shipper.enrich.moment import linking
from shipper.enrich.nearby import OOM_KILL, OOM_WINDOW, killed_doc
from shipper.enrich.recognise import UnitMap
from shipper.event import Doc, get_path
from shipper.ids import derived_id
from shipper.recognise.rules import Rules, load_rules

# Where `_starts` keeps a host's boot (a text log's kernel banner): a start of every unit.
_BOOTED = "\x00boot"
# A failure without a unit joins the host's previous failure when it is at most this much later.
UNNAMED_FAILURE_GAP = 5.0


class Incidents:
    name = "incidents"

    def __init__(self, window: float = 600.0, rules: Rules | None = None) -> None:
        self.window = window
        self.rules = rules or load_rules()
        self.units = UnitMap(self.rules)
        self._rank = {s.id: s.rank for s in self.rules.signatures}
        self._consequences = self.rules.consequences
        self._reach = reach(window)  # how long after its last event a start still ends an incident
        self._open: Runs[Incident] = Runs(lambda inc: inc.run)  # (host, unit) -> its last incident of each run
        self._by_pid: dict[int, Incident] = {}  # pid of a cause, or named by a failure -> its incident
        self._last_failure: dict[str, tuple[float, Incident]] = {}
        self._kills: dict[str, tuple[float, Incident]] = {}  # host -> an OOM kill of no unit yet (`_adopt_kill`)
        self._starts: Runs[tuple[float, Doc]] = Runs(lambda s: run_of(s[1]))  # (host, unit) -> its last recovery
        self._newest = 0.0
        self.first: str | None = None  # the @timestamps of the first and last recognised events linked
        self.last: str | None = None  # (`shipper.commands.replay_notes.relink_note`)

    def enrich(self, docs: list[Doc]) -> list[Doc]:
        touched: list[Incident] = []
        for doc in linking(docs):  # (the list is given back in its order)
            rc = doc["rootcause"]
            if rc["role"] == "boot":  # (it joins nothing: it moves no window)
                self._boot(doc)
                continue
            stamp = doc["@timestamp"]
            ts = epoch(stamp)
            self._newest = max(self._newest, ts)
            if self.first is None or stamp < self.first:
                self.first = stamp
            if self.last is None or stamp > self.last:
                self.last = stamp
            if rc.get("unit") and killed_doc(doc):
                self._adopt_kill(doc, rc["unit"], ts)
            role = rc["role"]
            if role == "recovery":
                self._recovery(doc, rc, ts)
                continue
            inc = self._failure(doc, rc, ts) if role == "failure" else self._cause(doc, rc, ts)
            touched.append(inc)
        for inc in touched:
            inc.pending.clear()
        self._expire()
        return docs

    def flush(self) -> list[Doc]:
        return []

    def state(self) -> dict[str, Any]:
        """What linking carries to the next event, as JSON (between batches: `incident_state`)."""
        return links_json(Links(self._open.items(), self._by_pid, self._last_failure, self._kills, self._starts.items(),
                                self._newest))

    def restore(self, state: dict[str, Any]) -> None:
        """Go on from ``state`` (`state`'s value); KeyError, TypeError, ValueError, IndexError if it is none."""
        links = links_from(state)
        self._open.restore(links.open)
        self._starts.restore(links.starts)
        self._by_pid, self._last_failure = links.by_pid, links.last_failure
        self._kills, self._newest = links.kills, links.newest

    def _cause(self, doc: Doc, rc: dict[str, Any], ts: float) -> Incident:
        key = (host_of(doc), rc.get("unit"))
        inc = self._live(self._open.find(key, run_of(doc)), ts)
        if inc is not None and not key[0] and inc.programs and program_of(doc) not in inc.programs:
            inc = None  # another program's line with no host: nothing says it is of this failure
        if inc is None:  # a failure seen first may have named this process
            inc = self._pid_incident(key[0], pid_of(doc), ts)
        if inc is None or (inc.closed and not sums_up(inc, rc, ts)) or not self._joins(inc, doc, ts):
            inc = self._new(doc, key, ts)
        if rc["signature"] == OOM_KILL and key[1] is None:
            self._kills[key[0]] = (ts, inc)
        self._index_pid(inc, pid_of(doc))
        self._join(inc, doc, ts)
        self._open.put(key, inc)  # (after `_join`, which tells its manager; one found by PID gets its unit)
        if not key[0]:
            inc.programs.add(program_of(doc))
        rc["incident"] = inc.id
        cause = inc.cause
        rank = self._rank.get(rc["signature"], 0)
        if cause is not None and cause.signature == rc["signature"]:
            cause.count += 1
            cause.last = doc["@timestamp"]
        elif cause is None or rank > cause.rank:
            inc.cause = Cause(
                signature=rc["signature"],
                rank=rank,
                title=rc.get("title", ""),
                message=doc.get("message", ""),
                hint=rc.get("hint", ""),
                remediation=rc.get("remediation", ""),
                first=doc["@timestamp"],
                last=doc["@timestamp"],
            )
            for failure in inc.pending:  # failures seen first (a pasted status block) learn their cause
                self._link(failure, inc)
        return inc

    def _recovery(self, doc: Doc, rc: dict[str, Any], ts: float) -> None:
        """A start of the unit: it joins and ends the unit's last incident of its run, unless that
        incident's last event is more than `_reach` before it."""
        key = (host_of(doc), rc.get("unit"))
        self._starts.put(key, (ts, doc))
        inc = self._open.find(key, run_of(doc))
        if inc is None or ts - inc.last > self._reach:
            return
        rc["incident"] = inc.id
        self._end(lambda i: i is inc)

    def _boot(self, doc: Doc) -> None:
        """The kernel's banner in a text log: the host started again, so its open incidents end
        (in a journal the boot ids tell already, and its files' boots may come interleaved)."""
        host = host_of(doc)
        if host and boot_of(doc) is None:
            self._end(lambda i: i.host == host)
            self._kills.pop(host, None)
            self._starts.drop(host)
            self._starts.put((host, _BOOTED), (epoch(doc["@timestamp"]), doc))  # (every unit started again)

    def _end(self, ended: Callable[[Incident], bool]) -> None:
        """Forget the open incidents for which ``ended`` holds: nothing joins them any more."""
        self._open.keep(lambda i: not ended(i))
        self._by_pid = {p: i for p, i in self._by_pid.items() if not ended(i)}
        self._last_failure = {h: f for h, f in self._last_failure.items() if not ended(f[1])}

    def _failure(self, doc: Doc, rc: dict[str, Any], ts: float) -> Incident:
        host = host_of(doc)
        unit = rc.get("unit")
        named = named_pid(doc)
        key = (host, unit)
        if self._is_consequence(rc):
            inc = self._consequence_incident(doc, rc, ts)
            key = (host, rc.get("dependency") or unit)
        else:
            inc = self._failure_incident(doc, rc, ts)
        if inc is None:
            inc = self._new(doc, key, ts)
        self._join(inc, doc, ts)
        self._index_pid(inc, named)
        inc.closed = inc.cause is not None
        inc.pending.append(doc)
        self._last_failure[host] = (ts, inc)
        rc["incident"] = inc.id
        self._link(doc, inc)
        return inc

    def _failure_incident(self, doc: Doc, rc: dict[str, Any], ts: float) -> Incident | None:
        """The open incident a failure joins: by the PID it names, its unit, else the host's
        previous failure; a failure that names no unit takes the incident's."""
        host, unit = host_of(doc), rc.get("unit")
        inc = self._pid_incident(host, named_pid(doc), ts)
        if inc is None and unit is not None:
            inc = self._open.find((host, unit), run_of(doc))
        if inc is None and unit is None:
            inc = self._previous(host, ts, UNNAMED_FAILURE_GAP)
        if inc is not None and not self._joins(inc, doc, ts):
            return None
        if unit is None and inc is not None and inc.unit is not None:
            rc["unit"] = inc.unit
        return inc

    def _consequence_incident(self, doc: Doc, rc: dict[str, Any], ts: float) -> Incident | None:
        """The open incident a dependency failure joins: its dependency's; else, naming no unit,
        the host's previous failure; else its unit's, or (no incident of its unit yet) that of the
        dependency failures logged with it: a unit-less one takes its unit; another unit's is a job
        of the same transaction that failed for the same reason (``XSettings.service/start`` and
        ``gnome-session-x11-services-ready.target/verify-active``, when the target both need is
        inactive), one incident of the unit that failed first."""
        host, unit, dependency = host_of(doc), rc.get("unit"), rc.get("dependency")
        if dependency:
            return self._live(self._open.find((host, dependency), run_of(doc)), ts)
        if unit is None:
            return of_run(self._previous(host, ts, UNNAMED_FAILURE_GAP), doc)
        inc = self._open.find((host, unit), run_of(doc))
        if inc is not None and self._joins(inc, doc, ts):
            return inc
        along = of_run(self._previous(host, ts, SAME_MOMENT), doc)
        if along is None or not along.consequences_only:
            return None
        if along.unit is None:
            along.unit = unit
            self._open.put((host, unit), along)
        return along

    def _adopt_kill(self, doc: Doc, unit: str, ts: float) -> None:
        """A line ``doc`` of ``unit`` that says its process was killed as the OOM killer kills: the
        incident of the host's OOM kill of no unit, a moment before, becomes the unit's (unless the
        unit has one open), as if the kernel's line had named the unit (and the manager of ``doc``)."""
        host = host_of(doc)
        kill = self._kills.get(host)
        if kill is None or ts < kill[0]:
            return
        del self._kills[host]
        at, inc = kill
        own = self._live(self._open.find((host, unit), run_of(doc)), ts)
        if ts - at > OOM_WINDOW or inc.unit is not None or own is not None:
            return
        inc.unit = unit
        if inc.manager is None:
            inc.manager = manager_of(doc)
        self._open.put((host, unit), inc)

    def _previous(self, host: str, ts: float, gap: float) -> Incident | None:
        """The incident of the host's previous failure if it was at most ``gap`` seconds before ``ts``."""
        prev = self._last_failure.get(host)
        return prev[1] if prev is not None and 0 <= ts - prev[0] <= gap else None

    def _link(self, doc: Doc, inc: Incident) -> None:
        rc = doc["rootcause"]
        cause = inc.cause
        if cause is None and self._is_consequence(rc):
            return  # its own hint says that another unit failed first
        if cause is None:
            look_at = self.units.look_at.get(inc.unit or "")
            user = inc.unit is not None and hints.is_user_manager(doc)
            rc["hint"] = hints.no_cause_hint(inc.unit, self.window, look_at, rc.get("hint", ""), user=user,
                                             at=doc.get("@timestamp"), process=get_path(doc, "process.name"),
                                             since=inc.restarted, since_what=inc.restarted_by)
            return
        rc["cause"] = {
            "signature": cause.signature,
            "title": cause.title,
            "message": cause.message,
            "hint": cause.hint,
            "count": cause.count,
            "first": cause.first,
            "last": cause.last,
        }
        if not self._is_consequence(rc):
            rc["hint"] = cause.hint
            rc["remediation"] = cause.remediation

    def _is_consequence(self, rc: dict[str, Any]) -> bool:
        return rc.get("signature") in self._consequences

    def _join(self, inc: Incident, doc: Doc, ts: float) -> None:
        inc.last = max(inc.last, ts)
        if inc.manager is None:
            inc.manager = manager_of(doc)
        if self._is_consequence(doc["rootcause"]):
            return  # its invocation is its own unit's run, not the incident's
        inc.consequences_only = False
        invocation = _invocation(doc)
        if invocation:
            inc.invocations.add(str(invocation))

    def _joins(self, inc: Incident, doc: Doc, ts: float) -> bool:
        if ts - inc.last > self.window or not same_run(inc, doc):
            return False
        invocation = _invocation(doc)
        return invocation is None or not inc.invocations or invocation in inc.invocations

    def _new(self, doc: Doc, key: tuple[str, str | None], ts: float) -> Incident:
        first_id = get_path(doc, "event.id") or f"{doc.get('@timestamp')}|{key[0]}|{key[1]}"
        inc = Incident(id=derived_id(first_id, "incident"), host=key[0], unit=key[1], last=ts, boot=boot_of(doc),
                        manager=manager_of(doc))
        start = self._starts.find(key, inc.run) or self._starts.find((key[0], _BOOTED), inc.run)
        if start is not None and 0 <= ts - start[0] <= self.window:
            inc.restarted = start[1]["@timestamp"]
            if start[1]["rootcause"]["role"] == "boot":
                inc.restarted_by = f"{key[0]} booted"
        self._open.put(key, inc)
        return inc

    def _pid_incident(self, host: str, pid: int | None, ts: float) -> Incident | None:
        """The open incident of a process by its PID; a pasted status block has no host, so an
        unknown host matches any."""
        inc = self._live(self._by_pid.get(pid) if pid is not None else None, ts)
        if inc is None or inc.closed or (host and inc.host and host != inc.host):
            return None
        return inc

    def _live(self, inc: Incident | None, ts: float) -> Incident | None:
        """``inc`` unless its last event is more than a window before ``ts``. `_expire` drops such
        incidents only after each batch: without this, one still held would hide another lookup
        (by PID, after the unit's), and the links would depend on where batches end. With it,
        nothing older than a window before an event changes how it is linked, but for a start (it
        ends an incident up to `_reach` old), so linking may start after any gap of more than a
        window, and reaches a start's incident when it starts `_reach` before (`shipper.enrich.relink`)."""
        return inc if inc is not None and ts - inc.last <= self.window else None

    def _index_pid(self, inc: Incident, pid: int | None) -> None:
        if pid is not None:
            self._by_pid[pid] = inc

    def _expire(self) -> None:
        horizon = self._newest - self.window
        self._open.keep(lambda inc: inc.last >= self._newest - self._reach)
        for pkey in [k for k, inc in self._by_pid.items() if inc.last < horizon]:
            del self._by_pid[pkey]
        for host in [h for h, (t, _) in self._last_failure.items() if t < horizon]:
            del self._last_failure[host]
        for host in [h for h, (t, _) in self._kills.items() if t < horizon]:
            del self._kills[host]
        self._starts.keep(lambda start: start[0] >= horizon)


def _invocation(doc: Doc) -> Any:
    """An event's ``systemd.invocation_id`` (None in a text log): `get_path`'s value, read without
    splitting the path (linking reads it of most documents twice)."""
    systemd = doc.get("systemd")
    return systemd.get("invocation_id") if isinstance(systemd, dict) else None


def is_consequence(rc: dict[str, Any], rules: Rules | None = None) -> bool:
    """Whether a recognised event's ``rootcause`` is a dependency failure: another unit's failure
    explains it, and its own hint says so (its signature has ``consequence: true`` in ``rules``,
    the shipped signature files by default)."""
    return rc.get("signature") in (rules or load_rules()).consequences
