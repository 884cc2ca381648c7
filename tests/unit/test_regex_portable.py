"""No regular expression in shipper uses a construct that Python versions shipper supports read
differently: possessive quantifiers (``*+``, ``++``, ``?+``, ``{m,n}+``) and atomic groups
(``(?>...)``), new in 3.11, match wrongly before 3.11.5 (CPython gh-106052), and Debian 12's
``/usr/bin/python3`` is 3.11.2: ``, (to)=([^,]*+(?:,...)*+)`` split sendmail's ``to=a, to=b`` wrongly
there. (Signature files are checked by `shipper.recognise.validate` the same way.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shipper.enrich.sendmail import _ITEM

ROOT = Path(__file__).resolve().parents[2]
_LATE = re.compile(r"(?<!\\)[*+?}]\+|\(\?>")
_CLASS = re.compile(r"\[(?:\\.|[^\]\\])*\]")  # a character class: "[*+?]" quantifies nothing


def _late(text: str) -> bool:
    return _LATE.search(_CLASS.sub("x", text)) is not None


_RE_CALLS = {"compile", "match", "search", "fullmatch", "finditer", "findall", "sub", "subn", "split"}


def _patterns(tree: ast.AST) -> list[tuple[int, str]]:
    """The string pieces of the first argument of every ``re.X(...)`` call (joined pieces included)."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _RE_CALLS
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args):
            found += [(node.lineno, c.value) for c in ast.walk(node.args[0])
                      if isinstance(c, ast.Constant) and isinstance(c.value, str)]
    return found


def test_no_regex_in_shipper_uses_a_possessive_quantifier_or_an_atomic_group() -> None:
    late = [f"{path.relative_to(ROOT)}:{line}: {text!r}" for path in sorted((ROOT / "shipper").rglob("*.py"))
            for line, text in _patterns(ast.parse(path.read_text(), str(path))) if _late(text)]
    assert late == []


def test_the_check_finds_what_it_looks_for() -> None:
    tree = ast.parse('import re\nA = re.compile(r"x(" + "a|b" + r")=([^,]*+)")\nB = re.search("(?>ab)", s)\n'
                     'C = re.compile(r"\\\\*+ok[*+]")\n')
    assert [text for _, text in _patterns(tree) if _late(text)] == [")=([^,]*+)", "(?>ab)"]


def test_sendmail_items_split_at_each_key() -> None:
    items = [m.groups() for m in _ITEM.finditer(", to=a, to=b, from=c, to=d, e, relay=r")]
    assert items == [("to", "a"), ("to", "b"), ("from", "c"), ("to", "d, e"), ("relay", "r")]
