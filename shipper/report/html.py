"""The investigation report: one self-contained HTML file for the incidents in the local store.

The data is exactly what ``shipper causes --format json`` prints (`shipper.report.causes.to_json`),
plus the stored lines around each incident (`shipper.report.lines`); it is embedded as JSON in a
``<script type="application/json">`` element and drawn by the page's own script (no network, no
external file: the page opens from a mail attachment). The CSS, the script and the HTML shell live
in ``shipper/report/page/`` and are inlined here.

Large reports stay small and quick to open: the JSON is *packed* losslessly. Repeated strings
(hints, remediations, titles, hosts, messages) are stored once in a string table and referred to as
``"~<base36 index>"`` (object keys too); a string made of several `` — ``-separated parts (the headline) refers to
its parts as ``"~a.b.c"``; a list of objects with the same keys (the incidents, their causes) is
stored as a table ``["~T", [keys], [values]...]``. A source string that itself starts with ``~``
always goes to the table, so every ``~`` string in the packed data is a reference.
"""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from shipper import __version__
from shipper.errors import OutputError, UsageError
from shipper.enrich.relink import DEFAULT_WINDOW
from shipper.report.causes import linked_incidents, to_json
from shipper.report.lines import add_last_lines, incident_lines, span_of
from shipper.sinks.local import LocalStore
from shipper.sinks.replace_file import Replacement, check_directory, written_in_place
from shipper.timeargs import format_ts

SEP = " — "
MARK = "~"
_TABLE = "~T"
_PLACEHOLDERS = ("/*shipper:style*/", "/*shipper:script*/", "<!--shipper:data-->")


def collect(store: LocalStore, *, since: str | None, until: str | None, now: float,
            window: float = DEFAULT_WINDOW) -> dict[str, Any]:
    """Everything the page shows: `to_json` of the incidents (linked at read time, as `causes` does,
    with the incident ``window``), their lines, and where it came from."""
    incidents = linked_incidents(store, since=since, until=until, window=window)
    lines = incident_lines(store, [span_of(i) for i in incidents], window=window)
    add_last_lines(incidents, lines)
    report = to_json(incidents, store.counts(since=since, until=until))
    meta = {"generated": format_ts(datetime.fromtimestamp(now, timezone.utc)), "store": str(store.path),
            "since": since, "until": until, "version": __version__}
    return {"meta": meta, "report": report, "lines": lines}


def pack(data: Any) -> dict[str, Any]:
    """``data`` as ``{"strings": [...], "data": packed}`` (see the module docstring)."""
    found: list[str] = []
    _strings(data, found.append)
    counts = Counter(found)
    parts: Counter[str] = Counter()
    for text, n in counts.items():
        if n == 1 and SEP in text:  # a unique headline: its parts (a hint, a title) are shared
            parts.update(text.split(SEP))
    counts.update(parts)
    interned = [s for s, n in counts.most_common() if (n > 1 and (len(s) > 3 or SEP in s)) or s in parts or s[:1] == MARK]
    index = {s: MARK + _base36(i) for i, s in enumerate(interned)}
    return {"strings": interned, "data": _pack(data, index)}


def _strings(value: Any, add: Callable[[str], None]) -> None:
    kind = type(value)
    if kind is str:
        add(value)
    elif kind is dict:
        for k, v in value.items():
            add(k)
            if type(v) is str:
                add(v)
            elif v is not None and type(v) is not int:
                _strings(v, add)
    elif kind is list:
        for v in value:
            if type(v) is str:
                add(v)
            elif v is not None and type(v) is not int:
                _strings(v, add)


def _pack(data: Any, index: dict[str, str]) -> Any:
    get = index.get

    def one(value: Any) -> Any:  # called for millions of values in a big report: scalars stay inline
        kind = type(value)
        if kind is str:
            return get(value) or (value if SEP not in value else MARK + ".".join(index[p][1:] for p in value.split(SEP)))
        if kind is dict:
            return {get(k, k): one(v) if type(v) is not int else v for k, v in value.items()}
        if kind is list:
            if len(value) > 1 and all(type(v) is dict for v in value) and len({tuple(v) for v in value}) == 1:
                keys = list(value[0])
                return [_TABLE, keys, *([one(v[k]) for k in keys] for v in value)]
            return [one(v) for v in value]
        return value

    return one(data)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>``, ``<!--`` or ``]]>``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render(data: dict[str, Any]) -> str:
    """The page: the shell with its CSS, script and the packed data inlined."""
    page = resources.files("shipper.report") / "page"
    html = (page / "report.html").read_text(encoding="utf-8")
    style, script, slot = _PLACEHOLDERS
    before, after = html.split(slot)
    before = before.replace(style, (page / "report.css").read_text(encoding="utf-8"))
    after = after.replace(script, (page / "report.js").read_text(encoding="utf-8"))
    return before + script_json(pack(data)) + after


def check_output(path: Path) -> bool:
    """Whether ``-o path`` is a stream (a FIFO, a terminal, /dev/null, /dev/fd/N) rather than a file;
    refuses, before any work, what can hold no page (a directory, a disk, a missing directory)."""
    try:
        mode = os.stat(path).st_mode  # through links: what the page would be written to
        in_place = written_in_place(path)
    except FileNotFoundError:  # a new file (or a dangling link: its target is created)
        if written_in_place(path):
            return True
        check_directory(path, "the report ")
        return False
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    if stat.S_ISDIR(mode):
        raise OutputError(f"cannot write the report {path}: it is a directory",
                          hint=f"name a file, such as -o {path / 'report.html'}")
    if stat.S_ISBLK(mode):
        raise UsageError(f"-o {path} is a block device: the report would overwrite the disk",
                         hint="write the report to a file, such as -o report.html")
    return in_place


def write(path: Path, html: str) -> None:
    """Write the page to ``path``. A file is replaced whole (`shipper.sinks.replace_file`): a reader
    never sees half a report, and the old report's mode is kept. A stream (`check_output`) is
    written to as it is, at its end."""
    try:
        if check_output(path):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)  # never created nor truncated
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(html)
        else:
            new = Replacement(path)
            try:
                new.file.write(html.encode("utf-8"))
            except BaseException:
                new.discard()
                raise
            new.commit()
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write the report {path}: {exc.strerror}",
                       hint="choose another -o path, or check free space and permissions")
