"""What journalctl's text modes put in a syslog header that other writers do not.

* ``-o short-full`` (and ``with-unit``, which prints its stamps so) ends the stamp with the zone's
  abbreviation (``Mon 2022-10-24 00:00:53 EDT``). `zone_word_offset` reads it only when it is an
  abbreviation of the parse context's zone (``parse.timezone``, ``--timezone``) at that date,
  standard or daylight: then its offset decides, which also tells the two passes of a repeated
  hour apart (``01:30 EDT`` and ``01:30 EST``). Anything else (``EDT`` read with zone UTC, ``CST``,
  which names zones of three continents) is never guessed at: the stamp is read in the context's
  zone and the event tagged `shipper.event.TAG_TIMESTAMP_ZONE_IGNORED`.
* ``-o with-unit`` writes the sender's unit instead of its identifier: ``sendmail.service[123]``,
  ``init.scope[1]``, ``user@1000.service/init.scope[1234]`` (a user unit after its manager's
  unit). `unit_ident` reads such a tag as ``systemd.unit`` / ``systemd.user_unit``, as a journal
  entry's ``_SYSTEMD_UNIT`` / ``_SYSTEMD_USER_UNIT`` are (shipper/parse/journal_fields.py). The
  process name is not in the line then, and is not guessed from the unit (``polkit.service`` runs
  ``polkitd``); only ``init.scope`` tells it: that scope holds the service manager alone (PID 1,
  or a user's ``systemd --user``), whose identifier is ``systemd`` (`add_unit`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from shipper.recognise.units import UNIT_TYPES, is_unit_name

# The stamp's zone word is not one of the context's zone at that date: read in the context's zone.
UNIT_SUFFIXES = tuple("." + t for t in UNIT_TYPES)
_MANAGER_SCOPE = "init.scope"


def zone_word_offset(zone: tzinfo, word: str, y: int, mo: int, d: int, h: int, mi: int) -> timedelta | None:
    """The offset ``word`` (a zone abbreviation) stands for in ``zone`` at that local time: the
    zone's offset at that time (either pass of a repeated hour) or, failing that, in that year's
    winter or summer, if its abbreviation is ``word`` there; None if it is not, or if it is with
    two different offsets."""
    try:
        times = [datetime(y, mo, d, h, mi, fold=f) for f in (0, 1)]
        times += [datetime(y, 1, 15, 12), datetime(y, 7, 15, 12)]
    except ValueError:
        return None
    offsets = {off for t in times for off in [_offset_named(zone, t, word)] if off is not None}
    return offsets.pop() if len(offsets) == 1 else None


def _offset_named(zone: tzinfo, naive: datetime, word: str) -> timedelta | None:
    local = naive.replace(tzinfo=zone)
    return local.utcoffset() if local.tzname() == word else None


def unit_ident(tag: str) -> tuple[str, str | None] | None:
    """``(unit, user_unit)`` for a tag that ``journalctl -o with-unit`` wrote (``unit`` or
    ``unit/user_unit``, each a valid unit name); None for any other tag."""
    if not tag.endswith(UNIT_SUFFIXES):
        return None
    unit, sep, user_unit = tag.partition("/")
    if not is_unit_name(unit) or (sep and not is_unit_name(user_unit)):
        return None
    return unit, user_unit or None


def add_unit(doc: dict[str, Any], unit: str, user_unit: str | None, pid: str | None) -> None:
    """Set ``systemd.*`` and ``process.*`` of a document whose tag was ``unit[/user_unit]``. The
    service manager's own scope is not set as the unit: the manager speaks about other units (its
    journal entries carry ``UNIT=`` / ``USER_UNIT=`` for them, which this mode does not show, and
    its text names them), not about the scope it runs in; nor is a user manager's own unit
    (``user@1000.service/init.scope``): its lines are about the user's units (``app.service: Failed
    ...``), which recognition reads from the text, and its PID (not 1) tells it is a user manager."""
    process: dict[str, Any] = {}
    manager = (user_unit or unit) == _MANAGER_SCOPE
    if manager:
        process["name"] = "systemd"
    if pid:
        process["pid"] = int(pid)
    if process:
        doc["process"] = process
    if not manager:
        doc["systemd"] = {"unit": unit, "user_unit": user_unit} if user_unit else {"unit": unit}
