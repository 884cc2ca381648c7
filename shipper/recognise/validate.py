"""Strict validation of one signature file: unknown keys, bad regexes, missing texts and unknown
template variables are `ConfigError`s naming the file and the line."""

from __future__ import annotations

import re
from typing import Any, Sequence

from shipper.errors import ConfigError
from shipper.recognise.model import (
    COMPUTED_VARS,
    ROLES,
    ContextRule,
    Family,
    FieldRule,
    Pattern,
    Rules,
    Signature,
    UnitRule,
    Variant,
)

_ID = re.compile(r"^[a-z][a-z0-9]*(?:\.[a-z][a-z0-9_]*)+$")
_VAR = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD = re.compile(r"^@?[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$")
_TEMPLATE_VAR = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_MESSAGE_ID = re.compile(r"^[0-9a-f]{32}$")
_PARENT_KEY = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")  # the last part of "signatures[0].patterns[1]"
# Constructs one of the two regex engines rejects (or reads differently).
_FORBIDDEN = (
    (re.compile(r"\(\?<[=!]"), "lookbehind (?<= / (?<! is not allowed"),
    (re.compile(r"(?<!\\)[*+?}]\+"), "possessive quantifiers (*+, ++, ?+) are not allowed"),
    (re.compile(r"\\Z"), r"\Z is not allowed (use $)"),
    (re.compile(r"\(\?[aiLmsux-]+[):]"), "inline flags such as (?i) are not allowed"),
    (re.compile(r"\(\?P="), "(?P=name) back-references are not allowed"),
    (re.compile(r"\(\?<[A-Za-z]"), "write named groups as (?P<name>...)"),
    (re.compile(r"\(\?#"), "regex comments (?#...) are not allowed"),
)

_FILE_KEYS = {"family", "description", "default_unit", "gate", "units", "contexts", "signatures"}
_UNIT_KEYS = {"processes", "datasets", "look_at"}
_CONTEXT_KEYS = {"id", "prefilter", "regex", "lines"}
_SIG_KEYS = {
    "id", "role", "rank", "recognises", "title", "hint", "remediation", "docs", "prefilter",
    "processes", "patterns", "journal", "doc_vars", "when", "unless", "defaults", "fields", "variants", "consequence",
}
_PATTERN_KEYS = {"regex", "prefilter", "processes", "context", "set", "title", "hint", "remediation", "docs"}
_FIELD_KEYS = {"var", "value", "type", "default"}
_VARIANT_KEYS = {"when", "title", "hint", "remediation", "docs"}


