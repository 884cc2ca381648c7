"""The daemon's journal follower over a damaged journal file (a real one, 200 kB of random bytes at
its middle): the entries sd_journal gave without some of their fields are tagged ``damaged``, as a
replay tags them, and the read errors that say "they are tagged damaged" count exactly those (the
follower put no tag on them, so the read errors said something false)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.event import TAG_DAMAGED, TAG_READ_ERROR
from shipper.parse.base import ParseContext
from shipper.parse.journal_fields import JournalParser
from shipper.sources.base import RawChunk
from shipper.sources.journal_entries import incomplete_count
from tests.helpers.follow import drain, follower
from tests.unit.test_journal_damaged_entries_said import entries_of, files  # noqa: F401 - `files` is a fixture

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")


def test_the_follower_tags_the_entries_read_without_some_of_their_fields(files: tuple[Path, Path]) -> None:  # noqa: F811
    intact, damaged = files
    original = entries_of(intact)
    chunks = [c for c in drain(follower(damaged.parent)) if isinstance(c, RawChunk)]
    entries = [(e, TAG_DAMAGED in c.tags.get(i, ())) for c in chunks for i, e in enumerate(c.items)
               if TAG_READ_ERROR not in c.tags.get(i, ())]
    errors = [str(e["MESSAGE"]) for c in chunks for i, e in enumerate(c.items) if TAG_READ_ERROR in c.tags.get(i, ())]
    tagged = [e for e, damaged_entry in entries if damaged_entry]
    assert len(tagged) > 30
    assert sum(map(incomplete_count, errors)) == len(tagged)
    for entry, damaged_entry in entries:  # tagged: fewer fields than the intact file's entry; else all of them
        lost = set(original[str(entry["__CURSOR"])]) - set(entry)
        assert bool(lost) == damaged_entry, entry["__CURSOR"]
    docs = [d for c in chunks for d in JournalParser(c.origin, ParseContext("UTC")).parse(c)]
    assert sum(TAG_DAMAGED in d.get("tags", ()) for d in docs) == len(tagged)
