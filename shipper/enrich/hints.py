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

A signature's ``defaults`` are its own text: in prose they are put in as they are ("the unit"); in a
command, where that text would be a broken argument an operator might paste (``systemctl status the
unit``), the variable stands as a placeholder to fill in, its name in capitals (`placeholder`:
``systemctl status UNIT``), as man pages and the templates' own ``useradd --system NAME`` write them.

`pieces` is the one reading of a template (where each variable stands, and how it is quoted there):
`render` fills it here, and the Elasticsearch recognition pipeline gets it as data
(`shipper.setup.hint_script`), so that both put a value in the same way.
"""

from __future__ import annotations

import functools
import re
import shlex
import string
from datetime import datetime, timedelta, timezone

from shipper.enrich import exitcodes
from shipper.event import Doc
from shipper.recognise.units import is_unit_name

_VAR = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# shlex.quote's safe characters. (Not systemd's \xNN escapes: unquoted, the shell would drop the
# backslash, and `journalctl -u dev-disk-by\x2duuid-….device` would name another unit.)
BARE_CHARS = string.ascii_letters + string.digits + "@%+=:,./_-"
SPECIAL_IN_DOUBLE = '$`"\\!'  # the characters "..." does not keep as they are
_BARE = re.compile(f"[{re.escape(BARE_CHARS)}]*")
_SPECIAL_IN_DOUBLE = re.compile(f"[{re.escape(SPECIAL_IN_DOUBLE)}]")


# How a piece of a template is put in (`pieces`): its own text, or a variable's value in prose or in
# a command: bare, inside '...' or inside "...".
TEXT, PROSE, BARE, IN_SINGLE, IN_DOUBLE = "", "prose", "bare", "single", "double"
Piece = tuple[str, str]  # (TEXT, the text) or (how the variable is put in, its name)
_QUOTE_MODE = {"": BARE, "'": IN_SINGLE, '"': IN_DOUBLE}
# The computed variables that are a field of the document (`computed_vars`).
DOC_FIELDS = {"process": ("process", "name"), "host": ("host", "name")}
# Set ("user") for a unit of a user's service manager (`is_user_manager`): `render` then gives its
# commands --user (`for_user_manager`). Not a template variable (COMPUTED_VARS): no text names it.
MANAGER = "manager"
# A template's commands as a user manager's unit needs them: `systemctl --user ...`,
# `journalctl --user-unit UNIT` (not -u), `coredumpctl ... COREDUMP_USER_UNIT=`.
_USER_COMMANDS = (
    (re.compile(r"\bsystemctl (?!--user\b)"), "systemctl --user "),
    (re.compile(r"(\bjournalctl\b[^|;&]*?) -u\b"), r"\1 --user-unit"),
    (re.compile(r"\bCOREDUMP_UNIT="), "COREDUMP_USER_UNIT="),
)


def render(template: str, values: dict[str, str], defaults: dict[str, str] | None = None) -> str:
    """``template`` with ``{var}`` filled: from ``values`` (read from the log: quoted in commands,
    see the module doc), else from ``defaults`` (the signature's own text in prose, a `placeholder`
    in a command), else empty."""
    fixed = defaults or {}
    if values.get(MANAGER) == "user":
        template = for_user_manager(template)
    return "".join(_filled(how, text, values, fixed) for how, text in pieces(template))


@functools.lru_cache(maxsize=256)
def for_user_manager(template: str) -> str:
    """``template`` with its commands (between backticks) for a unit of a user manager."""
    parts = template.split("`")
    for i in range(1, len(parts) - 1, 2):
        for pattern, replacement in _USER_COMMANDS:
            parts[i] = pattern.sub(replacement, parts[i])
    return "`".join(parts)


def is_user_manager(doc: Doc) -> bool:
    """Whether ``doc`` is about a unit of a user's service manager (``systemd --user``): the journal
    names the unit in USER_UNIT= (``systemd.user_unit``); a text log has only the sender, a
    ``systemd`` whose PID is not 1 (PID 1 is the system manager, a user manager is its child)."""
    sd = doc.get("systemd")
    if sd and sd.get("user_unit"):
        return True
    proc = doc.get("process")
    return proc is not None and proc.get("name") == SERVICE_MANAGER and proc.get("pid") not in (None, 1, "1")


def _filled(how: str, text: str, values: dict[str, str], defaults: dict[str, str]) -> str:
    if how == TEXT:
        return text
    if text in values:
        return put(values[text], how)
    if text not in defaults:
        return ""
    return defaults[text] if how == PROSE else placeholder(text)


def placeholder(name: str) -> str:
    """What stands for variable ``name`` in a command when the log did not give it: ``UNIT``."""
    return name.upper()


def command_word(value: str) -> str:
    """``value`` as one word of a shell command: as it is if nothing in it is shell syntax, else quoted."""
    return put(value, BARE)


def put(value: str, how: str) -> str:
    """A value read from the log as `render` puts it in where a template's variable stands (``how``)."""
    value = value.replace("`", "'")
    if how == IN_SINGLE:
        return value.replace("'", "'\\''")
    if how == IN_DOUBLE:
        return value if not _SPECIAL_IN_DOUBLE.search(value) else '"' + shlex.quote(value) + '"'
    if how == BARE:
        return value if _BARE.fullmatch(value) else shlex.quote(value)
    return value


