"""What the lines around a recognised line on the same host tell about it (the `Recognise` enricher
asks `Nearby` before and after it writes a hit).

Two facts no single line holds:

* **Whose process the OOM killer killed.** The kernel's ``Out of memory: Killed process 4242 (java)``
  names the process, systemd's ``elasticsearch.service: A process of this unit has been killed by
  the OOM killer.`` (or the unit's ``status=9/KILL`` exit, its result ``'oom-kill'``: `killed`) names
  the unit, within a moment of each other. The systemd line gets the victim (``victim``: ``java
  (pid 4242)``), and the kernel line, while it is still in the batch being enriched, gets the unit
  (``rootcause.unit``). Linking joins them in one incident also when the kernel line was in an
  earlier batch (`shipper.enrich.incidents`: the unit's line adopts the kill's incident).
* **Whether a start ends a failure.** ``Started Sendmail Mail Transport Agent.`` (or ``Started
  UNIT - DESCRIPTION.``, the journal's ``UNIT=``) of a unit that failed, or logged a recognised
  error, on the host within `RECOVERY_WINDOW` before is kept (the unit runs again: its incident is
  over); every other start is dropped (`Nearby.before` says so), so the many starts of a boot are
  not events. A start
  that names only the description is taken for the failed unit whose name (without its type and
  instance, its "stem") is the description's first word (``sendmail.service``: ``Sendmail Mail
  ...``). A host's troubled units are kept by stem (`stem_key`: of two units of one stem, the last),
  so that each fact is written whole, as the others. Each failure (or error) is ended by one start.
* **Which dependency failed.** ``Dependency failed for Local File Systems.`` does not say which
  unit failed; systemd logs that unit's failure (``data.mount: Mount process exited ...``) on the
  same host at the same moment — before, or in a pasted or reordered log just after. The dependency
  failure gets its name (``failed_dependency``).

"A moment" is `OOM_WINDOW` seconds (systemd learns of the kill from the cgroup a little later), and
`DEPENDENCY_WINDOW` for a dependency (systemd fails the dependent job in the same step; a syslog
time has whole seconds). A scope is never taken for the dependency (a transient application's
scope is nothing's requirement). Facts from an earlier batch are kept (host -> the last one); a line
of an earlier batch is never changed again (it may be written already).

A parallel replay's worker starts a block from the facts of a state the main process knew and a
warm-up of the lines before the block, which may not reach back to a kill a busy log logged a
moment before. So the facts are part of the recogniser's state (`Nearby.facts`, `restore`), and a
worker notes what the block's lines asked of the facts it started from (`Nearby.watch`): the main
process accepts the block if the facts the block really started from answer them alike, and
carries those facts on where the block wrote none (`continued`). No time window prunes them: a
host's clock, or a pasted log, can go back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipper.event import Doc, get_path
from shipper.recognise.matcher import Hit
from shipper.recognise.units import is_unit_name

OOM_WINDOW = 5.0
DEPENDENCY_WINDOW = 1.0
RECOVERY_WINDOW = 3600.0
# The unit lines that say the unit's process was killed (a kernel OOM kill just before explains them).
_OOM_SIGNATURE = "systemd.oom_killed"
OOM_KILL = "kernel.oom_kill"  # the kernel's line, which names the process killed but not its unit
_KILL_RESULTS = ("oom-kill", "signal")
_PROCESS_EXITED = "systemd.process_exited"
_UNIT_FAILED = "systemd.unit_failed"
_KILL_SIGNATURES = frozenset({_OOM_SIGNATURE, _PROCESS_EXITED, _UNIT_FAILED})  # those `killed` may say yes to
# The variable (no template uses it) that carries the failed dependency to ``rootcause.dependency``.
DEPENDENCY_UNIT = "dependency_unit"
# The kinds of facts: a host's last OOM kill, its last unit failure, its last unit of a stem that failed or
# logged an error and did not start since (`stem_key`).
KILLS, FAILED, UNITS = "kill", "failed", "units"

Fact = tuple[float, str]  # (seconds since the epoch, the victim killed or the unit that failed)


@dataclass(frozen=True, slots=True)
class Facts:
    """What `Nearby` carries from one batch to the next, per host (picklable, comparable)."""

    kills: dict[str, Fact]
    failed: dict[str, Fact]
    units: dict[str, Fact] = field(default_factory=dict)  # by `stem_key`

    def get(self, kind: str, host: str) -> Fact | None:
        return (self.kills if kind == KILLS else self.failed if kind == FAILED else self.units).get(host)


@dataclass(slots=True)
class Reads:
    """What the lines since `Nearby.watch` asked of the facts from before it: (kind, host, the
    asking line's time, its unit) for each question not answered by a fact written since; the
    (kind, host) of the facts written since; and, per `stem_key`, the lowest and highest second of
    the starts a lane took as dropped for certain (`Nearby.lane`), which asked whether a unit of
    that stem was troubled then."""

    asked: list[tuple[str, str, float, str | None]] = field(default_factory=list)
    written: set[tuple[str, str]] = field(default_factory=set)
    starts: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class _Kill:
    at: float
    victim: str  # "java (pid 4242)"
    doc: Doc | None  # the kernel line's document while it is in the batch and has no unit


@dataclass
class _Waiting:
    at: float
    doc: Doc
    hit: Hit


def _seconds(doc: Doc) -> float | None:
    stamp = doc.get("@timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _host(doc: Doc) -> str:
    return str(get_path(doc, "host.name") or "")


def _answer(kind: str, fact: Fact | None, at: float, unit: str | None) -> str | None:
    """What a line at ``at`` (of ``unit``) learns from its host's last fact of ``kind``: the
    victim of a kill a moment before it, or another unit that failed at the same moment; or, from
    the troubled unit of its stem, the unit a start (of ``unit``: a unit name or a description) ends."""
    if fact is None:
        return None
    if kind == UNITS:
        recent = 0 <= at - fact[0] <= RECOVERY_WINDOW
        return fact[1] if recent and (unit == fact[1] or not is_unit_name(unit or "")) else None
    if kind == KILLS:
        return fact[1] if 0 <= at - fact[0] <= OOM_WINDOW else None
    return fact[1] if 0 <= at - fact[0] <= DEPENDENCY_WINDOW and fact[1] != unit else None


def _recent(fact: Fact | None, lowest: int, highest: int) -> Fact | None:
    """``fact`` if a start in the seconds ``lowest`` to ``highest`` may end it, else None."""
    return fact if fact is not None and lowest - RECOVERY_WINDOW - 1 <= fact[0] <= highest + 1 else None


def continued(expected: Facts, start: Facts, end: Facts, reads: Reads) -> Facts | None:
    """The facts after a block read from ``start`` (``end`` then, ``reads`` what it asked), were it
    read from ``expected``: None if a question of the block has another answer there (for the
    starts a lane took: if a troubled unit of their stem that recent differs); else
    ``expected``'s, but those the block wrote (``end``'s)."""
    for kind, host, at, unit in reads.asked:
        if _answer(kind, expected.get(kind, host), at, unit) != _answer(kind, start.get(kind, host), at, unit):
            return None
    for key, (lowest, highest) in reads.starts.items():
        if _recent(expected.units.get(key), lowest, highest) != _recent(start.units.get(key), lowest, highest):
            return None
    kills, failed, units = dict(expected.kills), dict(expected.failed), dict(expected.units)
    for kind, host in reads.written:
        if kind == KILLS:
            kills[host] = end.kills[host]
        elif kind == FAILED:
            failed[host] = end.failed[host]
        elif host in end.units:
            units[host] = end.units[host]
        else:
            units.pop(host, None)
    return Facts(kills, failed, units)


def stem_key(host: str, started: str) -> str:
    """Where a host's troubled unit, or the unit a start names, is kept: the host and the unit's
    name without its type and instance (``sendmail.service`` -> ``sendmail``), or a description's
    first word (``Sendmail Mail Transport Agent`` -> ``sendmail``)."""
    name = started.rsplit(".", 1)[0].split("@", 1)[0] if is_unit_name(started) else started.split(" ", 1)[0]
    return f"{host}\n{name.lower()}"


def _name_dependency(hit: Hit, unit: str) -> None:
    hit.vars["failed_dependency"] = f"{unit}, which failed on this host at the same moment"
    hit.vars[DEPENDENCY_UNIT] = unit


def _killed(hit: Hit) -> bool:
    """Whether a systemd hit says the unit's process was killed as the OOM killer kills (SIGKILL)."""
    values = hit.vars
    return killed(hit.signature.id, values.get("code"), values.get("status"), values.get("result"))


