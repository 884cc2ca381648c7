"""The system manager (``systemd[1]``) and a user manager (``systemd[1562]``) each have a
``foo.service``: two units. A user manager's PID kept its events apart from other user managers',
but PID 1's events fitted any manager: the two units' failures made one incident, and the user
unit's start ended the system unit's incident ("since it started again"; found by a tester)."""

from __future__ import annotations

from tests.helpers.samples import enrich_all, parse_lines

LOG = """\
Nov 28 08:00:00 gorp systemd[1]: foo.service: Main process exited, code=exited, status=1/FAILURE
Nov 28 08:00:00 gorp systemd[1]: foo.service: Failed with result 'exit-code'.
Nov 28 08:01:00 gorp systemd[1562]: foo.service: Main process exited, code=exited, status=1/FAILURE
Nov 28 08:01:00 gorp systemd[1562]: foo.service: Failed with result 'exit-code'.
Nov 28 08:02:00 gorp systemd[1562]: Started foo.service - Foo.
Nov 28 08:03:00 gorp systemd[1]: foo.service: Main process exited, code=exited, status=1/FAILURE
Nov 28 08:03:00 gorp systemd[1]: foo.service: Failed with result 'exit-code'.
"""


def test_the_system_and_a_user_manager_s_units_of_one_name_are_apart() -> None:
    docs = enrich_all(parse_lines(LOG.splitlines(), "syslog", year=2026))
    incidents = [d["rootcause"].get("incident") for d in docs]
    system, user, start, later = incidents[0], incidents[2], incidents[4], incidents[5]
    assert incidents[1] == system and incidents[3] == user and incidents[6] == later
    assert system != user and start == user  # the user manager's start ends its own unit's incident
    assert later not in (user, None)  # PID 1's unit failed again: not the user unit's incident
    assert all("started again" not in d["rootcause"]["hint"] for d in docs[5:])
