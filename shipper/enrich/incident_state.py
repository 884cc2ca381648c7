"""What `shipper.enrich.incidents.Incidents` carries from one event to the next, as JSON and back:
the open incidents (each once, however many lookups point at it), the lookups by unit (one
incident per run of it: `incident_record.Runs`, oldest first), PID, a host's last failure and OOM
kill of no unit, and the units' last starts (one per run). The daemon saves it
with its checkpoints (`shipper.state.linkstate`), so that a restart links on as if it had not
stopped. Between batches an incident holds no pending failure, so none is saved."""

from __future__ import annotations

from dataclasses import asdict
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from shipper.enrich.incident_record import Cause, Incident
from shipper.event import Doc

Key = tuple[str, str | None]  # (host, unit)
T = TypeVar("T")
Timed = dict[str, tuple[float, Incident]]  # host -> (seconds, incident)


class Links:
    """The lookups of `Incidents`, as one value (its attributes are theirs)."""

    def __init__(self, open_: list[tuple[Key, Incident]], by_pid: dict[int, Incident], last_failure: Timed,
                 kills: Timed, starts: list[tuple[Key, tuple[float, Doc]]], newest: float) -> None:
        self.open, self.by_pid, self.last_failure, self.kills = open_, by_pid, last_failure, kills
        self.starts, self.newest = starts, newest


def links_json(links: Links) -> dict[str, Any]:
    incidents: dict[int, Incident] = {}
    for inc in [*(i for _, i in links.open), *links.by_pid.values(), *(i for _, i in links.last_failure.values()),
                *(i for _, i in links.kills.values())]:
        incidents.setdefault(id(inc), inc)
    index = {key: n for n, key in enumerate(incidents)}
    return {
        "incidents": [_incident_json(inc) for inc in incidents.values()],
        "open": [[host, unit, index[id(inc)]] for (host, unit), inc in links.open],
        "by_pid": [[pid, index[id(inc)]] for pid, inc in links.by_pid.items()],
        "last_failure": [[host, at, index[id(inc)]] for host, (at, inc) in links.last_failure.items()],
        "kills": [[host, at, index[id(inc)]] for host, (at, inc) in links.kills.items()],
        "starts": [[host, unit, at, doc] for (host, unit), (at, doc) in links.starts],
        "newest": links.newest,
    }


def links_from(data: dict[str, Any]) -> Links:
    """`links_json`'s value back; KeyError, TypeError, ValueError, IndexError when it is not one."""
    incidents = [_incident_from(d) for d in data["incidents"]]
    return Links(
        [((str(host), _unit(unit)), incidents[n]) for host, unit, n in data["open"]],
        {int(pid): incidents[n] for pid, n in data["by_pid"]},
        {str(host): (float(at), incidents[n]) for host, at, n in data["last_failure"]},
        {str(host): (float(at), incidents[n]) for host, at, n in data["kills"]},
        [((str(host), _unit(unit)), (float(at), _doc(doc))) for host, unit, at, doc in data["starts"]],
        float(data["newest"]),
    )


def _incident_json(inc: Incident) -> dict[str, Any]:
    out = asdict(inc)
    del out["pending"]
    out["invocations"], out["programs"] = sorted(inc.invocations), sorted(inc.programs)
    return out


def _incident_from(d: dict[str, Any]) -> Incident:
    d = dict(d)  # (the caller's is left as it was)
    cause = d.pop("cause")
    inc = _typed(Incident, {**d, "invocations": set(d["invocations"]), "programs": set(d["programs"])})
    inc.cause = _typed(Cause, cause) if cause is not None else None
    return inc


def _typed(cls: type[T], values: dict[str, Any]) -> T:
    """``cls(**values)`` once each value is of its field's type (a hand-edited or damaged file gives
    a ValueError here, not a TypeError in the middle of linking: `shipper.daemon.linking`)."""
    hints = get_type_hints(cls)
    for name, value in values.items():
        if name in hints and not _of_type(value, hints[name]):
            raise ValueError(f"{cls.__name__}.{name} is {value!r}")
    return cls(**values)


def _of_type(value: Any, hint: Any) -> bool:
    if get_origin(hint) in (Union, UnionType):
        return any(_of_type(value, h) for h in get_args(hint))
    if get_origin(hint) in (set, list):
        (item,) = get_args(hint)
        return isinstance(value, get_origin(hint)) and all(_of_type(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return value is None if hint is type(None) else isinstance(value, get_origin(hint) or hint)


def _unit(unit: object) -> str | None:
    return None if unit is None else str(unit)


def _doc(doc: object) -> Doc:
    if not isinstance(doc, dict):
        raise TypeError("a start is not a document")
    return doc
