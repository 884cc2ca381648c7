"""The root cause of the recognition pipeline: one painless script, after the pipeline's steps,
that fills in what `shipper.enrich.recognise.Recognise.apply` writes for the signature a step
recognised: ``rootcause.title``, ``hint``, ``remediation``, ``docs`` and ``unit``, and the
signature's typed ``fields`` (only where the document has none), as Python does.

The Python recogniser reads a variable from the document's fields (``doc_vars``, each path in turn;
non-empty), else a pattern's ``set`` value, else the regex group; keeps a ``unit`` only if it is a
valid unit name; computes ``status_name`` (where the text lacks it), ``status_explained``,
``result_explained`` and ``unit_type`` (and ``process``, ``host`` from the document); takes the
first variant whose ``when`` holds (its texts, else the pattern's, else the signature's); puts each
value in where `hints.pieces` says: in prose with its backticks made ``'``, in a command quoted
for the shell (a variable the log did not give: its default in prose, a placeholder in a command);
names the unit as `UnitMap.resolve` does (the text's, the journal's, by process, by dataset, the
family's default); and sets each field rule's value (``int``: where it reads as a number). The
document's fields are read through the pipeline's view (`shipper.setup.doc_view`: shipper's names,
whichever shipper sent it). The step that recognises a document leaves its tag in `STEP` and its
regex groups in place; the script does the same as Python with the step's `step_params`:

* ``read``: variable -> ``paths`` (fields of the view, as key lists), ``value`` (a ``set``
  constant), ``group`` (the grok field, as a key list); ``units``: the variables that must be unit names;
* ``title``, ``hint``, ``remediation``, ``docs`` and ``variants`` (``when`` and the four): the
  templates as `hints.pieces`, and ``user_<text>`` where a template's commands differ for a unit
  of a user's service manager (the script tells one as `hints.is_user_manager` does, and takes
  it); ``defaults`` (put in in prose) and their ``placeholders`` (`hints.placeholder`: put in in a command);
* ``default_unit``: the family's; ``fields``: the signature's field rules (``field`` as a key list);

and, for every step, ``statuses`` and ``results`` (the names and explanations of exit statuses, of
unit results, generated from `shipper.enrich.exitcodes`, the one table of them) and ``units``
(the signature files' process -> unit and dataset -> unit tables, as `UnitMap` reads them).
"""

from __future__ import annotations

import re
from typing import Any

from shipper.enrich import exitcodes, hints
from shipper.enrich.recognise import UnitMap
from shipper.errors import ConfigError
from shipper.recognise.rules import COMPUTED_VARS, LOWER_CASE_VARS, FieldRule, Pattern, Rules, Signature
from shipper.recognise.units import UNIT_CHARS, UNIT_FIRST_CHARS, UNIT_NAME_MAX, UNIT_TYPES, UNIT_VARS
from shipper.setup import painless
from shipper.setup.doc_view import VIEW

