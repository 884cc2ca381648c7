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
* **Which dependency failed.** ``Dependency failed for Local File Systems.`` does not say which
  unit failed; systemd logs that unit's failure (``data.mount: Mount process exited ...``) on the
  same host at the same moment — before, or in a pasted or reordered log just after. The dependency
  failure gets its name (``failed_dependency``).

"A moment" is `OOM_WINDOW` seconds (systemd learns of the kill from the cgroup a little later), and
`DEPENDENCY_WINDOW` for a dependency (systemd fails the dependent job in the same step; a syslog
time has whole seconds). A scope is never taken for the dependency (a transient application's
scope is nothing's requirement). Facts from an earlier batch are kept (host -> the last one); a line
of an earlier batch is never changed again (it may be written already).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shipper.event import Doc, get_path
from shipper.recognise.matcher import Hit

OOM_WINDOW = 5.0
DEPENDENCY_WINDOW = 1.0
# The unit lines that say the unit's process was killed (a kernel OOM kill just before explains them).
_OOM_SIGNATURE = "systemd.oom_killed"
OOM_KILL = "kernel.oom_kill"  # the kernel's line, which names the process killed but not its unit
_KILL_RESULTS = ("oom-kill", "signal")
# The variable (no template uses it) that carries the failed dependency to ``rootcause.dependency``.
DEPENDENCY_UNIT = "dependency_unit"


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
    if signature == "systemd.process_exited":
        return code == "killed" and str(status) == "9"
    return signature == "systemd.unit_failed" and result in _KILL_RESULTS


def killed_doc(doc: Doc) -> bool:
    """`killed` for a recognised document: its values as the signature's fields stored them."""
    return killed(str(get_path(doc, "rootcause.signature")), get_path(doc, "systemd.exit_code"),
                  get_path(doc, "process.exit_code"), get_path(doc, "systemd.result"))


class Nearby:
    def __init__(self) -> None:
        self._kills: dict[str, _Kill] = {}  # host -> the last OOM kill
        self._failed: dict[str, tuple[float, str]] = {}  # host -> the last unit failure (time, unit)
        self._waiting: list[_Waiting] = []  # this batch's dependency failures that name no unit yet

    def before(self, doc: Doc, hit: Hit) -> None:
        """Add what the lines before tell to ``hit``'s variables (before its texts are rendered)."""
        sig = hit.signature.id
        if sig != _OOM_SIGNATURE and not hit.signature.consequence:
            return
        at, host = _seconds(doc), _host(doc)
        if at is None:
            return
        if sig == _OOM_SIGNATURE:
            kill = self._kills.get(host)
            if kill is not None and 0 <= at - kill.at <= OOM_WINDOW:
                hit.vars["victim"] = kill.victim
            return
        failed = self._failed.get(host)
        if failed is not None and 0 <= at - failed[0] <= DEPENDENCY_WINDOW and failed[1] != hit.vars.get("unit"):
            _name_dependency(hit, failed[1])
        elif "failed_dependency" not in hit.vars:
            self._waiting.append(_Waiting(at, doc, hit))

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
            return []
        if DEPENDENCY_UNIT in hit.vars:
            rootcause["dependency"] = hit.vars[DEPENDENCY_UNIT]
        unit = rootcause.get("unit")
        if sig.family != "systemd" or not unit:
            return []
        kill = self._kills.get(host)
        if kill is not None and kill.doc is not None and _killed(hit) and 0 <= at - kill.at <= OOM_WINDOW:
            kill.doc["rootcause"]["unit"] = unit
            kill.doc = None
        if sig.role != "failure" or sig.consequence or unit.endswith(".scope"):
            return []
        self._failed[host] = (at, unit)
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
