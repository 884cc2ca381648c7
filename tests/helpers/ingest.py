"""A stand-in for an Elasticsearch ingest node running shipper's recognition pipeline, for tests
without a cluster (``tests/integration/test_es_cluster.py`` runs the real one in Docker).

`run(body, doc)` applies the pipeline's processors in order, as ``_ingest/pipeline/_simulate``
does: ``grok`` (Joni's ``(?<name>`` read as Python's ``(?P<name>``; the first pattern that matches
wins), ``lowercase``, ``set`` (with ``{{{field}}}`` templates), ``remove`` and the hint ``script``,
each only where its ``if`` holds; a processor that fails (and does not ignore failures) ends the
run with ``on_failure``.

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
from shipper.setup.hint_script import EXITED, SOURCE, STEP

from .painless_conditions import Ctx, Failure, condition, to_string

TRANSCRIBED = "b513799ccc13"  # sha256(SOURCE)[:12] of the script `hint_script` transcribes


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
                ((_, hspec),) = handler.items()
                value = re.sub(r"\{\{\{\s*_ingest\.(\w+)\s*\}\}\}", lambda m: meta[m.group(1)], hspec["value"])
                _put(ctx, hspec["field"], value)
            return ctx
    return ctx


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
    """A constant, or a mustache template (``{{{a.b}}}``: the field's value, empty if missing)."""
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


# -- the hint script, transcribed -----------------------------------------------------------------------
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


def _text(doc: Any, path: list[str]) -> str | None:
    value = doc
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return None if value is None else to_string(value)


def _read(doc: Ctx, how: dict[str, Any], unit: bool) -> str | None:
    for path in how["paths"]:
        found = _text(doc, path)
        if found is not None and found != "" and (not unit or _is_unit(found)):
            return found
    fallback = how["value"] if how["value"] is not None else (_text(doc, how["group"]) if how["group"] is not None else None)
    return None if fallback is not None and unit and not _is_unit(fallback) else fallback


def _explained(table: dict[str, Any], code: str | None, status: str) -> str:
    kind = table[code if code is not None and code in table else EXITED]
    n = status
    while len(n) > 1 and n.startswith("0"):
        n = n[1:]
    known = kind["known"].get(n)
    return known if known is not None else kind["other"].replace("{status}", n)


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


def _user_manager(doc: Ctx) -> bool:
    sd = doc.get("systemd")
    if isinstance(sd, dict) and sd.get("user_unit") is not None and to_string(sd["user_unit"]) != "":
        return True
    proc = doc.get("process")
    if not isinstance(proc, dict) or proc.get("name") is None or to_string(proc["name"]) != hints.SERVICE_MANAGER:
        return False
    return proc.get("pid") is not None and to_string(proc["pid"]) != "1"


def _pick(texts: dict[str, Any], user: bool) -> Any:
    return texts["user_hint"] if user and texts.get("user_hint") is not None else texts["hint"]


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


def hint_script(ctx: Ctx, params: dict[str, Any]) -> None:
    """The script's statements after its functions."""
    step = params["steps"][ctx.get(STEP)]
    values: dict[str, str] = {}
    for name, how in step["read"].items():
        found = _read(ctx, how, name in step["units"])
        if found is not None:
            values[name] = found
    status = values.get("status")
    if status is not None and status != "" and _made_of(status, "0123456789"):
        values["status_explained"] = _explained(params["statuses"], values.get("code"), status)
    result = values.get("result")
    if result is not None:
        known = params["results"].get(result)
        values["result_explained"] = known if known is not None else result
    unit = values.get("unit")
    if unit is not None and "." in unit:
        values["unit_type"] = unit[unit.rfind(".") + 1 :]
    user = _user_manager(ctx)
    hint = _pick(step, user)
    for variant in step["variants"]:
        if all(values.get(name) in allowed for name, allowed in variant["when"].items()):
            hint = _pick(variant, user)
            break
    ctx["rootcause"]["hint"] = _fill(hint, values, step["defaults"], step["placeholders"])


def source_digest() -> str:
    return hashlib.sha256(SOURCE.encode()).hexdigest()[:12]