# The computed variables the script works out, and the variables each needs.
SCRIPT_COMPUTED: dict[str, tuple[str, ...]] = {
    "status_explained": ("status", "code"),
    "result_explained": ("result",),
    "unit_type": ("unit",),
}
# Computed where the text lacks it, from these (`hints.computed_vars`); else read as any variable.
STATUS_NAME: tuple[str, tuple[str, ...]] = ("status_name", ("status", "code"))
TEXTS = ("title", "hint", "remediation")
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
def at(def doc, def path) {
  def value = doc;
  for (def key : path) {
    if (!(value instanceof Map)) { return null; }
    value = value.get(key);
  }
  return value;
}
String text(def doc, def path) {
  def value = at(doc, path);
  return value == null ? null : value.toString();
}
String read(def doc, def view, def how, boolean unit) {
  for (def path : how.get('paths')) {
    String found = text(view, path);
    if (found != null && found != '' && (!unit || isUnit(found))) { return found; }
  }
  String fallback = how.get('value') != null ? how.get('value') : (how.get('group') != null ? text(doc, how.get('group')) : null);
  return fallback != null && unit && !isUnit(fallback) ? null : fallback;
}
String number(String status) {
  String n = status;
  while (n.length() > 1 && n.startsWith('0')) { n = n.substring(1); }
  return n;
}
def kindOf(def table, String code) {
  return table.get(code != null && table.containsKey(code) ? code : @EXITED@);
}
String explained(def table, String code, String status) {
  def kind = kindOf(table, code);
  String known = kind.get('known').get(number(status));
  return known != null ? known : kind.get('other').replace('{status}', number(status));
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
boolean userManager(def view) {
  String user = text(view, ['systemd', 'user_unit']);
  if (user != null && user != '') { return true; }
  String pid = text(view, ['process', 'pid']);
  return text(view, ['process', 'name']) == @SERVICE_MANAGER@ && pid != null && pid != '1';
}
def pick(def texts, String name, boolean user) {
  def mine = user ? texts.get('user_' + name) : null;
  return mine != null ? mine : texts.get(name);
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
String unitOf(def view, Map values, def step, def units) {
  String unit = values.get('unit');
  if (unit != null && isUnit(unit)) { return unit; }
  for (def key : ['user_unit', 'unit']) {
    String named = text(view, ['systemd', key]);
    if (named != null && named != '' && isUnit(named)) { return named; }
  }
  String process = text(view, ['process', 'name']);
  if (process != null && units.get('by_process').containsKey(process)) { return units.get('by_process').get(process); }
  String dataset = text(view, ['event', 'dataset']);
  if (dataset != null && units.get('by_dataset').containsKey(dataset)) { return units.get('by_dataset').get(dataset); }
  return step.get('default_unit');
}
void setAt(Map doc, def path, def value) {
  Map here = doc;
  for (int i = 0; i < path.size() - 1; ++i) {
    def next = here.get(path[i]);
    if (!(next instanceof Map)) { next = new HashMap(); here.put(path[i], next); }
    here = next;
  }
  here.put(path[path.size() - 1], value);
}
void setFields(Map doc, def rules, Map values) {
  for (def rule : rules) {
    def value = rule.get('var') != null ? values.getOrDefault(rule.get('var'), rule.get('default')) : rule.get('value');
    if (value != null && rule.get('type') == 'int') {
      try { value = Long.parseLong(value.toString()); } catch (NumberFormatException e) { value = null; }
    }
    if (value != null && at(doc, rule.get('field')) == null) { setAt(doc, rule.get('field'), value); }
  }
}
def step = params.steps.get(ctx.get(@STEP@));
def view = ctx.containsKey(@VIEW@) ? ctx.get(@VIEW@) : new HashMap();
Map values = new HashMap();
for (def entry : step.get('read').entrySet()) {
  String found = read(ctx, view, entry.getValue(), step.get('units').contains(entry.getKey()));
  if (found != null) { values.put(entry.getKey(), found); }
}
String status = values.get('status');
if (status != null && status != '' && madeOf(status, '0123456789')) {
  String name = values.get('status_name');
  if (step.get('read').containsKey('status_name') && (name == null || name == 'n/a')) {
    String known = kindOf(params.statuses, values.get('code')).get('names').get(number(status));
    if (known != null) { values.put('status_name', known); } else { values.remove('status_name'); }
  }
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
boolean user = userManager(view);
def texts = step;
for (def variant : step.get('variants')) {
  boolean holds = true;
  for (def condition : variant.get('when').entrySet()) {
    if (!condition.getValue().contains(values.get(condition.getKey()))) { holds = false; }
  }
  if (holds) { texts = variant; break; }
}
Map rc = ctx.rootcause;
for (def name : ['title', 'hint', 'remediation']) {
  rc.put(name, fill(pick(texts, name, user), values, step.get('defaults'), step.get('placeholders')));
}
rc.put('docs', new ArrayList(texts.get('docs')));
String about = unitOf(view, values, step, params.units);
if (about != null) { rc.put('unit', about); }
setFields(ctx, step.get('fields'), values);
"""
_FILLED_IN = {
    "STEP": painless.string(STEP),
    "VIEW": painless.string(VIEW),
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
    its own (``known``), the text of every other status (``other``, with ``{status}``), and the
    name systemd gives each status it names (``names``: `exitcodes.status_name`)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in (EXITED, *sorted(exitcodes.SIGNAL_CODES)):
        other = exitcodes.explain(kind, _ANY).replace(str(_ANY), "{status}")
        known = {str(s): exitcodes.explain(kind, s) for s in range(_MAX_STATUS + 1)}
        names = {str(s): exitcodes.status_name(kind, s) for s in range(_MAX_STATUS + 1)}
        out[kind] = {"known": {s: t for s, t in known.items() if t != other.replace("{status}", s)}, "other": other,
                     "names": {s: n for s, n in names.items() if n is not None}}
    return out


def result_table() -> dict[str, str]:
    return {result: exitcodes.explain_result(result) for result in exitcodes.RESULTS}


def unit_tables(rules: Rules) -> dict[str, dict[str, str]]:
    """`UnitMap`'s process -> unit and dataset -> unit tables."""
    units = UnitMap(rules)
    return {"by_process": dict(sorted(units.by_process.items())), "by_dataset": dict(sorted(units.by_dataset.items()))}


def hint_script(steps: dict[str, dict[str, Any]], rules: Rules) -> dict[str, Any]:
    """The script processor that fills the root cause after the steps: ``steps`` maps the tag of
    each step (which the step that recognises a document sets in `STEP`) to its `step_params`."""
    params = {"steps": steps, "statuses": status_table(), "results": result_table(), "units": unit_tables(rules)}
    return {"script": {"tag": "rootcause.hint", "lang": "painless", "source": SOURCE, "params": params,
                       "if": f"ctx.{STEP} != null"}}


def step_params(sig: Signature, pat: Pattern | None, default_unit: str | None = None) -> dict[str, Any]:
    """What the script needs to fill the root cause of ``sig`` matched by ``pat`` (None: a journal
    step, whose grok tries every pattern); ``default_unit``: its family's."""
    base = _chosen(sig, pat)
    variants = [{**{k: getattr(v, k) or base[k] for k in (*TEXTS, "docs")}, "when": v.when} for v in sig.variants]
    used = set().union(*(_names(t[k]) for t in (base, *variants) for k in TEXTS))
    used |= {n for v in variants for n in v["when"]}
    needed = used | {r.var for r in sig.fields if r.var} | set(UNIT_VARS)
    needed |= {n for c in needed & SCRIPT_COMPUTED.keys() for n in SCRIPT_COMPUTED[c]}
    if STATUS_NAME[0] in needed:
        needed |= set(STATUS_NAME[1])
    read = {name: _reading(sig, pat, name) for name in sorted(needed - SCRIPT_COMPUTED.keys())}
    return {
        "read": read,
        "units": sorted(UNIT_VARS & read.keys()),
        **_texts(base),
        "variants": [{"when": {k: list(x) for k, x in v["when"].items()}, **_texts(v)} for v in variants],
        "defaults": {k: v for k, v in sig.defaults.items() if k in used},
        "placeholders": {k: hints.placeholder(k) for k in sorted(sig.defaults.keys() & used)},
        "default_unit": default_unit,
        "fields": [_field(rule) for rule in sig.fields],
    }


def _chosen(sig: Signature, pat: Pattern | None) -> dict[str, Any]:
    """The texts and docs of ``sig`` matched by ``pat``: the pattern's, else the signature's."""
    return {k: (getattr(pat, k) if pat is not None else None) or getattr(sig, k) for k in (*TEXTS, "docs")}


def _field(rule: FieldRule) -> dict[str, Any]:
    return {"field": rule.field.split("."), "var": rule.var, "value": rule.value, "type": rule.type,
            "default": rule.default}


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


def _texts(chosen: dict[str, Any]) -> dict[str, Any]:
    """Each text's pieces, and its ``user_<text>`` where its commands differ for a unit of a user
    manager (`hints.for_user_manager`: ``systemctl --user``, ``journalctl --user-unit``); the docs."""
    out: dict[str, Any] = {}
    for name in TEXTS:
        template = chosen[name]
        user = hints.for_user_manager(template)
        out[name] = _pieces(template)
        if user != template:
            out[f"user_{name}"] = _pieces(user)
    return {**out, "docs": list(chosen["docs"])}


def _pieces(template: str) -> list[list[str]]:
    return [list(piece) for piece in hints.pieces(template)]


def _names(template: str) -> set[str]:
    return {name for how, name in hints.pieces(template) if how != hints.TEXT}
