"""The recognition pipeline's view of a document: shipper's field names, whoever sent it.

The Python recognisers read shipper's documents (docs/fields.md); Filebeat, Elastic Agent and
Vector name the same facts otherwise. Which of their fields is which of shipper's is
`shipper.enrich.sender_fields.SOURCES`, the mapping `shipper relink` reads stored documents
through too.

The pipeline's first processors copy into `VIEW` (``rcv.<shipper's name>``) the first of each
field's `SOURCES` that the document holds (not empty), so that every later condition, variable
and unit reads one set of names, as shipper's parsers fill them (``systemd.unit`` = ``UNIT`` else
``_SYSTEMD_UNIT``, ``process.name`` = ``SYSLOG_IDENTIFIER`` else ``_COMM``). The document's own
fields are left as they are; the view is removed at the end.

``rcv.sender`` is the process a line is matched as (`shipper.enrich.recognise`): its
``process.name``, else the process the signature files' ``units`` table gives its unit (a
``journalctl -o with-unit`` line names a unit, not a process).
"""

from __future__ import annotations

from typing import Any, Iterable

from shipper.enrich.sender_fields import SOURCES
from shipper.setup import painless

VIEW = "rcv"
SENDER = "sender"  # rcv.sender: the process the document is matched as

# What the pipeline reads of every document, whatever the signatures ask.
ALWAYS = ("process.name", "process.pid", "systemd.unit", "systemd.user_unit", "journald.message_id", "event.dataset",
          "journald.boot_id")
# What a recognised document gets from the view where it has none (Filebeat's journald input names
# no process.name, and keeps the boot in journald.host.boot_id), so that what reads shipper's
# names of it finds them: the process tells the system manager's lines from a user manager's
# (`incident_fields.manager_of`); an incident ends at a new boot (`incident_fields.boot_of`).
# (`shipper relink` reads every field of `SOURCES` through `sender_fields.view` whatever is here.)
FILLED_IN = ("process.name", "journald.boot_id")


def path(dotted: str) -> tuple[str, str]:
    """``ctx.rcv?.a?.b`` (null-safe) and ``ctx.rcv.a.b``: where the view holds shipper's ``dotted``."""
    parts = [VIEW, *dotted.split(".")]
    return "ctx." + "?.".join(parts), "ctx." + ".".join(parts)


def _present(dotted: str) -> str:
    """Painless: the document holds ``dotted``, not empty (the Python recognisers pass over an empty
    value). Each object on the way is tested to be one: another shipper's ``host`` or ``log`` may be
    a string (Vector's ``host``, a Docker line's ``log``), where ``?.`` would fail the document."""
    parts = dotted.split(".")
    objects = [f"ctx.{'.'.join(parts[:i])} instanceof Map" for i in range(1, len(parts))]
    plain = f"ctx.{'.'.join(parts)}"
    return " && ".join([*objects, f"{plain} != null", f"{plain}.toString() != ''"])


def _copy(target: str, source: str) -> dict[str, Any]:
    safe, _ = path(target)
    return {"set": {"tag": f"view:{target}<{source}", "field": f"{VIEW}.{target}", "copy_from": source,
                    "if": f"{safe} == null && {_present(source)}"}}


def view_steps(fields: Iterable[str], process_of: dict[str, str]) -> list[dict[str, Any]]:
    """The processors that fill the view: each of ``fields`` (shipper's names) from its sources,
    then `SENDER`, from ``process.name`` or, by ``process_of`` (unit -> process), the unit."""
    steps = [_copy(field, source) for field in dict.fromkeys([*ALWAYS, *fields])
             for source in SOURCES.get(field, (field,))]
    sender, _ = path(SENDER)
    name_safe, name = path("process.name")
    steps.append({"set": {"tag": f"view:{SENDER}", "field": f"{VIEW}.{SENDER}", "copy_from": name[len("ctx."):],
                          "if": f"{name_safe} != null"}})
    user_safe, user = path("systemd.user_unit")
    unit_safe, _ = path("systemd.unit")
    its_unit = f"({user_safe} != null ? {user} : {unit_safe})"
    for unit, process in sorted(process_of.items()):
        steps.append({"set": {"tag": f"view:{SENDER}<{unit}", "field": f"{VIEW}.{SENDER}", "value": process,
                              "if": f"{sender} == null && {its_unit} == {painless.string(unit)}"}})
    return steps


def _absent(dotted: str) -> str:
    """Painless: the document has no ``dotted``, and each object on the way is one or absent."""
    parts = dotted.split(".")
    test = f"ctx.{dotted} == null"
    for n in range(len(parts) - 1, 0, -1):
        parent = f"ctx.{'.'.join(parts[:n])}"
        test = f"({parent} == null || ({parent} instanceof Map && {test}))"
    return test


def fill_in(condition: str) -> list[dict[str, Any]]:
    """`FILLED_IN`: shipper's fields a recognised document (``condition``) lacks, from the view."""
    steps = []
    for field in FILLED_IN:
        safe, plain = path(field)
        steps.append({"set": {"tag": f"view:fill in {field}", "field": field, "copy_from": plain[len("ctx."):],
                              "if": f"{condition} && {safe} != null && {_absent(field)}"}})
    return steps


def remove_view() -> dict[str, Any]:
    return {"remove": {"tag": "view:cleanup", "field": VIEW, "ignore_missing": True}}
