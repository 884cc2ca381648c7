"""Load and validate the signature files (``shipper/recognise/signatures/*.yaml``).

The files are the single source of what shipper recognises: the Python matcher, the Elasticsearch
recognition pipeline, ``shipper signatures`` and the docs all read them through this module.

API
---
``load_signatures() -> list[Signature]``
    Every signature, in matching order (files sorted by name, signatures in file order). Cached.
``load_rules() -> Rules``
    The same plus the families (process -> unit mapping, context rules). Cached.
``load_files(paths) -> Rules``
    Load given files (tests, a user's own directory). Raises `ConfigError` naming file and line.

A file (one family) has these keys; unknown keys anywhere are errors::

    family: sendmail                  # name of the family (the file's stem)
    description: ...                  # one line
    default_unit: sendmail.service    # unit of a cause whose unit nothing else tells
    gate: ["SYSERR(", "SMTP socket"]  # a line is looked at only if it contains one of these,
                                      # comes from one of the family's processes, or is in one
                                      # of its contexts (most lines cost these few `in` checks)
    units:                            # how to tell the unit of a cause in a syslog file
      sendmail.service:
        processes: [sendmail, sm-mta] # process.name values; a line of the unit that names no process
                                      # (journalctl -o with-unit) is matched as the first
        datasets: []                  # event.dataset values (Elasticsearch log files)
        look_at: "/var/log/maillog"   # where to look when a failure of this unit has no cause
    contexts:                         # a line that opens a context for the lines after it
      - id: systemctl_status          # (same stream: file, host, process, pid); while it is open

        prefilter: ["● "]
        regex: '^● (?P<unit>UNIT_REGEX) - '  # (UNIT_REGEX: see below)
        lines: 12                     # every pattern of the family is tried, and patterns with
                                      # `context: <id>` get its variables (how many lines it lasts)
    signatures: [...]

A signature::

    id: sendmail.bind_address_in_use  # stable; used in Kibana views and saved searches
    role: cause                       # cause | failure | summary | recovery | boot
    rank: 90                          # among an incident's causes, the highest rank is "the cause"
    recognises: "SYSERR(...): ..."    # what it matches, for people (shipper signatures)
    title: "sendmail could not ..."   # template: a one-line description of one event
    hint: "..."                       # template: the likely cause and the fix, in one or two sentences
    remediation: "..."                # template: concrete steps
    docs: [https://..., man:...]      # rootcause.docs
    prefilter: ["SYSERR("]            # substrings; a pattern is tried only if one is in the message
    processes: [systemd]              # optional: only for these process.name values
    patterns:                         # tried in order; the first that matches wins
      - '(?:^|\\s)(?P<unit>UNIT_REGEX): Failed ...'  # a regex (searched, not anchored), or a mapping:
      - regex: '...'
        prefilter: [...]              # overrides the signature's
        processes: [...]              # overrides the signature's ([] = any process)
        context: systemctl_status     # only while this context is open
        set: {result: timeout}        # constant variables
        title/hint/remediation/docs   # override the signature's for this pattern (a variant)
    journal: {message_id: [98e3...]}  # journal entries with this MESSAGE_ID match without a regex
    doc_vars: {unit: [systemd.user_unit, systemd.unit]}  # variables read from the document
                                      # (structured fields win over regex groups)
    when: {result: [start-limit-hit]} # only if the variable has one of these values
    unless: {status: ["0"]}           # not if the variable has one of these values
    defaults: {count: "one or more"}  # template values for variables that did not match
    fields:                           # document fields set from variables (only when absent)
      process.exit_code: {var: status, type: int}
      elasticsearch.bootstrap.check: {value: file_descriptors}
      error.message: {var: errno, default: "unknown"}   # default: when the group did not match
    variants:                         # texts chosen by variable values; the first that holds wins
      - when: {status: ["203"]}
        hint: "..."                   # (also title, remediation, docs)
    consequence: true                 # a failure that another unit's failure explains ("Dependency
                                      # failed for ..."): it joins that unit's incident, keeps its own
                                      # hint and is listed as a consequence (only role: failure)

Templates use ``{var}``: a named group, a ``doc_vars``/``set``/``defaults`` name, or one computed by
the recogniser (`COMPUTED_VARS`); those in `LOWER_CASE_VARS` are put in lower case (``which``:
"Main" in the log, "main process" in the hint). Regexes must stay within what both Python ``re`` and
Elasticsearch's Joni engine accept: named groups written ``(?P<name>...)``, no lookbehind, no
possessive quantifiers, no ``\\Z``, no inline flags, no ``(?P=name)`` back-references.

Text between backticks in a template is a command; values read from the log are quoted there
(`shipper.enrich.hints.render`). Still, a value a command uses should be read only in the form a
real one has (``\\d+``, a name of safe characters), and a ``unit`` only as a valid unit name: write
its group with `shipper.recognise.units.UNIT_REGEX` (the matcher drops a ``unit`` that is not one,
whether read from the text or from ``doc_vars``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

from shipper.config.loader import load_yaml_text
from shipper.errors import ConfigError
from shipper.recognise.model import (
    COMPUTED_VARS,
    LOWER_CASE_VARS,
    ROLES,
    ContextRule,
    Family,
    FieldRule,
    Pattern,
    Role,
    Rules,
    Signature,
    UnitRule,
    Variant,
)
from shipper.recognise.validate import FileLoader, cross_check

__all__ = [
    "COMPUTED_VARS", "LOWER_CASE_VARS", "ROLES", "ContextRule", "Family", "FieldRule", "Pattern", "Role", "Rules",
    "Signature", "UnitRule", "Variant", "load_files", "load_rules", "load_signatures", "load_text",
]

SIGNATURE_DIR = Path(__file__).parent / "signatures"


def load_signatures() -> list[Signature]:
    """Every shipped signature, in matching order."""
    return list(load_rules().signatures)


@functools.lru_cache(maxsize=1)
def load_rules() -> Rules:
    """The shipped signature files, loaded once."""
    return load_files(sorted(SIGNATURE_DIR.glob("*.yaml")))


def load_files(paths: Sequence[Path]) -> Rules:
    """Load and cross-check signature files; the first problem raises `ConfigError` (file:line)."""
    families = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read signature file {path}: {exc.strerror}") from None
        families.append(load_text(text, str(path)))
    rules = Rules(tuple(families))
    cross_check(rules)
    return rules


def load_text(text: str, name: str) -> Family:
    """One family from the YAML text of a signature file called ``name``."""
    data, where = load_yaml_text(text, name)
    return FileLoader(name, where).family(data)


