"""Fill hint templates from the values a signature parsed, and the texts incidents add.

Templates (``title``, ``hint``, ``remediation`` in the signature files) use ``{var}``; a variable
that did not match is left as its signature's default, or empty. The recogniser computes some
variables itself (`computed_vars`, listed in `shipper.recognise.rules.COMPUTED_VARS`).
"""

from __future__ import annotations

import re

from shipper.enrich import exitcodes
from shipper.event import Doc

_VAR = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def render(template: str, values: dict[str, str]) -> str:
    return _VAR.sub(lambda m: values.get(m.group(1), ""), template)


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
    name = unit or "the unit"
    option = "--user-unit" if user else "-u"
    where = look_at or f"`journalctl -b {option} {name}` and the program's own log files"
    return f"no recognised error from {name} in the last {window_text(window)}; look at {where}. {own_hint}"