class FileLoader:
    def __init__(self, name: str, where: Any) -> None:
        self.name = name
        self.where = where

    def fail(self, key: str, problem: str, fix: str | None = None) -> ConfigError:
        return ConfigError(f"{self.at(key)}: {key or '(top level)'}: {problem}", hint=fix)

    def at(self, key: str) -> str:
        """``file:line`` of ``key``, or of its nearest parent with a line (a pattern written as a bare string)."""
        while key and key not in self.where.marks:
            parent = _PARENT_KEY.sub("", key)
            key = parent if parent != key else ""
        return str(self.where.at(key))

    def mapping(self, data: Any, key: str, allowed: set[str], required: Sequence[str] = ()) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, "expected a mapping")
        for k in data:
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else str(k), "unknown key", f"known keys here: {', '.join(sorted(allowed))}")
        for k in required:
            if k not in data:
                raise self.fail(key, f"required key '{k}' is missing")
        return data

    def text(self, data: Any, key: str, *, raw: bool = False) -> str:
        """Non-empty text; stripped unless ``raw`` (regexes and prefilters keep their spaces)."""
        if not isinstance(data, str) or not data.strip():
            raise self.fail(key, "expected non-empty text")
        return data if raw else data.strip()

    def strings(self, data: Any, key: str, *, empty: bool = False, raw: bool = False) -> tuple[str, ...]:
        if not isinstance(data, list) or (not data and not empty):
            raise self.fail(key, "expected a non-empty list of texts")
        return tuple(
            self.text(v, f"{key}[{i}]", raw=raw) if not isinstance(v, (int, float)) else str(v) for i, v in enumerate(data)
        )

    def family(self, data: Any) -> Family:
        data = self.mapping(data, "", _FILE_KEYS, ("family", "description", "signatures"))
        name = self.text(data["family"], "family")
        units = tuple(self.unit(u, v, f"units.{u}") for u, v in (data.get("units") or {}).items())
        contexts = tuple(self.context(c, f"contexts[{i}]", name) for i, c in enumerate(data.get("contexts") or []))
        sigs = data["signatures"]
        if not isinstance(sigs, list) or not sigs:
            raise self.fail("signatures", "expected a non-empty list of signatures")
        signatures = tuple(self.signature(s, f"signatures[{i}]", name) for i, s in enumerate(sigs))
        default = data.get("default_unit")
        return Family(
            name=name,
            description=self.text(data["description"], "description"),
            path=self.name,
            default_unit=self.text(default, "default_unit") if default is not None else None,
            gate=self.strings(data.get("gate", []), "gate", empty=True, raw=True),
            units=units,
            contexts=contexts,
            signatures=signatures,
        )

    def unit(self, unit: str, data: Any, key: str) -> UnitRule:
        data = self.mapping(data, key, _UNIT_KEYS)
        look_at = data.get("look_at")
        return UnitRule(
            unit=unit,
            processes=self.strings(data.get("processes", []), f"{key}.processes", empty=True),
            datasets=self.strings(data.get("datasets", []), f"{key}.datasets", empty=True),
            look_at=self.text(look_at, f"{key}.look_at") if look_at is not None else None,
        )

    def context(self, data: Any, key: str, family: str) -> ContextRule:
        data = self.mapping(data, key, _CONTEXT_KEYS, ("id", "prefilter", "regex", "lines"))
        lines = data["lines"]
        if not isinstance(lines, int) or isinstance(lines, bool) or lines < 1:
            raise self.fail(f"{key}.lines", "expected a whole number of lines (1 or more)")
        return ContextRule(
            id=self.text(data["id"], f"{key}.id"),
            family=family,
            prefilter=self.strings(data["prefilter"], f"{key}.prefilter", raw=True),
            compiled=self.regex(data["regex"], f"{key}.regex"),
            lines=lines,
            where=self.at(key),
        )

    def regex(self, data: Any, key: str) -> re.Pattern[str]:
        source = self.text(data, key, raw=True)
        for bad, problem in _FORBIDDEN:
            if bad.search(source):
                raise self.fail(key, problem, "keep to the regex subset both Python and Elasticsearch (Joni) accept")
        try:
            compiled = re.compile(source)
        except re.error as exc:
            raise self.fail(key, f"not a valid regular expression: {exc}") from None
        for group in compiled.groupindex:
            if not _VAR.match(group):
                raise self.fail(key, f"group name {group!r} must be lower case letters, digits and _")
        return compiled

    def signature(self, data: Any, key: str, family: str) -> Signature:
        data = self.mapping(
            data, key, _SIG_KEYS, ("id", "role", "recognises", "title", "hint", "remediation", "docs", "patterns")
        )
        sig_id = self.text(data["id"], f"{key}.id")
        if not _ID.match(sig_id) or not sig_id.startswith(family + "."):
            raise self.fail(f"{key}.id", f"{sig_id!r} must look like {family}.lower_case_name")
        role = data["role"]
        if role not in ROLES:
            raise self.fail(f"{key}.role", f"{role!r} is not a role", f"use one of: {', '.join(ROLES)}")
        rank = data.get("rank", 50)
        if not isinstance(rank, int) or isinstance(rank, bool):
            raise self.fail(f"{key}.rank", "expected a whole number")
        prefilter = self.strings(data.get("prefilter", []), f"{key}.prefilter", empty=True, raw=True)
        processes = self.strings(data.get("processes", []), f"{key}.processes", empty=True)
        raw = data["patterns"]
        if not isinstance(raw, list) or not raw:
            raise self.fail(f"{key}.patterns", "expected a non-empty list of patterns")
        patterns = tuple(self.pattern(p, f"{key}.patterns[{i}]", prefilter, processes) for i, p in enumerate(raw))
        sig = Signature(
            id=sig_id,
            family=family,
            role=role,
            rank=rank,
            recognises=self.text(data["recognises"], f"{key}.recognises"),
            title=self.text(data["title"], f"{key}.title"),
            hint=self.text(data["hint"], f"{key}.hint"),
            remediation=self.text(data["remediation"], f"{key}.remediation"),
            docs=self.strings(data["docs"], f"{key}.docs"),
            patterns=patterns,
            message_ids=self.journal(data.get("journal"), f"{key}.journal"),
            doc_vars=self.var_map(data.get("doc_vars"), f"{key}.doc_vars", fields=True),
            when=self.var_map(data.get("when"), f"{key}.when"),
            unless=self.var_map(data.get("unless"), f"{key}.unless"),
            defaults={str(k): str(v) for k, v in self.var_map(data.get("defaults"), f"{key}.defaults", scalar=True).items()},
            fields=tuple(self.field_rule(f, v, f"{key}.fields.{f}") for f, v in (data.get("fields") or {}).items()),
            variants=tuple(self.variant(v, f"{key}.variants[{i}]") for i, v in enumerate(data.get("variants") or [])),
            where=self.at(key),
            consequence=self.consequence(data.get("consequence", False), f"{key}.consequence", role),
        )
        self.check_vars(sig, key)
        return sig

    def consequence(self, data: Any, key: str, role: str) -> bool:
        """``consequence: true``: a failure that another unit's failure explains (it joins that
        unit's incident and keeps its own hint)."""
        if not isinstance(data, bool):
            raise self.fail(key, f"expected true or false, not {data!r}")
        if data and role != "failure":
            raise self.fail(key, f"only a failure can be a consequence of another unit's failure, not a {role}",
                            "remove the key, or make the signature's role failure")
        return data

    def pattern(self, data: Any, key: str, prefilter: tuple[str, ...], processes: tuple[str, ...]) -> Pattern:
        if isinstance(data, str):
            data = {"regex": data}
        data = self.mapping(data, key, _PATTERN_KEYS, ("regex",))
        own_filter = self.strings(data["prefilter"], f"{key}.prefilter", raw=True) if "prefilter" in data else prefilter
        if not own_filter:
            raise self.fail(key, "no prefilter", "give the signature or the pattern a prefilter: substrings of every line it matches")
        sets = self.var_map(data.get("set"), f"{key}.set", scalar=True)
        docs = data.get("docs")
        return Pattern(
            regex=self.text(data["regex"], f"{key}.regex", raw=True),
            compiled=self.regex(data["regex"], f"{key}.regex"),
            prefilter=own_filter,
            processes=self.strings(data["processes"], f"{key}.processes", empty=True) if "processes" in data else processes,
            context=self.text(data["context"], f"{key}.context") if "context" in data else None,
            set={k: str(v) for k, v in sets.items()},
            title=self.text(data["title"], f"{key}.title") if "title" in data else None,
            hint=self.text(data["hint"], f"{key}.hint") if "hint" in data else None,
            remediation=self.text(data["remediation"], f"{key}.remediation") if "remediation" in data else None,
            docs=self.strings(docs, f"{key}.docs") if docs is not None else None,
            where=self.at(key),
        )

    def variant(self, data: Any, key: str) -> Variant:
        data = self.mapping(data, key, _VARIANT_KEYS, ("when",))
        docs = data.get("docs")
        return Variant(
            when=self.var_map(data["when"], f"{key}.when"),
            title=self.text(data["title"], f"{key}.title") if "title" in data else None,
            hint=self.text(data["hint"], f"{key}.hint") if "hint" in data else None,
            remediation=self.text(data["remediation"], f"{key}.remediation") if "remediation" in data else None,
            docs=self.strings(docs, f"{key}.docs") if docs is not None else None,
        )

    def journal(self, data: Any, key: str) -> tuple[str, ...]:
        if data is None:
            return ()
        data = self.mapping(data, key, {"message_id"}, ("message_id",))
        ids = data["message_id"]
        ids = self.strings(ids if isinstance(ids, list) else [ids], f"{key}.message_id")
        for mid in ids:
            if not _MESSAGE_ID.match(mid):
                raise self.fail(f"{key}.message_id", f"{mid!r} is not a MESSAGE_ID (32 lower-case hex digits)")
        return ids

    def var_map(self, data: Any, key: str, *, fields: bool = False, scalar: bool = False) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.fail(key, "expected a mapping of variable names")
        out: dict[str, Any] = {}
        for var, value in data.items():
            if not isinstance(var, str) or not _VAR.match(var):
                raise self.fail(f"{key}.{var}", "variable names are lower case letters, digits and _")
            if scalar:
                if not isinstance(value, (str, int)) or isinstance(value, bool):
                    raise self.fail(f"{key}.{var}", "expected text or a number")
                out[var] = value
                continue
            values = self.strings(value if isinstance(value, list) else [value], f"{key}.{var}")
            if fields:
                for path in values:
                    if not _FIELD.match(path):
                        raise self.fail(f"{key}.{var}", f"{path!r} is not a document field such as systemd.unit")
            out[var] = values
        return out

    def field_rule(self, name: Any, data: Any, key: str) -> FieldRule:
        if not isinstance(name, str) or not _FIELD.match(name):
            raise self.fail(key, f"{name!r} is not a document field such as process.exit_code")
        if name.startswith("rootcause."):
            raise self.fail(key, "rootcause.* fields are set by the recogniser, not by signatures")
        data = self.mapping(data, key, _FIELD_KEYS)
        if ("var" in data) == ("value" in data):
            raise self.fail(key, "give exactly one of 'var' (a variable) or 'value' (a constant)")
        typ = data.get("type", "str")
        if typ not in ("str", "int"):
            raise self.fail(f"{key}.type", f"{typ!r} is not a type", "use str or int")
        if "default" in data and "var" not in data:
            raise self.fail(f"{key}.default", "a default goes with 'var'")
        value, default = data.get("value"), data.get("default")
        for label, v in (("value", value), ("default", default)):
            if v is not None and (not isinstance(v, (str, int)) or isinstance(v, bool)):
                raise self.fail(f"{key}.{label}", "expected text or a number")
            if typ == "int" and isinstance(v, str):
                raise self.fail(f"{key}.{label}", "an int field needs a number")
        var = data.get("var")
        return FieldRule(field=name, var=str(var) if var is not None else None, value=value, type=typ, default=default)

    def check_vars(self, sig: Signature, key: str) -> None:
        """Every variable a template, condition or field uses must come from somewhere."""
        known = set(COMPUTED_VARS) | set(sig.doc_vars) | set(sig.defaults)
        for p in sig.patterns:
            known |= set(p.groups) | set(p.set)
        used: list[tuple[str, str]] = []
        texts: list[Any] = [sig, *sig.patterns, *sig.variants]
        for label in ("title", "hint", "remediation"):
            templates = [t for t in (getattr(x, label) for x in texts) if t]
            used += [(f"{key}.{label}", v) for t in templates for v in _TEMPLATE_VAR.findall(t)]
        used += [(f"{key}.when", v) for v in sig.when] + [(f"{key}.unless", v) for v in sig.unless]
        used += [(f"{key}.variants", v) for var in sig.variants for v in var.when]
        used += [(f"{key}.fields.{r.field}", r.var) for r in sig.fields if r.var]
        for where, var in used:
            if var not in known:
                raise self.fail(
                    where, f"unknown variable {{{var}}}", f"known here: {', '.join(sorted(known))}"
                )


def cross_check(rules: Rules) -> None:
    seen: dict[str, str] = {}
    for sig in rules.signatures:
        if sig.id in seen:
            raise ConfigError(f"{sig.where}: signature id {sig.id!r} is defined twice (first at {seen[sig.id]})")
        seen[sig.id] = sig.where
    for family in rules.families:
        context_ids = {c.id for c in family.contexts}
        reachable = bool(family.gate)
        for sig in family.signatures:
            for p in sig.patterns:
                if p.context is not None and p.context not in context_ids:
                    raise ConfigError(
                        f"{p.where}: context {p.context!r} is not one of this file's contexts",
                        hint=f"known: {', '.join(sorted(context_ids)) or '(none)'}",
                    )
                if not (reachable or p.processes or p.context):
                    raise ConfigError(
                        f"{p.where}: this pattern can never be tried: the family has no gate, and the "
                        "pattern names no processes and no context",
                        hint="add a gate: to the file, or processes:/context: to the pattern",
                    )
