"""A failure with no cause and no known unit: its hint points at the journal of the minute before
it (of the process, where the line names one), a command that runs, not `journalctl -b -u the unit`;
and read-time linking still takes that preamble off (`shipper.enrich.relink`)."""

from __future__ import annotations

import shlex

import pytest

from helpers.samples import enrich_all, parse_lines
from shipper.enrich import hints
from shipper.enrich.relink import _NO_CAUSE

AT = "2024-03-01T13:00:00.750000Z"
SINCE_UNTIL = ["--since", "2024-03-01 12:59:00 UTC", "--until", "2024-03-01 13:00:01 UTC"]


def _command(hint: str) -> list[str]:
    (command,) = [part for i, part in enumerate(hint.split("`")) if i % 2]
    return shlex.split(command)


@pytest.mark.parametrize(("process", "words"), [
    (None, ["journalctl", *SINCE_UNTIL]),
    ("myapp", ["journalctl", "-t", "myapp", *SINCE_UNTIL]),
    ("systemd", ["journalctl", *SINCE_UNTIL]),  # the manager's lines: the program's are under its own name
    ("my app; reboot", ["journalctl", *SINCE_UNTIL]),  # not a plain word: left out
])
def test_the_hint_gives_a_journalctl_command_for_the_minute_before(process: str | None, words: list[str]) -> None:
    hint = hints.no_cause_hint(None, 600, None, "own.", at=AT, process=process)
    assert hint.startswith("no recognised error from the unit in the last 10 minutes; look at the journal")
    assert "the unit`" not in hint and _command(hint) == words


def test_without_a_time_it_still_says_nothing_false() -> None:
    hint = hints.no_cause_hint(None, 600, None, "own.", process="myapp")
    assert _command(hint) == ["journalctl", "-b", "-t", "myapp"] and "the journal of myapp just before it" in hint


@pytest.mark.parametrize("process", [None, "myapp", "my app. reboot"])
def test_read_time_linking_takes_the_preamble_off(process: str | None) -> None:
    own = "its own hint. With a second sentence."
    text = hints.no_cause_hint(None, 90.0, None, own, at=AT, process=process)
    found = _NO_CAUSE.match(text)
    assert found is not None and text[found.end():] == own


def test_a_failure_naming_no_unit_gets_the_command_of_its_own_time() -> None:
    (doc,) = enrich_all(parse_lines(["Mar  1 13:00:00 app3 systemd[1]: Failed to start My App."], year=2024))
    assert doc["rootcause"]["signature"] == "systemd.start_failed" and "unit" not in doc["rootcause"]
    assert _command(doc["rootcause"]["hint"]) == ["journalctl", "--since", "2024-03-01 12:59:00 UTC",
                                                  "--until", "2024-03-01 13:00:01 UTC"]
