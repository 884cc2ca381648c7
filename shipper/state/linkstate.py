"""Linking's state, kept beside the checkpoints: ``<state_dir>/linking.json``, written atomically.

It holds what linking carries from one event to the next (`Incidents.state`: the open incidents;
`Nearby.facts`: the units that failed or logged errors, the OOM kills waiting for their unit;
`Recognise.contexts_json`: the contexts open on a stream, such as an Elasticsearch bootstrap-check
report whose numbered check lines are read only in it) as
it was after linking exactly the documents up to a *fence* per stream (a text offset: the
documents before it; a journal cursor: its writer's entries up to it), all of which the output
acknowledged. `shipper.daemon.linking` says when it is taken and how a restart goes on from it.

It is only valid with the signatures and ``recognise.incident_window`` it was linked with
(`fingerprint`): with others it is not used, and the reason is logged. A file that cannot be read
back is not used either (the daemon starts without it and says so): unlike a checkpoint, it
decides nothing about what is shipped, only how the first minutes after the start are linked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import orjson

from shipper.enrich.nearby import Facts
from shipper.recognise.model import Rules
from shipper.sources.live import JournalMark, TextMark
from shipper.state.atomic import write_atomic

FILENAME = "linking.json"
VERSION = 1
Mark = Union[TextMark, JournalMark]
NO_CONTEXTS: dict[str, Any] = {"seen": 0, "open": []}


@dataclass
class Saved:
    fences: dict[str, Mark]  # source id -> the checkpoint of the last batch the state includes
    incidents: dict[str, Any]  # `Incidents.state`
    facts: Facts
    contexts: dict[str, Any]  # `Recognise.contexts_json`
    body: bytes  # the linking part as it is in the file (`state_body`: to write again with other fences)


def fingerprint(rules: Rules, window: float) -> str:
    """What the state is valid for: the signatures (all of them: a cause keeps its hint) and the window."""
    return hashlib.blake2b(repr((rules.signatures, float(window))).encode(), digest_size=12).hexdigest()


def state_body(incidents: dict[str, Any], facts: Facts, contexts: dict[str, Any]) -> bytes:
    """The linking part of the file, encoded when the state is taken (it changes on after)."""
    return orjson.dumps({"incidents": incidents, "facts": {"kills": facts.kills, "failed": facts.failed,
                                                           "units": facts.units}, "contexts": contexts})


class LinkStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILENAME

    def load(self, rules: str) -> tuple[Saved | None, str | None]:
        """The saved state if it is there and is for the ``rules`` (`fingerprint`); else None and,
        unless there is simply none (a first start, an older shipper's state), why it is not used."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"cannot be read ({exc.strerror})"
        try:
            data = orjson.loads(raw)
            if data["version"] != VERSION:
                return None, f"is of another shipper version ({data['version']})"
            if data["rules"] != rules:
                return None, "was linked with other signatures or another recognise.incident_window"
            links = data["links"]
            facts = Facts(*(_facts(links["facts"][kind]) for kind in ("kills", "failed", "units")))
            fences = {str(sid): _mark(m) for sid, m in data["fences"].items()}
            contexts = dict(links.get("contexts", NO_CONTEXTS))  # (none in a state saved before they were)
            return Saved(fences, dict(links["incidents"]), facts, contexts, orjson.dumps(links)), None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None, "is damaged"

    def remove(self) -> None:
        """No state is on disk any more (`shipper.daemon.linking`: it could not be kept up)."""
        self.path.unlink(missing_ok=True)

    def save(self, rules: str, fences: dict[str, Mark], body: bytes) -> None:
        data = {"version": VERSION, "rules": rules, "fences": {sid: _mark_json(m) for sid, m in fences.items()},
                "links": orjson.Fragment(body)}
        write_atomic(self.path, orjson.dumps(data))


def _facts(d: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {str(key): (float(at), str(what)) for key, (at, what) in d.items()}


def _mark_json(mark: Mark) -> dict[str, Any]:
    if isinstance(mark, TextMark):
        return {"resume": mark.resume, "shipped": mark.shipped}
    return {"cursor": mark.cursor, "time": mark.time, "shipped": mark.shipped}


def _mark(d: dict[str, Any]) -> Mark:
    if "resume" in d:
        return TextMark(int(d["resume"]), int(d["shipped"]))
    return JournalMark(*(None if d[k] is None else str(d[k]) for k in ("cursor", "time", "shipped")))
