"""The hint of the recognition pipeline: one painless script, after the pipeline's steps, that
fills the hint of the signature a step recognised as `shipper.enrich.hints` fills it in Python.

The Python recogniser reads a variable from the document's fields (``doc_vars``, each path in turn;
non-empty), else a pattern's ``set`` value, else the regex group; keeps a ``unit`` only if it is a
valid unit name; computes ``status_explained``, ``result_explained`` and ``unit_type`` (and
``process``, ``host`` from the document); takes the first variant whose ``when`` holds; and puts
each value in where `hints.pieces` says: in prose with its backticks made ``'``, in a command
quoted for the shell (a variable the log did not give: its default in prose, a placeholder in a
command). The step that recognises a document leaves its tag in `STEP` and its regex
groups in place; the script does the same as Python with the step's `step_params`:

* ``read``: variable -> ``paths`` (document fields, as key lists), ``value`` (a ``set`` constant),
  ``group`` (the grok field, as a key list); ``units``: the variables that must be unit names;
* ``hint``, ``variants`` (``when`` and ``hint``): `hints.pieces` of the templates, and
  ``user_hint`` where a template's commands differ for a unit of a user's service manager (the
  script tells one as `hints.is_user_manager` does, and takes it); ``defaults`` (put in in prose)
  and their ``placeholders`` (`hints.placeholder`: put in in a command);

and, for every step, ``statuses`` and ``results``: the explanations of exit statuses and unit
results, generated from `shipper.enrich.exitcodes` (the one table of them).
"""

from __future__ import annotations

import re
from typing import Any

from shipper.enrich import exitcodes, hints
from shipper.errors import ConfigError
from shipper.recognise.rules import COMPUTED_VARS, LOWER_CASE_VARS, Pattern, Signature
from shipper.recognise.units import UNIT_CHARS, UNIT_FIRST_CHARS, UNIT_NAME_MAX, UNIT_TYPES, UNIT_VARS
from shipper.setup import painless

# The computed variables the script works out, and the variables each needs.
SCRIPT_COMPUTED: dict[str, tuple[str, ...]] = {
    "status_explained": ("status", "code"),
    "result_explained": ("result",),
    "unit_type": ("unit",),
}
STEP = "rcs"  # the field where the step that recognised the document leaves its tag for the script
EXITED = "exited"  # the statuses' kind for any code that is not a signal's (exitcodes.SIGNAL_CODES)
_MAX_STATUS = 255  # an exit status is 8 bits (a signal number less); above, every status reads alike
_ANY = 987654321  # a status no table names: what explain() says of it is what it says of every such one

