"""A journal file that cannot be read gave a read_error event dated 1970-01-01 (an item without
``__REALTIME_TIMESTAMP`` took the parser's first fallback, and a journal input had none). Ids hold
the time, so it must not be the replay's clock either: the event takes the time of the last entry
read before it, else the first entry the file's header gives, else the file's mtime; tagged
``timestamp_inferred`` all the same. In a replay (one process and workers) and in the follower."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from shipper.event import TAG_READ_ERROR, TAG_TIMESTAMP_INFERRED
from shipper.parse.base import ParseContext
from shipper.parse.journal_fields import JournalParser
from shipper.sources.base import RawChunk
from tests.helpers.follow import drain, follower
from tests.helpers.journal import export_entry, make_journal
from tests.unit.test_parallel_replay import journal_in_parallel, journal_one_process

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")

FIRST = "2017-08-30T14:55:47.000000Z"  # export_entry's time of seq 0
_INCOMPATIBLE_FLAGS_AT = 12  # journal-def.h: a flag sd_journal does not know makes it refuse the file


def unreadable(directory: Path, first_seq: int, name: str = "bad") -> Path:
    """A real journal file (entries from ``first_seq`` on) that sd_journal refuses to open."""
    path = make_journal(directory, b"".join(export_entry({"MESSAGE": f"m{i}"}, seq=i)
                                            for i in range(first_seq, first_seq + 3)), name)
    with path.open("r+b") as f:
        f.seek(_INCOMPATIBLE_FLAGS_AT)
        f.write((1 << 20).to_bytes(4, "little"))
    return path


def replayed(path: Path) -> list[list[dict[str, object]]]:
    """The documents of a replay of ``path``, in one process and with workers."""
    return [[orjson.loads(line) for line in out.splitlines()]
            for out, _ in (journal_one_process(path), journal_in_parallel(path))]


def read_errors(docs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [d for d in docs if TAG_READ_ERROR in d.get("tags", ())]  # type: ignore[operator]


def test_a_journal_file_that_cannot_be_opened_is_dated_by_its_header(tmp_path: Path) -> None:
    unreadable(tmp_path / "j", 0)
    for docs in replayed(tmp_path / "j"):
        (error,) = docs
        assert "cannot open journal file" in str(error["message"])
        assert error["@timestamp"] == FIRST
        assert TAG_TIMESTAMP_INFERRED in error["tags"]  # type: ignore[operator]


def test_a_journal_file_without_times_in_its_header_is_dated_by_its_mtime(tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    path = tmp_path / "j" / "zeros.journal"
    path.write_bytes(b"LPKSHHRH" + bytes(300))  # a journal file's signature, then nothing
    os.utime(path, (1_600_000_000.25, 1_600_000_000.25))
    for docs in replayed(tmp_path / "j"):
        (error,) = docs
        assert error["@timestamp"] == "2020-09-13T12:26:40.250000Z"
        assert TAG_TIMESTAMP_INFERRED in error["tags"]  # type: ignore[operator]


def test_after_entries_were_read_a_read_error_takes_the_last_ones_time(tmp_path: Path) -> None:
    make_journal(tmp_path / "j", b"".join(export_entry({"MESSAGE": f"ok{i}"}, seq=i) for i in range(100, 105)), "good")
    unreadable(tmp_path / "j", 0)
    for docs in replayed(tmp_path / "j"):
        (error,) = read_errors(docs)
        assert docs[-1] is error and len(docs) == 6
        assert error["@timestamp"] == docs[-2]["@timestamp"] == "2017-08-30T14:57:31.000000Z"  # seq 104


def test_the_follower_dates_a_file_it_cannot_open_by_its_header(tmp_path: Path) -> None:
    unreadable(tmp_path / "j", 5)
    chunks = [c for c in drain(follower(tmp_path / "j")) if isinstance(c, RawChunk)]
    (chunk,) = chunks
    (doc,) = JournalParser(chunk.origin, ParseContext("UTC")).parse(chunk)
    assert "cannot read the journal file" in doc["message"]
    assert doc["@timestamp"] == "2017-08-30T14:55:52.000000Z"  # seq 5, the file's first entry
    assert TAG_TIMESTAMP_INFERRED in doc["tags"] and TAG_READ_ERROR in doc["tags"]