@functools.lru_cache(maxsize=512)
def pieces(template: str) -> tuple[Piece, ...]:
    """``template`` cut into its own text and its variables, each with where it stands: in prose, or
    in a command (between backticks; an unpaired last backtick starts none) and the shell quoting
    there. The one reading of templates: `render` fills it, the Elasticsearch pipeline gets it."""
    out: list[Piece] = []
    parts = template.split("`")
    for i, part in enumerate(parts):
        if i:
            out.append((TEXT, "`"))
        out += _command_pieces(part) if i % 2 and i < len(parts) - 1 else _prose_pieces(part)
    merged: list[Piece] = []
    for how, text in out:
        if how == TEXT and merged and merged[-1][0] == TEXT:
            merged[-1] = (TEXT, merged[-1][1] + text)
        elif text or how != TEXT:
            merged.append((how, text))
    return tuple(merged)


def _prose_pieces(text: str) -> list[Piece]:
    out: list[Piece] = []
    start = 0
    for m in _VAR.finditer(text):
        out += [(TEXT, text[start : m.start()]), (PROSE, m.group(1))]
        start = m.end()
    out.append((TEXT, text[start:]))
    return out


def _command_pieces(text: str) -> list[Piece]:
    """A command's text and variables, each variable with the shell quoting around it."""
    out: list[Piece] = []
    quote = ""  # the quoting the shell is in at this point of the text: "", "'" or '"'
    i, n = 0, len(text)
    while i < n:
        m = _VAR.match(text, i)
        if m is not None:
            out.append((_QUOTE_MODE[quote], m.group(1)))
            i = m.end()
            continue
        c = text[i]
        if c == "\\" and quote != "'" and i + 1 < n and text[i + 1] != "{":
            out.append((TEXT, text[i : i + 2]))  # an escaped character: no quote starts or ends here
            i += 2
            continue
        if c == "'" and quote != '"':
            quote = "" if quote else "'"
        elif c == '"' and quote != "'":
            quote = "" if quote else '"'
        out.append((TEXT, c))
        i += 1
    return out


def computed_vars(values: dict[str, str], doc: Doc) -> None:
    """Add ``status_name`` (when the text lacks it), ``status_explained``, ``result_explained``,
    ``unit_type``, ``process``, ``host`` and ``manager`` to a hit's variables."""
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
    for var, (obj, key) in DOC_FIELDS.items():
        part = doc.get(obj)
        if part and part.get(key) is not None:
            values[var] = str(part[key])
    if is_user_manager(doc):
        values[MANAGER] = "user"


def window_text(seconds: float) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"


def no_cause_hint(unit: str | None, window: float, look_at: str | None, own_hint: str, *, user: bool = False,
                  at: str | None = None, process: str | None = None, since: str | None = None,
                  since_what: str = "it started again") -> str:
    """The hint of a failure that no recognised error preceded (``user``: a user manager's unit;
    ``since``: the @timestamp the unit started again, or its host booted (``since_what`` says
    which), less than ``window`` before, after which the linking looked). Its unit unknown, it points at the journal of the minute before ``at`` (the
    failure's @timestamp), of ``process`` where it names one."""
    if unit is not None and not is_unit_name(unit):
        unit = None  # (rootcause.unit is one already: see UnitMap.resolve)
    if look_at is not None and user:
        look_at = for_user_manager(look_at)
    if unit is not None:
        option = "--user-unit" if user else "-u"
        where = look_at or f"`journalctl -b {option} {command_word(unit)}` and the program's own log files"
    else:
        where = look_at or f"{_journal_before(at, process)} and the program's own log files"
    looked = _looked(window, at, since, since_what)
    return f"no recognised error from {unit or 'the unit'} {looked}; look at {where}. {own_hint}"


def _looked(window: float, at: str | None, since: str | None, since_what: str) -> str:
    """Over what time linking looked for a cause of a failure at ``at``: the window, or the time
    since the unit started again (``since_what``: or its host booted) at ``since``. (Always "in the last ...": `shipper.enrich.relink`
    finds this preamble by it.)"""
    try:
        elapsed = (_moment(at) - _moment(since)).total_seconds() if since else None
    except ValueError:
        elapsed = None
    if since is None or elapsed is None or elapsed < 0:
        return f"in the last {window_text(window)}"
    minutes, seconds = divmod(int(elapsed), 60)
    parts = [f"{n} {name}{'s' if n != 1 else ''}" for n, name in ((minutes, "minute"), (seconds, "second")) if n]
    return f"in the last {' '.join(parts) or '0 seconds'}, since {since_what} at {since[11:19]} UTC"


def _moment(ts: str | None) -> datetime:
    """A stored @timestamp (UTC) to the second."""
    return datetime.fromisoformat(ts[:19] if ts else "").replace(tzinfo=timezone.utc)


# Lines of the service manager itself: the failing program's own lines are under another name.
SERVICE_MANAGER = "systemd"


def _journal_before(at: str | None, process: str | None) -> str:
    """The journal (of ``process``) in the minute up to the failure at ``at`` (a stored @timestamp, UTC)."""
    named = process is not None and process != SERVICE_MANAGER and _BARE.fullmatch(process) is not None
    ident, of = (f" -t {process}", f" of {process}") if named else ("", "")
    try:
        moment = _moment(at)
    except ValueError:
        return f"the journal{of} just before it (`journalctl -b{ident}`)"
    since, until = (f"'{t:%Y-%m-%d %H:%M:%S} UTC'" for t in (moment - timedelta(minutes=1), moment + timedelta(seconds=1)))
    return f"the journal of the minute before it (`journalctl{ident} --since {since} --until {until}`)"
