"""An open incident as linking (`shipper.enrich.incidents`) keeps it, its cause, and when an event may
join it: of the same run (boot, user manager), or a summary printed a moment after it closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipper.enrich.incident_fields import boot_of, manager_of
from shipper.event import Doc

# systemd logs "Dependency failed for DESCRIPTION." and the job's "UNIT: Job ... 'dependency'." together.
SAME_MOMENT = 1.0


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


def sums_up(inc: Incident, rc: dict[str, Any], ts: float) -> bool:
    """Whether a summary printed after the failure (Elasticsearch 7's ``[2] bootstrap checks
    failed`` below the checks and ``did not exit normally``) sums up ``inc``, closed by that failure:
    it comes with it, a moment after its last event. (A summary that opens a later run's output
    comes before that run's causes and failure, so it still starts a new incident.)"""
    return rc["role"] == "summary" and 0 <= ts - inc.last <= SAME_MOMENT


def same_run(inc: Incident, doc: Doc) -> bool:
    """Whether ``doc`` may be of ``inc``'s boot (a syslog line tells none) and user manager."""
    boot, manager = boot_of(doc), manager_of(doc)
    return ((boot is None or inc.boot is None or boot == inc.boot)
            and (manager is None or inc.manager is None or manager == inc.manager))


def of_run(inc: Incident | None, doc: Doc) -> Incident | None:
    return inc if inc is not None and same_run(inc, doc) else None
