"""Rotated log sets: which files belong together and in which order to read them. Pure.

Names logrotate, savelog and newsyslog produce for a log ``maillog``: ``maillog.1``,
``maillog.2.gz`` (numbered: higher is older), ``maillog-20170830[.gz]``, ``maillog-2017083014``
(hourly), ``maillog-20170830-1504094400`` (``dateformat -%Y%m%d-%s``), ``maillog-2017-08-30``
(dated: all older than the live file). With the ``extension`` option the suffix goes before the
extension: ``app.log`` -> ``app.1.log`` (up to 2 digits, so ``elasticsearch.624.log`` stays a
name of its own) / ``app-20170830.log``. Compression suffixes are ignored
here (compression is recognised by content).

A set that mixes numbered and dated names (the host switched to ``dateext``, or back) is read
block by block: by default the numbered files first (RHEL turned ``dateext`` on by default, so the
numbered ones are the leftovers), unless modification times show the dated block is older.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zstd", ".lzma")

_NUMBERED = re.compile(r"(?P<stem>.+?)\.(?:(?P<n>\d{1,4})|(?P<n2>\d{1,2})(?P<ext>\.[A-Za-z][A-Za-z0-9]{0,7}))")
_DATED = re.compile(
    r"(?P<stem>.+?)-(?P<y>(?:19|20)\d\d)(?P<dash>-?)(?P<m>[01]\d)(?P=dash)(?P<d>[0-3]\d)"
    r"(?:-?(?P<h>[0-2]\d))?(?:-(?P<epoch>\d{9,11}))?(?P<ext>\.[A-Za-z][A-Za-z0-9]{0,7})?"
)

LIVE, NUMBERED, DATED = "live", "numbered", "dated"


@dataclass(frozen=True, slots=True)
class RotatedName:
    family: str  # the live file's name, e.g. "maillog" for "maillog.2.gz"
    kind: str  # LIVE, NUMBERED or DATED
    key: tuple[int, ...]  # orders the files of one kind, oldest first


def strip_compression(name: str) -> str:
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def parse_name(name: str) -> RotatedName:
    """The family of a file name and its place in the family."""
    base = strip_compression(name)
    m = _NUMBERED.fullmatch(base)
    if m:
        return RotatedName(m["stem"] + (m["ext"] or ""), NUMBERED, (-int(m["n"] or m["n2"]),))
    m = _DATED.fullmatch(base)
    if m and 1 <= int(m["m"]) <= 12 and 1 <= int(m["d"]) <= 31:
        parts = (m["y"], m["m"], m["d"], m["h"] or "0", m["epoch"] or "0")
        return RotatedName(m["stem"] + (m["ext"] or ""), DATED, tuple(int(p) for p in parts))
    return RotatedName(base, LIVE, ())


def family_of(name: str) -> str:
    return parse_name(name).family


def order_rotated(names: Iterable[str], mtimes: Mapping[str, float] | None = None) -> list[str]:
    """The names of one family, oldest first: the numbered and dated blocks (see the module
    docstring for which comes first), then the live file. Ties go by name."""
    parsed = {name: parse_name(name) for name in names}
    blocks: dict[str, list[str]] = {LIVE: [], NUMBERED: [], DATED: []}
    for name in sorted(parsed, key=lambda n: (parsed[n].key, n)):
        blocks[parsed[name].kind].append(name)
    first, second = blocks[NUMBERED], blocks[DATED]
    if mtimes and first and second and _newest(second, mtimes) < _newest(first, mtimes):
        first, second = second, first
    return first + second + blocks[LIVE]


def _newest(names: list[str], mtimes: Mapping[str, float]) -> float:
    return max(mtimes.get(n, 0.0) for n in names)
