"""The loaded form of the signature files (see `shipper.recognise.rules` for the file format)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal

# recovery: a unit that failed started again (`shipper.enrich.nearby` keeps only those after a failure).
# boot: a host started again (the kernel's banner): its open incidents end (`shipper.enrich.incidents`).
Role = Literal["cause", "failure", "summary", "recovery", "boot"]
ROLES: tuple[Role, ...] = ("cause", "failure", "summary", "recovery", "boot")

# Variables the recogniser computes itself and offers to templates and fields.
COMPUTED_VARS = frozenset(
    {
        "status_explained",  # exitcodes.explain(code, status)
        "result_explained",  # exitcodes.explain_result(result)
        "process",  # process.name of the document
        "host",  # host.name of the document
        "unit_type",  # the suffix of the unit variable (service, scope, ...)
    }
)
# Variables read in the case the log writes them that the texts use in lower case, mid-sentence:
# systemd writes "Main process exited" (v220 on) and "main process exited" (before).
LOWER_CASE_VARS = frozenset({"which"})


@dataclass(frozen=True)
class FieldRule:
    """Set ``field`` from variable ``var`` (``default`` when it did not match) or to the constant
    ``value``, converted to ``type``."""

    field: str
    var: str | None
    value: str | int | None
    type: Literal["str", "int"]
    default: str | int | None = None


@dataclass(frozen=True)
class Pattern:
    regex: str  # the source, as written (Python syntax; Joni accepts it too)
    compiled: re.Pattern[str]
    prefilter: tuple[str, ...]
    processes: tuple[str, ...]  # empty: any process
    context: str | None = None
    set: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    hint: str | None = None
    remediation: str | None = None
    docs: tuple[str, ...] | None = None
    where: str = field(default="", repr=False)  # file:line, for messages (not in repr: `shipper.state.linkstate.fingerprint`)

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self.compiled.groupindex)


@dataclass(frozen=True)
class Variant:
    """Other texts for a signature when its variables have these values (exit status 203, ...)."""

    when: dict[str, tuple[str, ...]]
    title: str | None = None
    hint: str | None = None
    remediation: str | None = None
    docs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Signature:
    id: str
    family: str
    role: Role
    rank: int
    recognises: str
    title: str
    hint: str
    remediation: str
    docs: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    message_ids: tuple[str, ...] = ()
    doc_vars: dict[str, tuple[str, ...]] = field(default_factory=dict)
    when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unless: dict[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    fields: tuple[FieldRule, ...] = ()
    variants: tuple[Variant, ...] = ()
    where: str = field(default="", repr=False)
    consequence: bool = False  # a failure another unit's failure explains (``Dependency failed for ...``)


@dataclass(frozen=True)
class ContextRule:
    id: str
    family: str
    prefilter: tuple[str, ...]
    compiled: re.Pattern[str]
    lines: int
    where: str = field(default="", repr=False)


@dataclass(frozen=True)
class UnitRule:
    unit: str
    processes: tuple[str, ...]
    datasets: tuple[str, ...]
    look_at: str | None


@dataclass(frozen=True)
class Family:
    name: str
    description: str
    path: str
    default_unit: str | None
    gate: tuple[str, ...]
    units: tuple[UnitRule, ...]
    contexts: tuple[ContextRule, ...]
    signatures: tuple[Signature, ...]


@dataclass(frozen=True)
class Rules:
    families: tuple[Family, ...]

    @functools.cached_property
    def signatures(self) -> tuple[Signature, ...]:
        return tuple(s for f in self.families for s in f.signatures)

    @functools.cached_property
    def by_id(self) -> dict[str, Signature]:
        return {s.id: s for s in self.signatures}

    @functools.cached_property
    def consequences(self) -> frozenset[str]:
        """The ids of the signatures that are consequences of another unit's failure."""
        return frozenset(s.id for s in self.signatures if s.consequence)

    @functools.cached_property
    def contexts(self) -> tuple[ContextRule, ...]:
        return tuple(c for f in self.families for c in f.contexts)

    @functools.cached_property
    def units(self) -> tuple[UnitRule, ...]:
        return tuple(u for f in self.families for u in f.units)
