"""Painless literals, for the scripts and conditions the pipeline generators write."""

from __future__ import annotations

from typing import Sequence


def string(text: str) -> str:
    """A painless string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def strings(values: Sequence[str]) -> str:
    """A painless list literal of strings."""
    return "[" + ", ".join(string(v) for v in values) + "]"
