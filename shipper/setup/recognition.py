"""Generate the recognition ingest pipeline from the signature files (the one source of truth).

Documents that reach Elasticsearch unparsed by shipper (a raw ``message`` from Filebeat, Elastic
Agent, Vector, Fluent Bit or rsyslog) get the same ``rootcause.signature``, ``role``, ``title``,
``hint``, ``remediation``, ``docs`` and ``unit``, and the same typed fields (``process.exit_code``,
``systemd.result``, ...), as the Python recogniser gives one document read by itself: per pattern,
in the same order, the same family gate, prefilters, process restriction, regex (a grok pattern:
Python's ``(?P<name>`` written ``(?<rc_name>``) and ``when`` / ``unless`` conditions. What needs
other documents is not done here: patterns that need a context (lines after a ``systemctl status``
header; listed in ``_meta``), the recoveries (a start counts only after its unit's failure) and
the links (incidents, causes, dependencies: ``shipper relink`` makes them).

The first processors fill the view (`shipper.setup.doc_view`): the fields the steps read, under
shipper's names, from whichever names the sender used (Filebeat's journald input, Vector's raw
journal fields). The step that recognises a document sets the constant fields, leaves its tag
(`STEP`) and its regex groups, and no later step touches the document; after the steps one
painless script fills in the rest as Python does (`shipper.setup.hint_script`: variants, computed
values, quoting, the unit, the fields), and the last processors remove the groups and the view.

    python -m shipper.setup.recognition            rewrite pipelines/ and shipper/assets/pipelines/
    python -m shipper.setup.recognition --check    exit 1 if the committed file is stale

The version goes up by one whenever the generated content changes, so `shipper setup` upgrades it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from shipper.enrich import hints
from shipper.enrich.recognise import UnitMap
from shipper.recognise.rules import LOWER_CASE_VARS, Family, Pattern, Rules, Signature, load_rules
from shipper.setup import doc_view, painless
from shipper.setup.hint_script import STEP, hint_script, step_params

NAME = "logs-shipper-recognition"
FILES = (Path("pipelines") / f"{NAME}.json", Path("shipper") / "assets" / "pipelines" / f"{NAME}.json")
MATCHED = "rcm"  # the whole match, so a later processor knows the grok matched
UNRECOGNISED = "ctx.rootcause?.signature == null && ctx.message instanceof String"
UNHINTED = f"ctx.{STEP} == null"  # no step has recognised the document: its hint is still to be filled in
_GROUP = re.compile(r"\(\?P<(\w+)>")


def joni(regex: str) -> str:
    """A Python pattern as a grok pattern: named groups prefixed so they cannot overwrite fields."""
    return _GROUP.sub(r"(?<rc_\1>", regex)


def _any_contains(strings: Sequence[str]) -> str:
    return " || ".join(f"ctx.message.contains({painless.string(s)})" for s in strings)


def _process_in(processes: Iterable[str]) -> str:
    """The document is matched as one of ``processes`` (`doc_view.SENDER`)."""
    safe, plain = doc_view.path(doc_view.SENDER)
    return f"({safe} != null && {painless.strings(sorted(processes))}.contains({plain}))"


def _var(sig: Signature, var: str, pat: Pattern | None) -> str:
    """Painless for a variable's value: the document's field first, then the regex group, then ``set``."""
    fallback = "null"
    if pat is not None and var in pat.set:
        fallback = painless.string(pat.set[var])
    elif pat is not None and var in pat.groups or pat is None:
        fallback = f"ctx.rc_{var}"
    expr = fallback
    for path in reversed(sig.doc_vars.get(var, ())):
        safe, plain = doc_view.path(path)
        expr = f"({safe} != null && {plain}.toString() != '' ? {plain}.toString() : {expr})"
    return expr


def _conditions(sig: Signature, pat: Pattern | None) -> list[str]:
    out = []
    for var, allowed in sig.when.items():
        v = _var(sig, var, pat)
        out.append(f"({v} != null && {painless.strings(allowed)}.contains({v}))")
    for var, refused in sig.unless.items():
        v = _var(sig, var, pat)
        out.append(f"!({v} != null && {painless.strings(refused)}.contains({v}))")
    return out


def _set_rootcause(sig: Signature, tag: str, condition: str) -> list[dict[str, Any]]:
    """The role (the rest is filled in after the steps: `hint_script`), the step's tag for that
    script, and the signature last (the conditions before it test that it is still unset)."""

    def put(name: str, value: Any, field: str = "") -> dict[str, Any]:
        return {"set": {"tag": f"{tag}:{name}", "field": field or f"rootcause.{name}", "value": value, "if": condition}}

    return [put("role", sig.role), put("step", tag, STEP), put("signature", sig.id)]


def _lower_case(patterns: Sequence[Pattern], tag: str, condition: str) -> list[dict[str, Any]]:
    """The groups of `LOWER_CASE_VARS` put in lower case, as the Python matcher does, before the
    conditions and the hint use them."""
    groups = sorted(LOWER_CASE_VARS.intersection(g for p in patterns for g in p.groups))
    return [{"lowercase": {"tag": f"{tag}:lowercase", "field": f"rc_{g}", "ignore_missing": True, "if": condition}}
            for g in groups]


def _cleanup(patterns: Sequence[Pattern], tag: str, condition: str | None, more: Sequence[str] = ()) -> dict[str, Any]:
    """Remove the pipeline's own fields: the groups of ``patterns``, `MATCHED` and ``more`` (where
    ``condition`` holds; None: always)."""
    fields = sorted({MATCHED, *more, *(f"rc_{g}" for p in patterns for g in p.groups)})
    when = {"if": condition} if condition is not None else {}
    return {"remove": {"tag": f"{tag}:cleanup", "field": fields, "ignore_missing": True, **when}}


def _pattern_steps(family: Family, sig: Signature, pat: Pattern, tag: str, family_procs: set[str]) -> list[dict[str, Any]]:
    family_gate = " || ".join(filter(None, [_any_contains(family.gate), _process_in(family_procs) if family_procs else ""]))
    test = [UNRECOGNISED, f"({family_gate})"]
    if pat.prefilter:
        test.append(f"({_any_contains(pat.prefilter)})")
    if pat.processes:
        test.append(_process_in(pat.processes))
    grok = {"grok": {"tag": tag, "field": "message", "patterns": [f"(?<{MATCHED}>{joni(pat.regex)})"],
                     "ignore_failure": True, "if": " && ".join(test)}}
    # this step's grok matched, and no other step has recognised the document (whose groups the hint
    # script reads after the steps)
    found = f"ctx.{MATCHED} != null && ({UNHINTED} || ctx.{STEP} == {painless.string(tag)})"
    matched = " && ".join([found, *_conditions(sig, pat)])
    return [grok, *_lower_case([pat], tag, found), *_set_rootcause(sig, tag, matched),
            _cleanup([pat], tag, f"ctx.{MATCHED} != null && {UNHINTED}")]


def _message_id_steps(sig: Signature, tag: str) -> list[dict[str, Any]]:
    """A journal entry with one of the signature's MESSAGE_IDs: the fields decide, the text fills in."""
    safe, plain = doc_view.path("journald.message_id")
    test = f"{UNRECOGNISED} && {safe} != null && {painless.strings(sig.message_ids)}.contains({plain})"
    patterns = [p for p in sig.patterns if p.context is None]
    steps: list[dict[str, Any]] = []
    if patterns:
        steps.append({"grok": {"tag": tag, "field": "message", "patterns": [joni(p.regex) for p in patterns],
                               "ignore_failure": True, "if": test}})
        steps += _lower_case(patterns, tag, test)
    steps += _set_rootcause(sig, tag, " && ".join([test, *_conditions(sig, None)]))
    if patterns:
        steps.append(_cleanup(patterns, tag, f"{safe} != null && {UNHINTED}"))
    return steps


