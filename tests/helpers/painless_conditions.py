"""The painless of the recognition pipeline's ``if`` conditions, read by a small interpreter, for
the stand-in ingest node (`helpers.ingest`): ``ctx`` field access with ``.`` (a null in the way is
a failure, as in painless) and ``?.``, string and list literals, ``.contains()``, ``.toString()``,
``==``, ``!=``, ``!``, ``&&``, ``||``, ``? :`` and ``instanceof String`` / ``Map``. Anything else is refused,
so that a condition written differently fails here first.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable

Ctx = dict[str, Any]
Expr = Callable[[Ctx], Any]


class Failure(Exception):
    """A processor failed (painless: an exception; a grok that matches nothing; a missing field)."""


def to_string(value: Any) -> str:
    """Java's toString() of a JSON value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>\?\.|==|!=|&&|\|\||[!?:.()\[\],])|(?P<name>[A-Za-z_]\w*))")


@functools.lru_cache(maxsize=None)
def condition(text: str) -> Expr:
    """A painless condition of the recognition pipeline as a function of ``ctx``."""
    tokens = _tokens(text)
    parser = _Parser(tokens)
    expr = parser.ternary()
    if parser.i != len(tokens):
        raise AssertionError(f"cannot read the condition past {tokens[parser.i:][:3]}: {text}")
    return expr


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise AssertionError(f"not painless this stand-in reads, at {text[pos:pos + 20]!r}: {text}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over the tokens; each method returns a function of ``ctx``."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> str:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.i]
        if expected is not None and token[1] != expected:
            raise AssertionError(f"expected {expected!r}, found {token[1]!r}")
        self.i += 1
        return token

    def ternary(self) -> Expr:
        test = self.either()
        if self.peek() != "?":
            return test
        self.take("?")
        yes = self.ternary()
        self.take(":")
        no = self.ternary()
        return lambda ctx: yes(ctx) if _bool(test(ctx)) else no(ctx)

    def either(self) -> Expr:
        left = self.both()
        while self.peek() == "||":
            self.take()
            left = (lambda a, b: lambda ctx: _bool(a(ctx)) or _bool(b(ctx)))(left, self.both())
        return left

    def both(self) -> Expr:
        left = self.equality()
        while self.peek() == "&&":
            self.take()
            left = (lambda a, b: lambda ctx: _bool(a(ctx)) and _bool(b(ctx)))(left, self.equality())
        return left

    def equality(self) -> Expr:
        left = self.unary()
        while self.peek() in ("==", "!="):
            negate = self.take()[1] == "!="
            left = (lambda a, b, neg: lambda ctx: (a(ctx) == b(ctx)) != neg)(left, self.unary(), negate)
        return left

    def unary(self) -> Expr:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda ctx: not _bool(inner(ctx))
        value = self.postfix()
        if self.peek() == "instanceof":
            self.take()
            kind = {"String": str, "Map": dict}.get(self.take()[1])
            if kind is None:
                raise AssertionError("instanceof other than String or Map")
            return lambda ctx: isinstance(value(ctx), kind)
        return value

    def postfix(self) -> Expr:
        value = self.primary()
        while self.peek() in (".", "?."):
            safe = self.take()[1] == "?."
            name = self.take()[1]
            if self.peek() == "(":
                value = self.call(value, name)
            else:
                value = (lambda obj, key, safe: lambda ctx: _member(obj(ctx), key, safe))(value, name, safe)
        return value

    def call(self, obj: Expr, name: str) -> Expr:
        args = self.arguments("(", ")")
        if name == "contains" and len(args) == 1:
            return lambda ctx: _contains(obj(ctx), args[0](ctx))
        if name == "toString" and not args:
            return lambda ctx: to_string(_not_null(obj(ctx), name))
        raise AssertionError(f"a method this stand-in does not know: {name}")

    def arguments(self, opening: str, closing: str) -> list[Expr]:
        self.take(opening)
        args: list[Expr] = []
        while self.peek() != closing:
            args.append(self.ternary())
            if self.peek() == ",":
                self.take()
        self.take(closing)
        return args

    def primary(self) -> Expr:
        kind, text = self.tokens[self.i]
        if kind == "str":
            self.take()
            literal = re.sub(r"\\(.)", r"\1", text[1:-1])
            return lambda ctx: literal
        if text == "(":
            self.take()
            inner = self.ternary()
            self.take(")")
            return inner
        if text == "[":
            items = self.arguments("[", "]")
            return lambda ctx: [item(ctx) for item in items]
        if text == "null":
            self.take()
            return lambda ctx: None
        if text == "ctx":
            self.take()
            return lambda ctx: ctx
        raise AssertionError(f"not painless this stand-in reads: {text!r}")


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Failure(f"cannot cast {value!r} to boolean")
    return value


def _not_null(value: Any, what: str) -> Any:
    if value is None:
        raise Failure(f"null pointer: {what}")
    return value


def _member(obj: Any, key: str, safe: bool) -> Any:
    if obj is None:
        if safe:
            return None
        raise Failure(f"null pointer: .{key}")
    if not isinstance(obj, dict):
        raise Failure(f"no field {key} on {type(obj).__name__}")
    return obj.get(key)


def _contains(obj: Any, item: Any) -> bool:
    if isinstance(obj, str):
        if not isinstance(item, str):
            raise Failure("String.contains of a non-string")
        return item in obj
    if isinstance(obj, list):
        return item in obj
    raise Failure(f"contains on {obj!r}")
