"""`shipper signatures`: what shipper recognises (the signature files), with each hint in brief."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, Iterator

from shipper.env import Env
from shipper.errors import ExitCode

if TYPE_CHECKING:
    from shipper.recognise.rules import Signature

HELP = "list the failures shipper recognises: signature id, role, what it matches, the hint"
EXAMPLES = """\
examples:
  shipper signatures                       the table
  shipper signatures --format json         every field, for scripts (patterns, docs, fields set)
  shipper signatures --family sendmail     one family
"""


class _Families:
    """The families of the signature files, as ``--family``'s choices: read when argparse shows or
    checks them (not when the parser is built, as for every command), so that the help and the
    usage error of an unknown family name every family the files have."""

    def __iter__(self) -> Iterator[str]:
        from shipper.recognise.rules import load_rules

        return iter([f.name for f in load_rules().families])

    def __contains__(self, name: object) -> bool:
        return name in list(self)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--family", choices=_Families(), metavar="FAMILY", help="only this family: %(choices)s")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.recognise.rules import load_rules

    rules = load_rules()
    sigs = [s for s in rules.signatures if args.family is None or s.family == args.family]
    if args.format == "json":
        env.stdout.write(json.dumps([_json(s) for s in sigs], indent=2, ensure_ascii=False) + "\n")
        return ExitCode.OK
    for sig in sigs:
        env.stdout.write(f"{sig.id}  [{sig.role}]\n")
        env.stdout.write(f"    recognises: {sig.recognises}\n")
        env.stdout.write(f"    hint: {_brief(sig.hint)}\n")
    files = ", ".join(f.path.rsplit("/", 1)[-1] for f in rules.families)
    env.stdout.write(f"{len(sigs)} signature{'' if len(sigs) == 1 else 's'} ({files})\n")
    return ExitCode.OK


def _brief(template: str, limit: int = 160) -> str:
    """The first sentence of a hint template, shortened to ``limit`` characters."""
    end = template.find(". ")
    text = template[: end + 1] if 0 < end < limit else template
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _json(sig: Signature) -> dict[str, Any]:
    """Everything a signature file says about ``sig`` (for scripts and pipeline generators)."""
    return {
        "id": sig.id,
        "family": sig.family,
        "role": sig.role,
        "rank": sig.rank,
        "recognises": sig.recognises,
        "title": sig.title,
        "hint": sig.hint,
        "remediation": sig.remediation,
        "docs": list(sig.docs),
        "journal_message_ids": list(sig.message_ids),
        "patterns": [
            {
                "regex": p.regex,
                "prefilter": list(p.prefilter),
                "processes": list(p.processes),
                "context": p.context,
                "set": p.set,
                **{k: v for k, v in (("title", p.title), ("hint", p.hint), ("remediation", p.remediation)) if v},
            }
            for p in sig.patterns
        ],
        "doc_vars": {k: list(v) for k, v in sig.doc_vars.items()},
        "when": {k: list(v) for k, v in sig.when.items()},
        "unless": {k: list(v) for k, v in sig.unless.items()},
        "defaults": sig.defaults,
        "variants": [
            {"when": {k: list(v) for k, v in var.when.items()}, "hint": var.hint, "remediation": var.remediation}
            for var in sig.variants
        ],
        "fields": {
            r.field: ({"var": r.var, "type": r.type} | ({"default": r.default} if r.default is not None else {}))
            if r.var
            else {"value": r.value}
            for r in sig.fields
        },
        "source": sig.where,
    }
