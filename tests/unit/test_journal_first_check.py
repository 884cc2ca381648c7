"""The C reader checks each entry's fields against the hash in its cursor in two steps
(_journalhash.h): first with the hashes of the fields already met in the same `pack` call, by the
address sd_journal gave them at; only an entry found different is hashed again field by field. The
first step must not let a damaged entry pass: a field damaged in place in a copy of a file, read
after the intact file (its mapping may land at the same address), and a field given twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shipper.sources.journal_entries import journal_module, native_reader, read_entries, read_in_python
from tests.helpers.journal import export_entry, make_journal

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if native_reader() is None:
    pytest.skip("the C reader was not built", allow_module_level=True)

SHARED = b"SYSLOG_IDENTIFIER=toolbox"  # a data object every entry shares


def incomplete(path: Path, read: object = read_entries) -> list[int]:
    """The places of the entries read without some of their fields (or with other bytes)."""
    reader = journal_module()._Reader(0, None, [str(path)])
    try:
        reader.seek_head()
        return [n for items, _ in read(reader, [], chunk=1000) for n in items.incomplete]  # type: ignore[operator]
    finally:
        reader.close()


def test_a_field_damaged_in_place_is_found_after_the_intact_file_was_read(tmp_path: Path) -> None:
    intact = make_journal(tmp_path / "a", b"".join(
        export_entry({"MESSAGE": f"m{i}", "SYSLOG_IDENTIFIER": "toolbox"}, seq=i) for i in range(50)))
    damaged = tmp_path / "b" / "test.journal"
    damaged.parent.mkdir()
    shutil.copy(intact, damaged)
    data = damaged.read_bytes()
    assert data.count(SHARED) == 1
    damaged.write_bytes(data.replace(SHARED, b"SYSLOG_IDENTIFIER=toolbux"))
    for _ in range(3):
        assert incomplete(intact) == []
        assert incomplete(damaged) == list(range(50)) == incomplete(damaged, read_in_python)


def test_a_field_given_twice_is_not_taken_for_damage(tmp_path: Path) -> None:
    export = b"".join(export_entry({"MESSAGE": f"m{i}", "SYSLOG_IDENTIFIER": "toolbox"}, seq=i)[:-1] + b"TAG=a\nTAG=a\n\n"
                      for i in range(20))
    path = make_journal(tmp_path, export)
    assert incomplete(path) == [] == incomplete(path, read_in_python)
