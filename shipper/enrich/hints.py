"""Fill hint templates from the values a signature parsed, and the texts incidents add.

Templates (``title``, ``hint``, ``remediation`` in the signature files) use ``{var}``; a variable
that did not match is left as its signature's default, or empty. The recogniser computes some
variables itself (`computed_vars`, listed in `shipper.recognise.rules.COMPUTED_VARS`).

Text between backticks is a command to run (``shipper causes`` prints it so, the HTML report shows
it as code to copy). A value read from a log line or a journal field is text anyone who can log
may have written, so `render` never lets it be shell syntax there:

* in a command, it is quoted for where it stands: bare (`command_word`: left as it is when made of
  characters no shell reads specially; else in single quotes, systemd's ``\\xNN`` escapes too),
  inside ``'...'`` (each ``'`` written ``'\\''``), or inside ``"..."`` (closed, quoted, reopened);
* everywhere, a backtick in it becomes ``'``, so that it can neither end a command nor start one.

A signature's ``defaults`` are its own text, and are put in as they are.
"""

from __future__ import annotations

import re
import shlex

from shipper.enrich import exitcodes
from shipper.event import Doc
from shipper.recognise.units import is_unit_name

_VAR = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# shlex.quote's safe characters. (Not systemd's \xNN escapes: unquoted, the shell would drop the
# backslash, and `journalctl -u dev-disk-by\x2duuid-….device` would name another unit.)
_BARE = re.compile(r"[A-Za-z0-9@%+=:,./_-]*")
_SPECIAL_IN_DOUBLE = re.compile(r'[$`"\\!]')


def render(template: str, values: dict[str, str], defaults: dict[str, str] | None = None) -> str:
    """``template`` with ``{var}`` filled: from ``values`` (read from the log: quoted in commands,
    see the module doc), else from ``defaults`` (the signature's own text), else empty."""
    fixed = defaults or {}
    parts = template.split("`")
    for i, part in enumerate(parts):
        if "{" not in part:
            continue
        if i % 2 and i < len(parts) - 1:  # a command (an unpaired last backtick starts none)
            parts[i] = _fill_command(part, values, fixed)
        else:
            parts[i] = _VAR.sub(lambda m: _prose(m.group(1), values, fixed), part)
    return "`".join(parts)


def command_word(value: str) -> str:
    """``value`` as one word of a shell command: as it is if nothing in it is shell syntax, else quoted."""
    return _quoted(value, "")


def _prose(name: str, values: dict[str, str], fixed: dict[str, str]) -> str:
    if name in values:
        return values[name].replace("`", "'")
    return fixed.get(name, "")


def _fill_command(text: str, values: dict[str, str], fixed: dict[str, str]) -> str:
    """A command's text with its variables filled, each quoted for the shell quoting around it."""
    out: list[str] = []
    quote = ""  # the quoting the shell is in at this point of the text: "", "'" or '"'
    i, n = 0, len(text)
    while i < n:
        m = _VAR.match(text, i)
        if m is not None:
            name = m.group(1)
            out.append(_quoted(values[name], quote) if name in values else fixed.get(name, ""))
            i = m.end()
            continue
        c = text[i]
        if c == "\\" and quote != "'" and i + 1 < n and text[i + 1] != "{":
            out.append(text[i : i + 2])  # an escaped character: no quote starts or ends here
            i += 2
            continue
        if c == "'" and quote != '"':
            quote = "" if quote else "'"
        elif c == '"' and quote != "'":
            quote = "" if quote else '"'
        out.append(c)
        i += 1
    return "".join(out)


def _quoted(value: str, quote: str) -> str:
    value = value.replace("`", "'")
    if quote == "'":
        return value.replace("'", "'\\''")
    if quote == '"':
        return value if not _SPECIAL_IN_DOUBLE.search(value) else '"' + shlex.quote(value) + '"'
    return value if _BARE.fullmatch(value) else shlex.quote(value)


def computed_vars(values: dict[str, str], doc: Doc) -> None:
    """Add ``status_name`` (when the text lacks it), ``status_explained``, ``result_explained``,
    ``unit_type``, ``process`` and ``host`` to a hit's variables."""
    status = values.get("status")
    if status is not None and status.isdigit():
        code = values.get("code")
        if values.get("status_name") in (None, "n/a"):  # systemd < v239 printed n/a for sysexits
            name = exitcodes.status_name(code, int(status))
            if name is not None:
                values["status_name"] = name
            else:
                values.pop("status_name", None)
        values["status_explained"] = exitcodes.explain(code, int(status))
    result = values.get("result")
    if result is not None:
        values["result_explained"] = exitcodes.explain_result(result)
    unit = values.get("unit")
    if unit is not None and "." in unit:
        values["unit_type"] = unit.rsplit(".", 1)[1]
    proc = doc.get("process")
    if proc and proc.get("name") is not None:
        values["process"] = str(proc["name"])
    host = doc.get("host")
    if host and host.get("name") is not None:
        values["host"] = str(host["name"])


def window_text(seconds: float) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"


def no_cause_hint(unit: str | None, window: float, look_at: str | None, own_hint: str, *, user: bool = False) -> str:
    """The hint of a failure that no recognised error preceded (``user``: a user manager's unit)."""
    if unit is not None and not is_unit_name(unit):
        unit = None  # (rootcause.unit is one already: see UnitMap.resolve)
    name = unit or "the unit"
    option = "--user-unit" if user else "-u"
    where = look_at or f"`journalctl -b {option} {command_word(unit) if unit else name}` and the program's own log files"
    return f"no recognised error from {name} in the last {window_text(window)}; look at {where}. {own_hint}"
