"""Strict YAML → dataclass loading. Unknown keys, keys given twice and wrong types are errors that
name the key, the file, the line and the fix; nothing silently falls back to a default.

A config class is a plain ``@dataclass``; its field types drive the validation (``str``, ``int``,
``float``, ``bool``, ``Path``, ``list[X]``, ``X | None``, ``Literal[...]``, nested dataclasses, and
``Duration``/``ByteSize`` written as ``10m``/``5MB``). A field's ``metadata={"help": ...}`` is shown
in the error as the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import types
import typing
from pathlib import Path
from typing import Any, Iterator, Literal, TypeVar, Union, get_args, get_origin

import yaml

from shipper.errors import ConfigError

T = TypeVar("T")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it


class Duration(float):
    """Seconds; written in YAML as a number of seconds or ``500ms``, ``30s``, ``10m``, ``2h``, ``1d``."""


class ByteSize(int):
    """Bytes; written as a number or ``64KiB``, ``5MB``, ``1GiB``."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_duration(value: object) -> Duration:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Duration(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration (write e.g. 30s, 10m, 2h)")
    return Duration(float(m.group(1)) * _DURATION_UNITS[m.group(2)])


def parse_size(value: object) -> ByteSize:
    if isinstance(value, int) and not isinstance(value, bool):
        return ByteSize(value)
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a size (write e.g. 64KiB, 5MB, 1GiB)")
    unit = (m.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    mult = 1 if unit in ("", "b") else base ** ("kmgt".index(unit[0]) + 1)
    return ByteSize(int(float(m.group(1)) * mult))


@dataclasses.dataclass
class Where:
    """Where the keys of a file are: for the errors that name the file and the line of a key."""

    file: str
    marks: dict[str, int]  # dotted key -> 1-based line

    def at(self, key: str) -> str:
        line = self.marks.get(key)
        return f"{self.file}:{line}" if line else self.file

    def error(self, key: str, problem: str, fix: str | None = None) -> ConfigError:
        """The error about ``key`` (dotted: ``inputs[1].format``): ``FILE:LINE: KEY: PROBLEM (FIX)``
        (without ``FILE:LINE: `` for settings read from no file)."""
        place = self.at(key)
        return ConfigError(f"{place + ': ' if place else ''}{key or '(top level)'}: {problem}", hint=fix)


def _children(node: yaml.Node, prefix: str) -> Iterator[tuple[str, int, yaml.Node]]:
    """A mapping's entries or a list's items: dotted key (``inputs[0].paths``), 1-based line, value."""
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            yield (f"{prefix}.{knode.value}" if prefix else str(knode.value)), knode.start_mark.line + 1, vnode
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield f"{prefix}[{i}]", item.start_mark.line + 1, item


def _marks(node: yaml.Node, prefix: str, out: dict[str, int]) -> None:
    for key, line, value in _children(node, prefix):
        out[key] = line
        _marks(value, key, out)


def _check_nodes(node: yaml.Node, name: str, prefix: str = "", above: tuple[yaml.Node, ...] = ()) -> None:
    """Errors PyYAML lets through, at any depth: a key given twice in one mapping (PyYAML keeps the
    last value) and an alias inside its own anchor (``&a [*a]``: a value without end).

    Checked on the composed nodes, before merge keys (``<<: *base``) are flattened into their
    mapping: a key that overrides a merged one is not given twice."""
    lines: dict[str, int] = {}
    above += (node,)
    for key, line, value in _children(node, prefix):
        where = Where(name, {key: line})
        if key in lines:
            raise where.error(key, f"already given on line {lines[key]}",
                              "keep one of the two (YAML would silently use the last)")
        if any(value is n for n in above):
            raise where.error(key, "an alias inside its own anchor: the value would never end", "write the value out")
        lines[key] = line
        _check_nodes(value, name, key, above)


# YAML 1.2's core schema, for plain (unquoted) scalars: PyYAML resolves YAML 1.1's, where
# ``1:30`` is 90 (base 60), ``yes``/``no``/``on``/``off`` are booleans, ``0755`` is octal and dates
# are timestamps. The config's types check text as written (no setting is a YAML timestamp: an
# impossible date is then a clear error, not a crash). Null (``~``, ``null``, empty) and merge keys
# (``<<``) stay as PyYAML has them.
_CORE = {
    "tag:yaml.org,2002:bool": ("tTfF", r"^(?:true|True|TRUE|false|False|FALSE)$"),
    "tag:yaml.org,2002:int": ("-+0123456789", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    "tag:yaml.org,2002:float": ("-+.0123456789", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                                 r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
}
_KEPT = ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")
_INT = re.compile(r"^([-+]?)(0o|0x)?([0-9a-fA-F]+)$")


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    """An integer as YAML 1.2 writes it: decimal (``0755`` is 755), ``0o`` octal, ``0x`` hex."""
    text = loader.construct_scalar(node)
    m = _INT.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not an integer")
    value = int(m.group(3), {"0o": 8, "0x": 16}.get(m.group(2) or "", 10))
    return -value if m.group(1) == "-" else value


@functools.cache
def _core_schema(base: type[Any]) -> type[Any]:
    """``base`` (a YAML loader class, C or Python) resolving plain scalars by YAML 1.2's core
    schema (`_CORE`), the integers among them built as 1.2 reads them."""
    resolvers = {first: [(tag, rx) for tag, rx in pairs if tag in _KEPT]
                 for first, pairs in base.yaml_implicit_resolvers.items()}
    for tag, (firsts, pattern) in _CORE.items():  # (int before float: "1" matches both)
        for first in firsts:
            resolvers.setdefault(first, []).append((tag, re.compile(pattern)))
    constructors = {**base.yaml_constructors, "tag:yaml.org,2002:int": _construct_int}
    return type("ConfigLoader", (base,), {"yaml_implicit_resolvers": resolvers, "yaml_constructors": constructors})


def load_yaml_file(path: Path) -> tuple[Any, Where]:
    """Read a YAML file, returning its data and the line of every key (for error messages)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return load_yaml_text(text, str(path))


def load_yaml_text(text: str, name: str) -> tuple[Any, Where]:
    loader = _core_schema(_Loader)(text)
    try:  # one parse gives both the data and the line of every key
        node = loader.get_single_node()
        data = None
        if node is not None:
            _check_nodes(node, name)
            data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    except (ValueError, OverflowError) as exc:  # an explicit tag on a value it cannot take: !!int x
        raise ConfigError(f"{name}: not valid YAML: {exc}", hint="remove the tag (!!...) or fix its value") from None
    finally:
        loader.dispose()
    marks: dict[str, int] = {}
    if node is not None:
        _marks(node, "", marks)
    return data, Where(name, marks)


def build(cls: type[T], data: Any, name: str = "<config>", where: Where | None = None, prefix: str = "") -> T:
    """Turn parsed YAML into an instance of the dataclass ``cls``, strictly."""
    where = where or Where(name, {})
    return typing.cast(T, _convert(cls, data, where, prefix))


def _dataclass(cls: type, data: Any, where: Where, prefix: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise where.error(prefix, f"expected a mapping of settings, got {_kind(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        f = fields.get(str(key))
        if f is None:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            fix = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(sorted(fields))}"
            raise where.error(dotted, "unknown key", fix)
        kwargs[f.name] = _convert(hints[f.name], value, where, dotted, f.metadata.get("help"))
    for f in dataclasses.fields(cls):
        if f.init and f.name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            dotted = f"{prefix}.{f.name}" if prefix else f.name
            raise where.error(dotted, "required key is missing", f.metadata.get("help"))
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a __post_init__ cross-field check
        raise where.error(prefix, str(exc)) from None


def _convert(tp: Any, value: Any, where: Where, key: str, help_: str | None = None) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, value, where, key)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if all(dataclasses.is_dataclass(a) for a in args) and len(args) > 1:
            return _tagged(args, value, where, key)
        if value is None:
            if type(None) in get_args(tp):
                return None
        elif value == "" and type(None) in get_args(tp):  # `cloud_id: ''` is not "no Cloud ID": say so
            raise where.error(key, "is empty", f"set it to {help_}, or remove the key" if help_ else "set it, or remove the key")
        errors = []
        for arg in args:
            try:
                return _convert(arg, value, where, key, help_)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[-1]
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise where.error(key, f"{value!r} is not allowed", f"use one of: {', '.join(map(str, choices))}")
        return value
    if origin is list:
        (item_tp,) = get_args(tp)
        if isinstance(value, (str, dict)) or not isinstance(value, list):
            raise where.error(key, f"expected a list, got {_kind(value)}", help_)
        return [_convert(item_tp, v, where, f"{key}[{i}]", help_) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise where.error(key, f"expected a mapping, got {_kind(value)}", help_)
        _k, v_tp = get_args(tp)
        return {str(k): _convert(v_tp, v, where, f"{key}.{k}", help_) for k, v in value.items()}
    return _scalar(tp, value, where, key, help_)


def _tagged(options: list[Any], value: Any, where: Where, key: str) -> Any:
    """A list item chosen by its ``type:`` key (``- type: journal``, ``- type: file``)."""
    by_type = {get_args(typing.get_type_hints(o)["type"])[0]: o for o in options}
    if not isinstance(value, dict):
        raise where.error(key, f"expected a mapping with a 'type' key, got {_kind(value)}")
    kind = value.get("type")
    if kind not in by_type:
        raise where.error(f"{key}.type", f"{kind!r} is not a known type", f"use one of: {', '.join(by_type)}")
    return _dataclass(by_type[kind], value, where, key)


def _scalar(tp: Any, value: Any, where: Where, key: str, help_: str | None) -> Any:
    try:
        if tp is Duration:
            return parse_duration(value)
        if tp is ByteSize:
            return parse_size(value)
    except ValueError as exc:
        raise where.error(key, str(exc), help_) from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise where.error(key, f"expected true or false, got {_kind(value)}", help_ or "use true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise where.error(key, f"expected a whole number, got {_kind(value)}", help_)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise where.error(key, f"expected a number, got {_kind(value)}", help_)
    if tp is str:
        if isinstance(value, str):
            return value
        raise where.error(key, f"expected text, got {_kind(value)}", help_ or "quote the value")
    if tp is Path:
        if isinstance(value, str) and value:
            return Path(value).expanduser()
        raise where.error(key, f"expected a path, got {_kind(value)}", help_)
    if tp is Any:
        return value
    raise TypeError(f"config type {tp!r} at {key} is not supported by the loader")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