# Mirrors shipper.enrich.hints (`put`, `pieces`), hints.computed_vars and the matcher's reading of
# variables; see the module doc. No regex: Elasticsearch may refuse them (script.painless.regex), and
# limits how much of the text one may read (a forged unit name would make it fail the document).
_SOURCE = r"""
boolean madeOf(String value, String chars) {
  for (int i = 0; i < value.length(); ++i) {
    if (chars.indexOf(value.substring(i, i + 1)) < 0) { return false; }
  }
  return true;
}
boolean hasAnyOf(String value, String chars) {
  for (int i = 0; i < chars.length(); ++i) {
    if (value.contains(chars.substring(i, i + 1))) { return true; }
  }
  return false;
}
boolean isUnit(String name) {
  int dot = name.lastIndexOf('.');
  if (name.length() > @UNIT_NAME_MAX@ || dot < 1 || !@UNIT_TYPES@.contains(name.substring(dot + 1))) { return false; }
  String prefix = name.substring(0, dot);
  return prefix == '-' || (madeOf(prefix.substring(0, 1), @UNIT_FIRST_CHARS@) && madeOf(prefix.substring(1), @UNIT_CHARS@));
}
String text(def doc, def path) {
  def value = doc;
  for (def key : path) {
    if (!(value instanceof Map)) { return null; }
    value = value.get(key);
  }
  return value == null ? null : value.toString();
}
String read(def doc, def how, boolean unit) {
  for (def path : how.get('paths')) {
    String found = text(doc, path);
    if (found != null && found != '' && (!unit || isUnit(found))) { return found; }
  }
  String fallback = how.get('value') != null ? how.get('value') : (how.get('group') != null ? text(doc, how.get('group')) : null);
  return fallback != null && unit && !isUnit(fallback) ? null : fallback;
}
String explained(def table, String code, String status) {
  def kind = table.get(code != null && table.containsKey(code) ? code : @EXITED@);
  String n = status;
  while (n.length() > 1 && n.startsWith('0')) { n = n.substring(1); }
  String known = kind.get('known').get(n);
  return known != null ? known : kind.get('other').replace('{status}', n);
}
String sh(String value) {
  return "'" + value.replace("'", "'\"'\"'") + "'";
}
String put(String raw, String how) {
  String value = raw.replace('`', "'");
  if (how == @IN_SINGLE@) { return value.replace("'", "'\\''"); }
  if (how == @IN_DOUBLE@) { return hasAnyOf(value, @SPECIAL_IN_DOUBLE@) ? '"' + sh(value) + '"' : value; }
  if (how == @BARE@) { return madeOf(value, @BARE_CHARS@) ? value : sh(value); }
  return value;
}
boolean userManager(def doc) {
  def sd = doc.get('systemd');
  if (sd instanceof Map && sd.get('user_unit') != null && sd.get('user_unit').toString() != '') { return true; }
  def proc = doc.get('process');
  if (!(proc instanceof Map) || proc.get('name') == null || proc.get('name').toString() != @SERVICE_MANAGER@) { return false; }
  return proc.get('pid') != null && proc.get('pid').toString() != '1';
}
def pick(def texts, boolean user) {
  return user && texts.get('user_hint') != null ? texts.get('user_hint') : texts.get('hint');
}
String fill(def pieces, Map values, def defaults, def placeholders) {
  String out = '';
  for (def piece : pieces) {
    String how = piece[0];
    String name = piece[1];
    if (how == @TEXT@) { out += name; }
    else if (values.containsKey(name)) { out += put(values.get(name), how); }
    else if (defaults.containsKey(name)) { out += how == @PROSE@ ? defaults.get(name) : placeholders.get(name); }
  }
  return out;
}
def step = params.steps.get(ctx.get(@STEP@));
Map values = new HashMap();
for (def entry : step.get('read').entrySet()) {
  String found = read(ctx, entry.getValue(), step.get('units').contains(entry.getKey()));
  if (found != null) { values.put(entry.getKey(), found); }
}
String status = values.get('status');
if (status != null && status != '' && madeOf(status, '0123456789')) {
  values.put('status_explained', explained(params.statuses, values.get('code'), status));
}
String result = values.get('result');
if (result != null) {
  String known = params.results.get(result);
  values.put('result_explained', known != null ? known : result);
}
String unit = values.get('unit');
if (unit != null && unit.contains('.')) {
  values.put('unit_type', unit.substring(unit.lastIndexOf('.') + 1));
}
boolean user = userManager(ctx);
def hint = pick(step, user);
for (def variant : step.get('variants')) {
  boolean holds = true;
  for (def condition : variant.get('when').entrySet()) {
    if (!condition.getValue().contains(values.get(condition.getKey()))) { holds = false; }
  }
  if (holds) { hint = pick(variant, user); break; }
}
ctx.rootcause.hint = fill(hint, values, step.get('defaults'), step.get('placeholders'));
"""
_FILLED_IN = {
    "STEP": painless.string(STEP),
    "UNIT_NAME_MAX": str(UNIT_NAME_MAX),
    "UNIT_TYPES": painless.strings(UNIT_TYPES),
    "UNIT_FIRST_CHARS": painless.string(UNIT_FIRST_CHARS),
    "UNIT_CHARS": painless.string(UNIT_CHARS),
    "SPECIAL_IN_DOUBLE": painless.string(hints.SPECIAL_IN_DOUBLE),
    "BARE_CHARS": painless.string(hints.BARE_CHARS),
    "SERVICE_MANAGER": painless.string(hints.SERVICE_MANAGER),
    "EXITED": painless.string(EXITED),
    "TEXT": painless.string(hints.TEXT),
    "PROSE": painless.string(hints.PROSE),
    "BARE": painless.string(hints.BARE),
    "IN_SINGLE": painless.string(hints.IN_SINGLE),
    "IN_DOUBLE": painless.string(hints.IN_DOUBLE),
}
SOURCE = re.sub(r"@(\w+)@", lambda m: _FILLED_IN[m.group(1)], _SOURCE.strip())


