"""A stand-in for an Elasticsearch ingest node running shipper's recognition pipeline, for tests
without a cluster (``tests/integration/test_es_cluster.py`` runs the real one in Docker).

`run(body, doc)` applies the pipeline's processors in order, as ``_ingest/pipeline/_simulate``
does: ``grok`` (Joni's ``(?<name>`` read as Python's ``(?P<name>``; the first pattern that matches
wins), ``lowercase``, ``set`` (with ``{{{field}}}`` templates, or ``copy_from``), ``remove`` and the
root-cause ``script``, each only where its ``if`` holds; a processor that fails (and does not ignore
failures) ends the run with ``on_failure`` (its ``set`` with ``_ingest`` templates, its ``remove``).

The ``if`` conditions are evaluated by a small interpreter of the painless the generator writes
(`helpers.painless_conditions`).

The hint script (`shipper.setup.hint_script.SOURCE`) is run by `hint_script`, a statement-for-
statement transcription of the painless into Python; `TRANSCRIBED` (a digest of the source) makes a
change of the script fail here until the transcription follows. Elasticsearch itself compiles and
runs the script in the integration tests.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from typing import Any, Callable

from shipper.enrich import hints
from shipper.recognise.units import UNIT_CHARS, UNIT_FIRST_CHARS, UNIT_NAME_MAX, UNIT_TYPES
from shipper.event import set_path
from shipper.setup.doc_view import VIEW
from shipper.setup.hint_script import EXITED, SOURCE, STEP

from .painless_conditions import Ctx, Failure, condition, to_string

TRANSCRIBED = "af6cb7b7d7d3"  # sha256(SOURCE)[:12] of the script `hint_script` transcribes


def run(body: dict[str, Any], doc: Ctx) -> Ctx:
    """The document after the pipeline ``body`` (a copy; ``doc`` is left as it is)."""
    ctx = copy.deepcopy(doc)
    for proc in body["processors"]:
        ((kind, spec),) = proc.items()
        try:
            if "if" not in spec or condition(spec["if"])(ctx) is True:
                PROCESSORS[kind](ctx, spec)
        except Failure as exc:
            if spec.get("ignore_failure"):
                continue
            meta = {"on_failure_processor_tag": spec.get("tag", ""), "on_failure_message": str(exc)}
            for handler in body.get("on_failure", []):
                ((hkind, hspec),) = handler.items()
                if hkind != "set":
                    PROCESSORS[hkind](ctx, hspec)
                    continue
                value = re.sub(r"\{\{\{\s*_ingest\.(\w+)\s*\}\}\}", lambda m: meta[m.group(1)], hspec["value"])
                _put(ctx, hspec["field"], value)
            return ctx
    return ctx


def failure(out: Ctx) -> str | None:
    """What the pipeline's ``on_failure`` wrote on ``out`` (None: it did not fail). A signature's
    field rule may set ``error.message`` too (an Elasticsearch bootstrap check's text)."""
    message = _get(out, "error.message")
    return message if isinstance(message, str) and message.startswith("recognition: ") else None


# -- processors ----------------------------------------------------------------------------------------

def _grok(ctx: Ctx, spec: dict[str, Any]) -> None:
    text = _get(ctx, spec["field"])
    if not isinstance(text, str):
        raise Failure(f"field [{spec['field']}] not present as part of path")
    for pattern in spec["patterns"]:
        assert "%{" not in pattern, pattern  # shipper writes plain regexes
        m = _joni(pattern).search(text)
        if m is not None:
            ctx.update({k: v for k, v in m.groupdict().items() if v is not None})
            return
    raise Failure("Provided Grok expressions do not match field value")


@functools.lru_cache(maxsize=None)
def _joni(pattern: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\(\?<(\w+)>", r"(?P<\1>", pattern))


def _lowercase(ctx: Ctx, spec: dict[str, Any]) -> None:
    value = _get(ctx, spec["field"])
    if value is None:
        if not spec.get("ignore_missing"):
            raise Failure(f"field [{spec['field']}] not present")
        return
    _put(ctx, spec["field"], value.lower())


def _set(ctx: Ctx, spec: dict[str, Any]) -> None:
    """A constant, a mustache template (``{{{a.b}}}``: the field's value, empty if missing), or a
    copy of another field (``copy_from``; Elasticsearch fails where it is missing)."""
    if "copy_from" in spec:
        value = _get(ctx, spec["copy_from"])
        if value is None:
            raise Failure(f"field [{spec['copy_from']}] not present as part of path")
        _put(ctx, spec["field"], copy.deepcopy(value))
        return
    value = spec["value"]
    if isinstance(value, str):
        value = re.sub(r"\{\{\{\s*([\w.]+)\s*\}\}\}", lambda m: _mustache(_get(ctx, m.group(1))), value)
    _put(ctx, spec["field"], copy.deepcopy(value))


def _mustache(value: Any) -> str:
    return "" if value is None else to_string(value)


def _remove(ctx: Ctx, spec: dict[str, Any]) -> None:
    for field in spec["field"] if isinstance(spec["field"], list) else [spec["field"]]:
        if field in ctx:
            del ctx[field]
        elif not spec.get("ignore_missing"):
            raise Failure(f"field [{field}] not present")


def _script(ctx: Ctx, spec: dict[str, Any]) -> None:
    assert spec["lang"] == "painless" and spec["source"] == SOURCE, "a script this stand-in does not know"
    assert source_digest() == TRANSCRIBED, "hint_script.SOURCE changed: transcribe the change here, then TRANSCRIBED"
    try:
        hint_script(ctx, spec["params"])
    except (AttributeError, KeyError, TypeError) as exc:  # painless: a null pointer, a bad cast
        raise Failure(f"runtime error: {exc!r}") from exc


PROCESSORS: dict[str, Callable[[Ctx, dict[str, Any]], None]] = {
    "grok": _grok, "lowercase": _lowercase, "set": _set, "remove": _remove, "script": _script,
}


def _get(ctx: Ctx, dotted: str) -> Any:
    value: Any = ctx
    for key in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _put(ctx: Ctx, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        ctx = ctx.setdefault(key, {})
    ctx[last] = value


# -- the root-cause script, transcribed -----------------------------------------------------------------------
# Each function is the painless function of the same name in shipper/setup/hint_script.py, with the
# constants the generator fills in (@UNIT_TYPES@, ...) taken from where it takes them.

def _made_of(value: str, chars: str) -> bool:
    return all(c in chars for c in value)


def _has_any_of(value: str, chars: str) -> bool:
    return any(c in value for c in chars)


def _is_unit(name: str) -> bool:
    dot = name.rfind(".")
    if len(name) > UNIT_NAME_MAX or dot < 1 or name[dot + 1 :] not in UNIT_TYPES:
        return False
    prefix = name[:dot]
    return prefix == "-" or (_made_of(prefix[:1], UNIT_FIRST_CHARS) and _made_of(prefix[1:], UNIT_CHARS))


def _at(doc: Any, path: list[str]) -> Any:
    value = doc
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(doc: Any, path: list[str]) -> str | None:
    value = _at(doc, path)
    return None if value is None else to_string(value)


def _read(doc: Ctx, view: Ctx, how: dict[str, Any], unit: bool) -> str | None:
    for path in how["paths"]:
        found = _text(view, path)
        if found is not None and found != "" and (not unit or _is_unit(found)):
            return found
    fallback = how["value"] if how["value"] is not None else (_text(doc, how["group"]) if how["group"] is not None else None)
    return None if fallback is not None and unit and not _is_unit(fallback) else fallback


def _number(status: str) -> str:
    n = status
    while len(n) > 1 and n.startswith("0"):
        n = n[1:]
    return n


def _kind_of(table: dict[str, Any], code: str | None) -> Any:
    return table[code if code is not None and code in table else EXITED]


def _explained(table: dict[str, Any], code: str | None, status: str) -> str:
    kind = _kind_of(table, code)
    known = kind["known"].get(_number(status))
    return known if known is not None else kind["other"].replace("{status}", _number(status))


def _sh(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _put_value(raw: str, how: str) -> str:
    value = raw.replace("`", "'")
    if how == hints.IN_SINGLE:
        return value.replace("'", "'\\''")
    if how == hints.IN_DOUBLE:
        return '"' + _sh(value) + '"' if _has_any_of(value, hints.SPECIAL_IN_DOUBLE) else value
    if how == hints.BARE:
        return value if _made_of(value, hints.BARE_CHARS) else _sh(value)
    return value


def _user_manager(view: Ctx) -> bool:
    user = _text(view, ["systemd", "user_unit"])
    if user is not None and user != "":
        return True
    pid = _text(view, ["process", "pid"])
    return _text(view, ["process", "name"]) == hints.SERVICE_MANAGER and pid is not None and pid != "1"


def _pick(texts: dict[str, Any], name: str, user: bool) -> Any:
    mine = texts.get(f"user_{name}") if user else None
    return mine if mine is not None else texts[name]


def _fill(pieces: list[list[str]], values: dict[str, str], defaults: dict[str, str],
          placeholders: dict[str, str]) -> str:
    out = ""
    for how, name in pieces:
        if how == hints.TEXT:
            out += name
        elif name in values:
            out += _put_value(values[name], how)
        elif name in defaults:
            out += defaults[name] if how == hints.PROSE else placeholders[name]
    return out


def _unit_of(view: Ctx, values: dict[str, str], step: dict[str, Any], units: dict[str, Any]) -> str | None:
    unit = values.get("unit")
    if unit is not None and _is_unit(unit):
        return unit
    for key in ("user_unit", "unit"):
        named = _text(view, ["systemd", key])
        if named is not None and named != "" and _is_unit(named):
            return named
    process = _text(view, ["process", "name"])
    if process is not None and process in units["by_process"]:
        return str(units["by_process"][process])
    dataset = _text(view, ["event", "dataset"])
    if dataset is not None and dataset in units["by_dataset"]:
        return str(units["by_dataset"][dataset])
    return step["default_unit"]


def _set_fields(doc: Ctx, rules: list[dict[str, Any]], values: dict[str, str]) -> None:
    for rule in rules:
        value: Any = values.get(rule["var"], rule["default"]) if rule["var"] is not None else rule["value"]
        if value is not None and rule["type"] == "int":
            text = to_string(value)
            value = int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None  # Long.parseLong
        if value is not None and _at(doc, rule["field"]) is None:
            set_path(doc, ".".join(rule["field"]), value)


def hint_script(ctx: Ctx, params: dict[str, Any]) -> None:
    """The script's statements after its functions."""
    step = params["steps"][ctx.get(STEP)]
    view = ctx.get(VIEW, {})
    values: dict[str, str] = {}
    for name, how in step["read"].items():
        found = _read(ctx, view, how, name in step["units"])
        if found is not None:
            values[name] = found
    status = values.get("status")
    if status is not None and status != "" and _made_of(status, "0123456789"):
        name = values.get("status_name")
        if "status_name" in step["read"] and (name is None or name == "n/a"):
            known = _kind_of(params["statuses"], values.get("code"))["names"].get(_number(status))
            if known is not None:
                values["status_name"] = known
            else:
                values.pop("status_name", None)
        values["status_explained"] = _explained(params["statuses"], values.get("code"), status)
    result = values.get("result")
    if result is not None:
        known = params["results"].get(result)
        values["result_explained"] = known if known is not None else result
    unit = values.get("unit")
    if unit is not None and "." in unit:
        values["unit_type"] = unit[unit.rfind(".") + 1 :]
    user = _user_manager(view)
    texts = step
    for variant in step["variants"]:
        if all(values.get(name) in allowed for name, allowed in variant["when"].items()):
            texts = variant
            break
    rc = ctx["rootcause"]
    for name in ("title", "hint", "remediation"):
        rc[name] = _fill(_pick(texts, name, user), values, step["defaults"], step["placeholders"])
    rc["docs"] = list(texts["docs"])
    about = _unit_of(view, values, step, params["units"])
    if about is not None:
        rc["unit"] = about
    _set_fields(ctx, step["fields"], values)


def source_digest() -> str:
    return hashlib.sha256(SOURCE.encode()).hexdigest()[:12]
