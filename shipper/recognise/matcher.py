"""Find the signature a line matches: cheap gates first, regexes only for the few lines that pass.

Per line the cost is one ``in`` check per family gate string (about seven in all), plus a dict
lookup on ``process.name``. Only when a gate string is present, the line comes from a family's
process (``systemd``), or a context is open on its stream, are that family's pattern prefilters
checked, and only patterns whose prefilter is present run their regex. The first pattern (in file
order) that matches and whose signature's conditions hold wins.

The matcher is pure: it reads the text and the document it is given and returns a `Hit`; the
recogniser (`shipper.enrich.recognise`) keeps the per-stream context and writes fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from shipper.event import Doc, get_path
from shipper.recognise.rules import LOWER_CASE_VARS, ContextRule, Family, Pattern, Rules, Signature, Variant
from shipper.recognise.units import UNIT_VARS, is_unit_name

# (prefilter string, entry numbers of the patterns it admits)
_Index = list[tuple[str, tuple[int, ...]]]
# Adds the variables the recogniser computes (rules.COMPUTED_VARS) before conditions are checked.
Computed = Callable[[dict[str, str], Doc], None]


@dataclass(slots=True)
class Context:
    """A context open on one stream: the lines after a ``systemctl status`` header, a bootstrap report."""

    rule: ContextRule
    bit: int
    vars: dict[str, str]
    remaining: int


@dataclass(slots=True)
class Hit:
    signature: Signature
    pattern: Pattern | None  # None: a journal entry matched by MESSAGE_ID whose text matched no pattern
    vars: dict[str, str]  # what was parsed or read (never the signature's defaults)

    def template_values(self) -> dict[str, str]:
        """The variables for filling templates: the parsed ones over the signature's defaults."""
        return {**self.signature.defaults, **self.vars}

    def texts(self) -> tuple[str, str, str, tuple[str, ...]]:
        """Title, hint, remediation and docs templates: a variant's, else the pattern's, else the signature's."""
        variant = _variant(self.signature.variants, self.vars)
        sig, pat = self.signature, self.pattern

        def pick(name: str) -> Any:
            for source in (variant, pat):
                value = getattr(source, name, None) if source is not None else None
                if value:
                    return value
            return getattr(sig, name)

        return pick("title"), pick("hint"), pick("remediation"), pick("docs")


@dataclass
class _Family:
    bit: int
    any_index: _Index  # patterns for any process
    proc_index: dict[str, _Index]  # patterns restricted to a process
    contexts: list[tuple[str, ContextRule]]


