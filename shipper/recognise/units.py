"""What a systemd unit name may be: the one check for every unit shipper reads from a log.

A unit name from a log line (``UNIT: Failed with result ...``, ``● UNIT - ...``) or from a journal
field (``UNIT=``, ``USER_UNIT=``, which any local user can set with ``sd_journal_send``) ends up in
the commands shipper suggests (``journalctl -b -u UNIT``, ``systemctl restart UNIT``). So a text is
taken as a unit only if systemd could have written it — systemd.unit(5) and ``unit_name_is_valid()``:

* a name prefix, a dot and a unit type suffix (``service``, ``socket``, ... — `UNIT_TYPES`);
* the prefix made of ASCII letters, digits and ``:-_.\\`` (escaped names use ``\\xNN``), and ``@``
  but not first (``getty@tty1.service``, the template ``getty@.service``);
* at most `UNIT_NAME_MAX` (255) characters.

One rule more than systemd's: the prefix does not start with ``-`` unless it is ``-`` alone (the
root mount and slice, ``-.mount``, ``-.slice``). A name such as ``-Hhost.service`` would be read as
options by ``systemctl``; ``-.mount`` is refused by getopt (no option ``.``), harmlessly.

`UNIT_REGEX` is that rule as a regex (Python and Joni); the signature files write every
``(?P<unit>...)`` group with it (after ``(?:^|\\s)`` or a literal word, so that a valid name is not
cut out of the end of a longer text). It has no length bound: `is_unit_name` checks the length, and
the matcher applies it to every unit a signature reads (`shipper.recognise.matcher`).
"""

from __future__ import annotations

import re
import string

UNIT_TYPES = ("service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope")
UNIT_NAME_MAX = 255
# Written out (not built from UNIT_TYPES) so that the signature files can be checked against it.
UNIT_REGEX = (
    r"(?:-|[A-Za-z0-9:_.\\][A-Za-z0-9:_.\\@-]*)"
    r"\.(?:service|socket|target|device|mount|automount|swap|timer|path|slice|scope)"
)
# UNIT_REGEX's two character classes (the first character of the prefix, the others), for a check
# that runs no regex (the Elasticsearch recognition pipeline's hint script).
UNIT_FIRST_CHARS = string.ascii_letters + string.digits + ":_.\\"
UNIT_CHARS = UNIT_FIRST_CHARS + "@-"
# Variables that name a unit: a value that is not a unit name is dropped (`Matcher`).
UNIT_VARS = frozenset({"unit"})

_UNIT = re.compile(UNIT_REGEX)


def is_unit_name(value: object) -> bool:
    """Whether ``value`` is a text systemd could have written as a unit name (see the module doc)."""
    return isinstance(value, str) and len(value) <= UNIT_NAME_MAX and _UNIT.fullmatch(value) is not None