def status_table() -> dict[str, dict[str, Any]]:
    """Per kind of ``code`` (exited, killed, dumped): the explanation of each status whose text is
    its own (``known``), and the text of every other status (``other``, with ``{status}``)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in (EXITED, *sorted(exitcodes.SIGNAL_CODES)):
        other = exitcodes.explain(kind, _ANY).replace(str(_ANY), "{status}")
        known = {str(s): exitcodes.explain(kind, s) for s in range(_MAX_STATUS + 1)}
        out[kind] = {"known": {s: t for s, t in known.items() if t != other.replace("{status}", s)}, "other": other}
    return out


def result_table() -> dict[str, str]:
    return {result: exitcodes.explain_result(result) for result in exitcodes.RESULTS}


def hint_script(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The script processor that fills ``rootcause.hint`` after the steps: ``steps`` maps the tag of
    each step (which the step that recognises a document sets in `STEP`) to its `step_params`."""
    params = {"steps": steps, "statuses": status_table(), "results": result_table()}
    return {"script": {"tag": "rootcause.hint", "lang": "painless", "source": SOURCE, "params": params,
                       "if": f"ctx.{STEP} != null"}}


def step_params(sig: Signature, pat: Pattern | None) -> dict[str, Any]:
    """What the script needs to fill the hint of ``sig`` matched by ``pat`` (None: a journal step,
    whose grok tries every pattern)."""
    base = (pat.hint if pat is not None and pat.hint else None) or sig.hint
    variants = [(v.when, v.hint or base) for v in sig.variants]
    used = _names(base) | {n for when, text in variants for n in (*when, *_names(text))}
    needed = used | {n for c in used & SCRIPT_COMPUTED.keys() for n in SCRIPT_COMPUTED[c]}
    read = {name: _reading(sig, pat, name) for name in sorted(needed - SCRIPT_COMPUTED.keys())}
    return {
        "read": read,
        "units": sorted(UNIT_VARS & read.keys()),
        **_texts(base),
        "variants": [{"when": {k: list(v) for k, v in when.items()}, **_texts(text)} for when, text in variants],
        "defaults": {k: v for k, v in sig.defaults.items() if k in used},
        "placeholders": {k: hints.placeholder(k) for k in sorted(sig.defaults.keys() & used)},
    }


def _reading(sig: Signature, pat: Pattern | None, name: str) -> dict[str, Any]:
    """Where the script reads variable ``name``, in the matcher's order (see the module doc). The
    pipeline puts the groups of `LOWER_CASE_VARS` in lower case before; a constant is here."""
    unknown = name in COMPUTED_VARS and name not in hints.DOC_FIELDS
    if unknown or (name in LOWER_CASE_VARS and sig.doc_vars.get(name)):
        raise ConfigError(f"{sig.where}: the Elasticsearch pipeline cannot give {{{name}}} as shipper does: "
                          "teach shipper/setup/hint_script.py to, or write the hint without it")
    paths = [list(hints.DOC_FIELDS[name])] if name in hints.DOC_FIELDS else []
    paths += [p.split(".") for p in sig.doc_vars.get(name, ())]
    patterns = [pat] if pat is not None else [p for p in sig.patterns if p.context is None]
    value = pat.set.get(name) if pat is not None else None
    if value is not None and name in LOWER_CASE_VARS:
        value = value.lower()
    group = [f"rc_{name}"] if any(name in p.groups for p in patterns) else None
    return {"paths": paths, "value": value, "group": group}


def _texts(template: str) -> dict[str, list[list[str]]]:
    """A template's ``hint`` pieces, and its ``user_hint`` where its commands differ for a unit of a
    user manager (`hints.for_user_manager`: ``systemctl --user``, ``journalctl --user-unit``)."""
    user = hints.for_user_manager(template)
    return {"hint": _pieces(template), **({"user_hint": _pieces(user)} if user != template else {})}


def _pieces(template: str) -> list[list[str]]:
    return [list(piece) for piece in hints.pieces(template)]


def _names(template: str) -> set[str]:
    return {name for how, name in hints.pieces(template) if how != hints.TEXT}