class Matcher:
    def __init__(self, rules: Rules, computed: Computed | None = None) -> None:
        self.rules = rules
        self._computed = computed
        self._entries: list[tuple[Signature, Pattern]] = []  # every pattern, in matching order
        self._by_message_id: dict[str, list[Signature]] = {}
        self.proc_bits: dict[str, int] = {}  # process.name -> the families that look at its lines
        self._families = [self._index(family, 1 << n) for n, family in enumerate(rules.families)]
        self.gates = tuple((g, 1 << n) for n, family in enumerate(rules.families) for g in family.gate)
        # process.name -> (the prefilters of the patterns for that process, the families they belong to)
        self.proc_filters: dict[str, tuple[tuple[str, ...], int]] = {
            proc: (tuple(dict.fromkeys(pf for fam in self._families for pf, _ in fam.proc_index.get(proc, ()))), bits)
            for proc, bits in self.proc_bits.items()
        }
        self.message_ids = frozenset(self._by_message_id)

    def _index(self, family: Family, bit: int) -> _Family:
        """Number the family's patterns and index them by prefilter string (and by process)."""
        any_filters: dict[str, list[int]] = {}
        proc_filters: dict[str, dict[str, list[int]]] = {}
        for sig in family.signatures:
            for mid in sig.message_ids:
                self._by_message_id.setdefault(mid, []).append(sig)
            for pat in sig.patterns:
                entry = len(self._entries)
                self._entries.append((sig, pat))
                for target in [proc_filters.setdefault(p, {}) for p in pat.processes] or [any_filters]:
                    for pf in pat.prefilter:
                        target.setdefault(pf, []).append(entry)
                for proc in pat.processes:
                    self.proc_bits[proc] = self.proc_bits.get(proc, 0) | bit
        return _Family(
            bit,
            any_index=[(pf, tuple(ids)) for pf, ids in any_filters.items()],
            proc_index={p: [(pf, tuple(ids)) for pf, ids in f.items()] for p, f in proc_filters.items()},
            contexts=[(pf, c) for c in family.contexts for pf in c.prefilter],
        )

    def families_for(self, text: str, process: str | None) -> int:
        """The families worth a closer look at this line (a bit set; 0 for most lines)."""
        bits = 0
        for gate, bit in self.gates:
            if gate in text:
                bits |= bit
        if process is not None:
            bits |= self.proc_bits.get(process, 0)
        return bits

    def match(
        self, doc: Doc, text: str, process: str | None, bits: int, active: Context | None
    ) -> tuple[Hit | None, Context | None]:
        """The signature ``text`` matches and a context it opens, for the families in ``bits``."""
        if active is not None:
            bits |= active.bit
        entries: set[int] = set()
        opened: Context | None = None
        for fam in self._families:
            if not bits & fam.bit:
                continue
            for pf, ids in fam.any_index:
                if pf in text:
                    entries.update(ids)
            if process is not None:
                for pf, ids in fam.proc_index.get(process, ()):
                    if pf in text:
                        entries.update(ids)
            for pf, rule in fam.contexts:
                if opened is None and pf in text:
                    m = rule.compiled.search(text)
                    if m:
                        groups = {k: v for k, v in m.groupdict().items() if v is not None}
                        opened = Context(rule, fam.bit, groups, rule.lines)
        for entry in sorted(entries):
            sig, pat = self._entries[entry]
            if pat.context is not None and (active is None or active.rule.id != pat.context):
                continue
            m = pat.compiled.search(text)
            if m is None:
                continue
            values = {k: v for k, v in m.groupdict().items() if v is not None}
            values.update(pat.set)
            if pat.context is not None and active is not None:
                for k, v in active.vars.items():
                    values.setdefault(k, v)
            hit = self._complete(sig, pat, values, doc)
            if hit is not None:
                return hit, opened
        return None, opened

    def match_journal(self, doc: Doc, text: str, message_id: str) -> Hit | None:
        """A journal entry by its MESSAGE_ID: the fields decide, the text fills in what they lack."""
        for sig in self._by_message_id.get(message_id, ()):
            found: Pattern | None = None
            values: dict[str, str] = {}
            for pat in sig.patterns:
                if pat.context is None:
                    m = pat.compiled.search(text)
                    if m:
                        found = pat
                        values = {k: v for k, v in m.groupdict().items() if v is not None}
                        values.update(pat.set)
                        break
            hit = self._complete(sig, found, values, doc)
            if hit is not None:
                return hit
        return None

    def _complete(self, sig: Signature, pat: Pattern | None, values: dict[str, str], doc: Doc) -> Hit | None:
        """Add document and computed variables; None if the signature's conditions do not hold.

        A unit variable (`UNIT_VARS`) holds only a valid unit name (`is_unit_name`): a journal
        field that is not one (``UNIT=`` is the sender's to choose) is passed over, and a text
        that is not one is dropped, so the templates fall back to their default. The variables of
        `LOWER_CASE_VARS` are put in lower case (the texts use them mid-sentence)."""
        for var, paths in sig.doc_vars.items():
            for path in paths:
                value = get_path(doc, path)
                if value is not None and value != "":
                    text = str(value)
                    if var in UNIT_VARS and not is_unit_name(text):
                        continue
                    values[var] = text
                    break
        for var in UNIT_VARS:
            if var in values and not is_unit_name(values[var]):
                del values[var]
        for var in LOWER_CASE_VARS:
            if var in values:
                values[var] = values[var].lower()
        if self._computed is not None:
            self._computed(values, doc)
        for var, allowed in sig.when.items():
            if values.get(var) not in allowed:
                return None
        for var, refused in sig.unless.items():
            if values.get(var) in refused:
                return None
        return Hit(sig, pat, values)


def _variant(variants: tuple[Variant, ...], values: dict[str, str]) -> Variant | None:
    for variant in variants:
        if all(values.get(var) in allowed for var, allowed in variant.when.items()):
            return variant
    return None
