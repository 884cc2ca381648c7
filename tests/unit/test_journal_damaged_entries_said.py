"""A journal file damaged in the middle (200 kB of random bytes over a real file of 2,648 entries):
sd_journal passes over what it cannot read without a word, so a replay shipped fewer entries, and
entries without some of their fields (an empty message), as if all were well. Now the entries read
without some of their fields are tagged ``damaged`` (checked against the hash in their cursor), and
read errors say how many, and how many entries of the file could not be read; the same with workers."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import orjson
import pytest
import zstandard

from shipper.event import TAG_DAMAGED
from shipper.sources.journal_entries import journal_module, read_entries
from tests.unit.test_parallel_replay import journal_in_parallel, journal_one_process

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")

ORIGINAL = (Path(__file__).resolve().parents[1]
            / "data/corpus/real/systemd/no-rtc/system@0005ebbfd42fc981-39a8842ec948769a.journal~.zst")
ENTRIES = 2648  # its header's n_entries, all read from the intact file


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The intact file, and a copy with 200 kB of random bytes at its middle (in a directory of its own)."""
    work = tmp_path_factory.mktemp("damaged")
    intact = work / "intact.journal~"
    with ORIGINAL.open("rb") as src, intact.open("wb") as dst:
        zstandard.ZstdDecompressor().copy_stream(src, dst)
    (work / "d").mkdir()
    damaged = work / "d" / "dmg.journal~"
    shutil.copy(intact, damaged)
    with damaged.open("r+b") as f:
        f.seek(damaged.stat().st_size // 2)
        f.write(random.Random(7).randbytes(200_000))
    return intact, damaged


def entries_of(path: Path) -> dict[str, dict[str, object]]:
    reader = journal_module()._Reader(0, None, [str(path)])
    try:
        reader.seek_head()
        return {str(e["__CURSOR"]): dict(e) for items, _ in read_entries(reader, []) for e in items}
    finally:
        reader.close()


def test_a_damaged_journal_file_is_said_and_its_incomplete_entries_are_tagged(files: tuple[Path, Path]) -> None:
    intact, damaged = files
    original = entries_of(intact)
    assert len(original) == ENTRIES
    one, _ = journal_one_process(damaged.parent)
    docs = [orjson.loads(line) for line in one.splitlines()]
    errors = [d["message"] for d in docs if "read_error" in d.get("tags", ())]
    entries = [d for d in docs if "read_error" not in d.get("tags", ())]
    tagged = [d for d in entries if TAG_DAMAGED in d.get("tags", ())]
    whole = [d for d in entries if TAG_DAMAGED not in d.get("tags", ())]
    assert 2000 < len(entries) < ENTRIES  # (the damage was met)
    for doc in whole:  # an entry not tagged is the intact file's, to the letter
        assert doc["message"] == original[doc["journald"]["cursor"]].get("MESSAGE")
    assert any(doc["message"] == "" and original[doc["journald"]["cursor"]].get("MESSAGE") for doc in tagged)
    assert len(tagged) > 30
    assert errors == [
        f"shipper: {len(tagged)} journal entries were read without some of their fields (data objects of a damaged "
        f"journal file, which sd_journal passed over): they are tagged {TAG_DAMAGED}; journalctl --verify --file FILE "
        "says which file is damaged",
        f"shipper: {ENTRIES - len(entries)} of the {ENTRIES} entries of the journal file {damaged} (as its header gives "
        f"them) could not be read: it is damaged; journalctl --verify --file {damaged} says where",
    ]


def test_a_damaged_journal_file_gives_the_same_with_workers(files: tuple[Path, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from shipper.parallel import replay as parallel_replay  # noqa: PLC0415

    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", 300)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)
    _, damaged = files
    one, _ = journal_one_process(damaged.parent)
    parallel, summary = journal_in_parallel(damaged.parent)
    assert parallel == one
    assert summary.counters["read_errors"] == 2