def _view(rules: Rules) -> list[dict[str, Any]]:
    """The processors that fill the view with what the steps and the script read (`doc_view`)."""
    read = [path for s in rules.signatures for paths in s.doc_vars.values() for path in paths]
    read += [".".join(path) for path in hints.DOC_FIELDS.values()]
    return doc_view.view_steps(read, UnitMap(rules).process_of)


def build_pipeline(rules: Rules, version: int) -> dict[str, Any]:
    processors: list[dict[str, Any]] = _view(rules)
    steps: dict[str, dict[str, Any]] = {}  # tag -> what the hint script needs of the step
    # A recovery is kept only after a failure of its unit, which one document does not tell.
    kept = [s for s in rules.signatures if s.role != "recovery"]
    skipped: list[str] = [f"{s.id} (kept only after a failure of its unit)" for s in rules.signatures if s.role == "recovery"]
    for family in rules.families:
        for sig in family.signatures:
            if sig.message_ids and sig.role != "recovery":
                tag = f"{sig.id}#journal"
                processors += _message_id_steps(sig, tag)
                steps[tag] = step_params(sig, None, family.default_unit)
    for family in rules.families:
        family_procs = {p for s in family.signatures for pat in s.patterns for p in pat.processes}
        for sig in (s for s in family.signatures if s.role != "recovery"):
            for i, pat in enumerate(sig.patterns):
                if pat.context is not None:
                    skipped.append(f"{sig.id}#{i} (needs the context {pat.context})")
                    continue
                processors += _pattern_steps(family, sig, pat, f"{sig.id}#{i}", family_procs)
                steps[f"{sig.id}#{i}"] = step_params(sig, pat, family.default_unit)
    every = [p for s in kept for p in s.patterns if p.context is None]
    recognised = f"ctx.{STEP} != null"
    processors += [hint_script(steps, rules), *doc_view.fill_in(recognised),
                   _cleanup(every, "rootcause.hint", recognised, [STEP]), doc_view.remove_view()]
    # a processor that failed (a painless error) leaves the fields of the pipeline's own behind
    leftovers = _cleanup(every, "on_failure", None, [STEP, doc_view.VIEW])
    return {
        "description": "shipper: the root causes of shipper's signatures for documents that arrive unparsed "
                       "(generated from shipper/recognise/signatures/*.yaml; do not edit)",
        "version": version,
        "_meta": {"managed_by": "shipper", "version": version, "generated_by": "python -m shipper.setup.recognition",
                  "signatures": len(rules.signatures), "patterns_left_out": skipped},
        "processors": processors,
        "on_failure": [
            {"set": {"field": "error.message",
                     "value": "recognition: {{{ _ingest.on_failure_processor_tag }}}: {{{ _ingest.on_failure_message }}}"}},
            leftovers,
        ],
    }


def render(rules: Rules, committed: dict[str, Any] | None) -> dict[str, Any]:
    """The pipeline for ``rules``: the committed version if nothing changed, else one more."""
    version = int(committed["version"]) if committed else 1
    fresh = build_pipeline(rules, version)
    if committed is not None and fresh != committed:
        fresh = build_pipeline(rules, version + 1)
    return fresh


def dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path.cwd()
    if not (root / "pyproject.toml").exists():
        print("run this from the root of the shipper source tree", file=sys.stderr)
        return 2
    target = root / FILES[0]
    committed = json.loads(target.read_text()) if target.exists() else None
    text = dumps(render(load_rules(), committed))
    if "--check" in args:
        stale = [str(path) for path in FILES if not (root / path).exists() or (root / path).read_text() != text]
        for name in stale:
            print(f"{name} is stale: run python -m shipper.setup.recognition", file=sys.stderr)
        return 1 if stale else 0
    for path in FILES:
        (root / path).write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
