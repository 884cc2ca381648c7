"""Which template a new data stream gets, and the document checks Elasticsearch makes against its mapping.

Only what the shipper's documents can meet: ``dynamic: false`` objects, scalar types (long, date,
keyword, boolean, text), ``flattened``, ``constant_keyword``, objects given a value and values
given an object, and the ``@timestamp`` that every data stream document needs.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from typing import Any

from tests.fakees.errors import EsError, cause

_INTS = {"long", "integer", "short", "byte", "unsigned_long"}
_FLOATS = {"double", "float", "half_float", "scaled_float"}
_TEXTS = {"keyword", "text", "match_only_text", "wildcard"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def matching_template(templates: dict[str, dict[str, Any]], name: str) -> tuple[str, dict[str, Any]] | None:
    """The composable template with the highest priority whose patterns match ``name``."""
    best: tuple[int, str, dict[str, Any]] | None = None
    for tname, body in templates.items():
        if any(fnmatch.fnmatchcase(name, p) for p in body.get("index_patterns", [])):
            prio = int(body.get("priority", 0))
            if best is None or prio > best[0]:
                best = (prio, tname, body)
    return (best[1], best[2]) if best else None


def merged_mappings(template: dict[str, Any], components: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The template's mappings composed as Elasticsearch does: components in order, then its own."""
    out: dict[str, Any] = {"properties": {}}
    parts = [components[c]["template"] for c in template.get("composed_of", []) if c in components]
    parts.append(template.get("template", {}))
    for part in parts:
        _merge(out, part.get("mappings", {}))
    return out


def ignore_malformed(template: dict[str, Any], components: dict[str, dict[str, Any]]) -> bool:
    """``index.mapping.ignore_malformed`` of the composed settings (stored normalised, as strings)."""
    value = "false"
    parts = [components[c]["template"] for c in template.get("composed_of", []) if c in components]
    for part in parts + [template.get("template", {})]:
        found = part.get("settings", {}).get("index", {}).get("mapping", {}).get("ignore_malformed")
        value = found if found is not None else value
    return value == "true"


def _merge(into: dict[str, Any], mapping: dict[str, Any]) -> None:
    for key, value in mapping.items():
        if key == "properties":
            props = into.setdefault("properties", {})
            for field, spec in value.items():
                if field in props and isinstance(spec, dict) and "properties" in spec:
                    _merge(props[field], spec)
                else:
                    props[field] = dict(spec)
        else:
            into[key] = value


class Validator:
    """Checks documents against one data stream's mapping; learns constant_keyword values."""

    def __init__(self, mapping: dict[str, Any], *, data_stream: bool, parsing_type: str,
                 ignore_malformed: bool = False) -> None:
        self.mapping = mapping
        self.ignore_malformed = ignore_malformed  # malformed numbers, dates, booleans are skipped, not refused
        self.data_stream = data_stream
        self.parsing_type = parsing_type  # document_parsing_exception from 8.8, mapper_parsing_exception before
        self.constants: dict[str, Any] = {}

    def check(self, doc: Any, doc_id: str) -> dict[str, Any] | None:
        """None when the document is accepted, else the item's ``error`` object."""
        if not isinstance(doc, dict):
            return cause(self.parsing_type, "[1:1] failed to parse: the document is not an object")
        if self.data_stream and "@timestamp" not in doc:
            reason = "data stream timestamp field [@timestamp] is missing"
            return cause(self.parsing_type, f"[1:2] failed to parse: {reason}",
                         caused_by=cause("illegal_argument_exception", reason))
        try:
            self._object(doc, self.mapping, "", doc_id, self.mapping.get("dynamic", True))
        except EsError as exc:
            return exc.cause
        return None

    def _object(self, obj: dict[str, Any], mapping: dict[str, Any], prefix: str, doc_id: str, dynamic: Any) -> None:
        props = mapping.get("properties", {})
        for key, value in obj.items():
            path = f"{prefix}{key}"
            spec = props.get(key)
            if spec is None:
                if str(dynamic).lower() == "strict":
                    raise EsError(400, "strict_dynamic_mapping_exception",
                                  f"[1:2] mapping set to strict, dynamic introduction of [{key}] within [{prefix[:-1] or '_doc'}] is not allowed")
                continue  # dynamic false: kept in _source, not indexed
            self._field(value, spec, path, doc_id, spec.get("dynamic", dynamic))

    def _field(self, value: Any, spec: dict[str, Any], path: str, doc_id: str, dynamic: Any) -> None:
        ftype = spec.get("type", "object" if "properties" in spec else None)
        if isinstance(value, list):
            for item in value:
                self._field(item, spec, path, doc_id, dynamic)
            return
        if value is None or ftype == "flattened":
            return
        if ftype in ("object", "nested"):
            if not isinstance(value, dict):
                raise EsError(400, self.parsing_type,
                              f"[1:2] object mapping for [{path}] tried to parse field [{path}] as object, but found a concrete value")
            self._object(value, spec, f"{path}.", doc_id, dynamic)
            return
        if isinstance(value, dict):
            raise self._parse_error(path, ftype, doc_id, value,
                                    cause("illegal_state_exception", "Can't get text on a START_OBJECT at 1:2"))
        problem = _scalar_problem(ftype, value)
        if problem and not self.ignore_malformed:
            raise self._parse_error(path, ftype, doc_id, value, cause("illegal_argument_exception", problem))
        if ftype == "constant_keyword":
            self._constant(path, spec, value)

    def _constant(self, path: str, spec: dict[str, Any], value: Any) -> None:
        expected = spec.get("value", self.constants.get(path))
        if expected is None:
            self.constants[path] = value
        elif value != expected:
            raise EsError(400, self.parsing_type,
                          f"[constant_keyword] field [{path}] only accepts values that are equal to the value "
                          f"defined in the mappings [{expected}], but got [{value}]")

    def _parse_error(self, path: str, ftype: Any, doc_id: str, value: Any, caused_by: dict[str, Any]) -> EsError:
        preview = str(value)[:20]
        return EsError(400, self.parsing_type,
                       f"[1:2] failed to parse field [{path}] of type [{ftype}] in document with id '{doc_id}'. "
                       f"Preview of field's value: '{preview}'", caused_by=caused_by)


def _scalar_problem(ftype: Any, value: Any) -> str | None:
    if ftype in _INTS:
        if isinstance(value, bool):
            return f"Current token (VALUE_{str(value).upper()}) not numeric, can not use numeric value accessors"
        if isinstance(value, (int, float)):
            return None
        try:
            float(str(value))
        except ValueError:
            return f'For input string: "{value}"'
        return None
    if ftype in _FLOATS:
        try:
            float(value)
        except (TypeError, ValueError):
            return f'For input string: "{value}"'
        return None
    if ftype == "date":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return None
        if isinstance(value, str) and _DATE.match(value) and _valid_date(value):
            return None
        return f"failed to parse date field [{value}] with format [strict_date_optional_time||epoch_millis]"
    if ftype == "boolean":
        if value in (True, False, "true", "false", ""):
            return None
        return f"Failed to parse value [{value}] as only [true] or [false] are allowed."
    return None  # keyword, text and the rest take any scalar


def _valid_date(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return len(text) == 10 and text[4] == "-"
    return True


def data_stream_backing_index(name: str, day: str, generation: int = 1) -> str:
    return f".ds-{name}-{day}-{generation:06d}"
