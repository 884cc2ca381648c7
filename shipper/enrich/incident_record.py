"""An open incident as linking (`shipper.enrich.incidents`) keeps it, its cause, and when an event may
join it: of the same run (boot, user manager), or a summary printed a moment after it closed; and
which of a unit's incidents an event is about (`Runs`: one per run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from shipper.enrich.incident_fields import boot_of, manager_of
from shipper.enrich.nearby import RECOVERY_WINDOW
from shipper.event import Doc

# systemd logs "Dependency failed for DESCRIPTION." and the job's "UNIT: Job ... 'dependency'." together.
SAME_MOMENT = 1.0
# What an event tells of the run of the unit it is about: (its journal boot id, the PID of the service
# manager that logged it: `manager_of`); None where it tells none, which fits any.
Run = tuple[str | None, int | None]
T = TypeVar("T")


@dataclass
class Cause:
    signature: str
    rank: int
    title: str
    message: str
    hint: str
    remediation: str
    first: str  # @timestamp
    last: str
    count: int = 1


@dataclass
class Incident:
    id: str
    host: str
    unit: str | None
    last: float
    invocations: set[str] = field(default_factory=set)
    cause: Cause | None = None
    consequences_only: bool = True  # only dependency failures joined it so far
    closed: bool = False  # a failure followed a known cause: the next cause starts a new incident
    boot: str | None = None  # the journal's boot id of its first event
    manager: int | None = None  # the PID of the user manager that logged its events (`manager_of`)
    restarted: str | None = None  # @timestamp of the unit's start (a recovery, or its host's boot) less than a window before it
    restarted_by: str = "it started again"  # what happened then, for its no-cause hint ("gorp booted")
    programs: set[str] = field(default_factory=set)  # the process names of its causes that tell no host
    pending: list[Doc] = field(default_factory=list)  # this batch's failures, relinked if a cause joins late

    @property
    def run(self) -> Run:
        return self.boot, self.manager


def reach(window: float) -> float:
    """How long after an incident's last event a start of its unit still ends it: the hour in which
    `shipper.enrich.nearby` keeps a start after the unit's failure or errors, or the incident
    window if that is longer (what joins within a window is the incident's anyway)."""
    return max(window, RECOVERY_WINDOW)


def run_of(doc: Doc) -> Run:
    return boot_of(doc), manager_of(doc)


def fits(a: Run, b: Run) -> bool:
    """Whether two runs may be one: each part the same, or told by one side only."""
    return all(x is None or y is None or x == y for x, y in zip(a, b))


class Runs(Generic[T]):
    """What linking keeps of each unit of a host (by ``(host, unit)``): per run (`Run`) of the unit,
    the newest (an incident, a start). The system manager's ``foo.service`` and a user manager's
    (``systemd[1562]``) are two units, so each keeps its own; a ``systemd`` line with no PID
    (rsyslog on RHEL 7) fits either, and replaces both."""

    def __init__(self, run: Callable[[T], Run]) -> None:
        self.run = run
        self.by_key: dict[tuple[str, str | None], list[T]] = {}  # each key's, oldest first

    def __len__(self) -> int:
        return sum(len(values) for values in self.by_key.values())

    def find(self, key: tuple[str, str | None], run: Run) -> T | None:
        """The newest of ``key`` that may be of ``run``."""
        return next((v for v in reversed(self.by_key.get(key, ())) if fits(self.run(v), run)), None)

    def put(self, key: tuple[str, str | None], value: T) -> None:
        """``value`` is the newest of ``key`` for its run: it replaces those that may be of that run."""
        run = self.run(value)
        self.by_key[key] = [v for v in self.by_key.get(key, ()) if v is not value and not fits(self.run(v), run)]
        self.by_key[key].append(value)

    def keep(self, kept: Callable[[T], bool]) -> None:
        """Forget those for which ``kept`` does not hold."""
        by_key = {key: [v for v in values if kept(v)] for key, values in self.by_key.items()}
        self.by_key = {key: values for key, values in by_key.items() if values}

    def drop(self, host: str) -> None:
        self.by_key = {key: values for key, values in self.by_key.items() if key[0] != host}

    def items(self) -> list[tuple[tuple[str, str | None], T]]:
        """Each key's, oldest first."""
        return [(key, v) for key, values in self.by_key.items() for v in values]

    def restore(self, items: list[tuple[tuple[str, str | None], T]]) -> None:
        """Hold ``items`` (`items`' value) again, and nothing else."""
        self.by_key = {}
        for key, value in items:
            self.by_key.setdefault(key, []).append(value)


def sums_up(inc: Incident, rc: dict[str, Any], ts: float) -> bool:
    """Whether a summary printed after the failure (Elasticsearch 7's ``[2] bootstrap checks
    failed`` below the checks and ``did not exit normally``) sums up ``inc``, closed by that failure:
    it comes with it, a moment after its last event. (A summary that opens a later run's output
    comes before that run's causes and failure, so it still starts a new incident.)"""
    return rc["role"] == "summary" and 0 <= ts - inc.last <= SAME_MOMENT


def same_run(inc: Incident, doc: Doc) -> bool:
    """Whether ``doc`` may be of ``inc``'s boot (a syslog line tells none) and user manager."""
    return fits(inc.run, run_of(doc))


def of_run(inc: Incident | None, doc: Doc) -> Incident | None:
    return inc if inc is not None and same_run(inc, doc) else None
