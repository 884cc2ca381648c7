"""What the express lanes (`shipper.parallel.express`) are given of recognition: a *plan*, its data
as the C code takes it (gates, each process's prefilters, sendmail's names, the journal's severities
and facilities, the MESSAGE_IDs), made once per recogniser and item form (`Plans`)."""

from __future__ import annotations

from typing import Iterable

from shipper.enrich import sendmail
from shipper.enrich.recognise import Recognise
from shipper.parse.syslog_fields import FACILITIES, SEVERITIES
from shipper.recognise.model import Rules

try:
    from shipper.parallel import _express
except ImportError:  # not built: `shipper.parallel.express` then makes no plan
    _express = None  # type: ignore[assignment]

Form = tuple[bytes | None, bytes]  # an item's bytes before the id (None: no id), and after it


def _encoded(texts: Iterable[str]) -> tuple[bytes, ...]:
    return tuple(text.encode() for text in texts)


_Filter = tuple[bytes, tuple[bytes, ...]] | tuple[bytes, tuple[bytes, ...], tuple[bytes, ...]]
# The starts the lanes tell apart: those of this signature, whose unit _express_starts.c finds as its patterns do.
STARTS = "systemd.unit_started"


def _filter(rules: Rules, process: str, texts: tuple[str, ...]) -> _Filter:
    """A process's prefilters as the plan takes them: its name and texts; and where a start of it
    only `STARTS` looks at (`STARTS` in _express.c), the strict texts: those but a start's that
    make Python look at its line (its prefilters that admit another signature, and every
    unrestricted pattern's and context's prefilter of the families that read the process: with a
    prefilter passed, Python tries those)."""
    admits: dict[str, set[str]] = {}
    wider: list[str] = []
    for family in rules.families:
        mine = [(sig, pat) for sig in family.signatures for pat in sig.patterns if process in pat.processes]
        for sig, pat in mine:
            for text in pat.prefilter:
                admits.setdefault(text, set()).add(sig.id)
        if mine:
            wider += [t for sig in family.signatures for pat in sig.patterns if not pat.processes for t in pat.prefilter]
            wider += [t for context in family.contexts for t in context.prefilter]
    others = [t for t in texts if admits.get(t) != {STARTS}]
    if len(others) == len(texts):
        return process.encode(), _encoded(texts)
    return process.encode(), _encoded(texts), _encoded(dict.fromkeys(others + wider))


def _plan(recognise: Recognise, forms: tuple[Form | str, ...], log_head: bytes) -> _express.Plan:
    """Recognition's data as the C code takes it, with the line lane's constant bytes and the
    journal lane's names (`journal_fields`' severities and facilities). The MESSAGE_IDs that only
    `STARTS` matches, and the processes whose starts only it looks at, are told apart: the lanes
    take such a start when it is dropped for certain (`Nearby.lane`)."""
    matcher, rules = recognise.matcher, recognise.rules
    starts = {mid for mid in matcher.message_ids if {sig.id for sig in rules.signatures if mid in sig.message_ids} == {STARTS}}
    return _express.Plan(
        _encoded(gate for gate, _ in matcher.gates),
        tuple(_filter(rules, name, texts) for name, (texts, _) in matcher.proc_filters.items()),
        _encoded(sorted(recognise.sendmail_idents)),
        _encoded(sorted(sendmail.KEYS)),
        forms,
        log_head,
        (_encoded(SEVERITIES), _encoded(FACILITIES), _encoded(sorted(matcher.message_ids - starts)), _encoded(sorted(starts))),
    )


class Plans:
    """The plans of one recogniser, each made once: making one fills its prefilters' tables (about
    0.15 ms, 2% of a replay worker's time when it was made for each job). A plan holds no state."""

    def __init__(self, recognise: Recognise) -> None:
        self._recognise = recognise
        self._made: dict[tuple[tuple[Form | str, ...], bytes], _express.Plan] = {}

    def get(self, forms: tuple[Form | str, ...], log_head: bytes) -> _express.Plan:
        plan = self._made.get((forms, log_head))
        if plan is None:
            plan = self._made[forms, log_head] = _plan(self._recognise, forms, log_head)
        return plan