def killed(signature: str, code: object, status: object, result: object) -> bool:
    """Whether a systemd line of ``signature`` with these values (exit ``code`` and ``status``,
    the unit's ``result``) says the unit's process was killed as the OOM killer kills (SIGKILL)."""
    if signature == _OOM_SIGNATURE:
        return True
    if signature == _PROCESS_EXITED:
        return code == "killed" and str(status) == "9"
    return signature == _UNIT_FAILED and result in _KILL_RESULTS


def killed_doc(doc: Doc) -> bool:
    """`killed` for a recognised document: its values as the signature's fields stored them (read
    only for the signatures that `killed` reads them for: linking asks it of every document)."""
    signature = str(get_path(doc, "rootcause.signature"))
    return signature in _KILL_SIGNATURES and killed(signature, get_path(doc, "systemd.exit_code"),
                                                    get_path(doc, "process.exit_code"), get_path(doc, "systemd.result"))


class Nearby:
    def __init__(self) -> None:
        self._kills: dict[str, _Kill] = {}  # host -> the last OOM kill
        self._failed: dict[str, tuple[float, str]] = {}  # host -> the last unit failure (time, unit)
        self._units: dict[str, Fact] = {}  # `stem_key` -> the unit that failed or logged an error, not started since
        self._waiting: list[_Waiting] = []  # this batch's dependency failures that name no unit yet
        self._reads: Reads | None = None  # what the lines ask and write, while watched

    def facts(self) -> Facts:
        """The facts the lines after tell from (a copy, without this batch's documents)."""
        return Facts({host: (kill.at, kill.victim) for host, kill in self._kills.items()}, dict(self._failed),
                     dict(self._units))

    def restore(self, facts: Facts) -> None:
        """Start from ``facts`` (between batches), unwatched."""
        self._kills = {host: _Kill(at, victim, None) for host, (at, victim) in facts.kills.items()}
        self._failed = dict(facts.failed)
        self._units = dict(facts.units)
        self._waiting.clear()
        self._reads = None

    def watch(self) -> None:
        """From now on, note what the lines ask of the facts from before, and the facts they write."""
        self._reads = Reads()

    def watched(self) -> Reads:
        """What was noted since `watch` (and stop noting)."""
        reads, self._reads = self._reads or Reads(), None
        return reads

    def lane(self) -> tuple[dict[str, Fact], int, dict[str, list[int]] | None]:
        """What the express lanes need to take a start that is dropped for certain, as a plain line
        (shipper/parallel/_express_starts.c): the troubled units by `stem_key`, `RECOVERY_WINDOW`,
        and where they note the starts they took (`Reads.starts`; None: not watched). The units
        change as lines are read."""
        return self._units, int(RECOVERY_WINDOW), None if self._reads is None else self._reads.starts

    def _ask(self, kind: str, host: str, at: float, unit: str | None) -> str | None:
        """`_answer` from ``host``'s last fact of ``kind``, noted if watched."""
        fact: Fact | None
        if kind == KILLS:
            kill = self._kills.get(host)
            fact = None if kill is None else (kill.at, kill.victim)
        else:
            fact = (self._units if kind == UNITS else self._failed).get(host)
        reads = self._reads
        if reads is not None and (kind, host) not in reads.written:
            reads.asked.append((kind, host, at, unit))
        return _answer(kind, fact, at, unit)

    def _wrote(self, kind: str, host: str) -> None:
        if self._reads is not None:
            self._reads.written.add((kind, host))

    def before(self, doc: Doc, hit: Hit) -> bool:
        """Add what the lines before tell to ``hit``'s variables (before its texts are rendered);
        False if the hit is to be dropped (a start of a unit that did not fail just before)."""
        sig = hit.signature.id
        if hit.signature.role == "recovery":
            return self._recovery(doc, hit)
        if sig != _OOM_SIGNATURE and not hit.signature.consequence:
            return True
        at, host = _seconds(doc), _host(doc)
        if at is None:
            return True
        if sig == _OOM_SIGNATURE:
            victim = self._ask(KILLS, host, at, None)
            if victim is not None:
                hit.vars["victim"] = victim
            return True
        failed = self._ask(FAILED, host, at, hit.vars.get("unit"))
        if failed is not None:
            _name_dependency(hit, failed)
        elif "failed_dependency" not in hit.vars:
            self._waiting.append(_Waiting(at, doc, hit))
        return True

    def _troubled(self, host: str, unit: str, at: float) -> None:
        """``unit`` failed, or logged an error, on ``host`` at ``at``: its next start ends that."""
        key = stem_key(host, unit)
        self._units[key] = (at, unit)
        self._wrote(UNITS, key)

    def _recovery(self, doc: Doc, hit: Hit) -> bool:
        """Whether a start ends a failure or errors of its unit on the host (`_answer`): then the
        start names that unit, which no longer counts as troubled."""
        at = _seconds(doc)
        started = hit.vars.get("unit") or hit.vars.get("description") or ""
        key = stem_key(_host(doc), started)
        if at is None or key not in self._units and self._reads is None:
            return False
        unit = self._ask(UNITS, key, at, started)
        if unit is None:
            return False
        hit.vars["unit"] = unit
        del self._units[key]
        self._wrote(UNITS, key)
        return True

    def after(self, doc: Doc, hit: Hit, rootcause: dict[str, Any]) -> list[tuple[Doc, Hit]]:
        """Remember what ``doc`` tells the lines after it; the earlier hits of this batch it
        completes (to be written again), and the kernel line it gives its unit."""
        at, host = _seconds(doc), _host(doc)
        sig = hit.signature
        if at is None:
            return []
        if sig.id == OOM_KILL:
            victim = f"{hit.vars.get('victim', '?')} (pid {hit.vars.get('pid', '?')})"
            self._kills[host] = _Kill(at, victim, doc)
            self._wrote(KILLS, host)
            return []
        if DEPENDENCY_UNIT in hit.vars:
            rootcause["dependency"] = hit.vars[DEPENDENCY_UNIT]
        unit = rootcause.get("unit")
        if unit and sig.role in ("cause", "summary", "failure") and not sig.consequence and not unit.endswith(".scope"):
            self._troubled(host, unit, at)
        if sig.family != "systemd" or not unit:
            return []
        kill = self._kills.get(host)
        if kill is not None and kill.doc is not None and _killed(hit) and 0 <= at - kill.at <= OOM_WINDOW:
            kill.doc["rootcause"]["unit"] = unit
            kill.doc = None
        if sig.role != "failure" or sig.consequence or unit.endswith(".scope"):
            return []
        self._failed[host] = (at, unit)
        self._wrote(FAILED, host)
        named = [w for w in self._waiting
                 if _host(w.doc) == host and abs(at - w.at) <= DEPENDENCY_WINDOW and w.hit.vars.get("unit") != unit]
        self._waiting = [w for w in self._waiting if w not in named]
        for w in named:
            _name_dependency(w.hit, unit)
        return [(w.doc, w.hit) for w in named]

    def end_batch(self) -> None:
        """The batch's documents leave: none of them is changed from now on."""
        self._waiting.clear()
        for kill in self._kills.values():
            kill.doc = None
