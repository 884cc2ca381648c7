"""The journal lane finds an entry's fields by a hash of their names that reads only each name's
first and last eight bytes (`name_hash`, shipper/parallel/_express_journal.c): names that differ
only in between hash alike, and must still be told apart, by comparing them. Here, names made
to collide with journal_doc's fields and with each other: the lane takes the entries and writes
what the Python path writes, byte for byte; a name given twice is still the Python path's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.express import needs_lane
from tests.unit.test_express_journal import BASE, entry, journal_of, same_with_and_without

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")

# Each pair: the same length, the same first and last eight bytes.
COLLIDING = [
    ("_SYSTEMD_INVOCATION_ID", "_SYSTEMD_XXVOCATION_ID"),  # journal_doc reads the first (systemd.invocation_id)
    ("_SYSTEMD_USER_UNIT", "_SYSTEMD_XSER_UNIT"),  # and this one (systemd.user_unit)
    ("CUSTOM_AAAA_1_SUFFIXES", "CUSTOM_AAAA_2_SUFFIXES"),  # neither: both go to journald.custom
    ("SYSLOG_IDENTIFIER", "SYSLOG_IDXNTIFIER"),  # (17 bytes: the halves overlap)
]


def _cases() -> list[tuple[dict[str, str | bytes], tuple[str, str] | None]]:
    cases: list[tuple[dict[str, str | bytes], tuple[str, str] | None]] = []
    for known, other in COLLIDING:
        cases += [({**BASE, known: "k", other: "o"}, None), ({**BASE, other: "o"}, None), ({**BASE, known: "k"}, None)]
    return cases


@needs_lane
def test_names_that_hash_alike_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = _cases()
    entries = [entry(fields, n) for n, (fields, _) in enumerate(cases)]
    taken = same_with_and_without(monkeypatch, journal_of(tmp_path / "apart", entries), (4, 100))
    assert taken == len(entries), f"the lane took {taken} of {len(entries)} entries"


@needs_lane
def test_a_colliding_name_twice_is_the_python_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A field twice is a list in the Python path's dict, which the lane leaves to it; a name that
    # only hashes like another one is not that.
    entries = [entry({**BASE, "CUSTOM_AAAA_1_SUFFIXES": "a"}, 0, ("CUSTOM_AAAA_1_SUFFIXES", "b")),
               entry({**BASE, "CUSTOM_AAAA_1_SUFFIXES": "a"}, 1, ("CUSTOM_AAAA_2_SUFFIXES", "b")),
               entry(BASE, 2)]
    taken = same_with_and_without(monkeypatch, journal_of(tmp_path / "twice", entries), (100,))
    assert taken == 2, f"the lane took {taken} of 3 entries, the first of which has a field twice"
