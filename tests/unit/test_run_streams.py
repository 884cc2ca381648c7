"""Checkpoints never point into a second: resuming gives every event the id it had before.

Two identical lines in one second get different ids (occurrence #0 and #1). If a restart resumed
between them, the second line would be numbered #0 again, taken for the first, and lost. These
tests stop a stream after every possible line, restart from the checkpoint, and check that the
ids after the restart are exactly those of an uninterrupted read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.config.loader import Duration
from shipper.config.model import FileInput
from shipper.daemon.streams import Stream
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.sources.base import Origin, RawChunk
from shipper.sources.live import JournalMark, TextMark
from shipper.sources.tail import FileFollower

CTX = ParseContext(timezone="UTC", year=2017)
LINES = [
    "Aug 30 14:55:06 gorp sendmail[24097]: starting",
    "Aug 30 14:55:07 gorp sendmail[24097]: same",
    "Aug 30 14:55:07 gorp sendmail[24097]: same",
    "Aug 30 14:55:07 gorp sendmail[24097]: other",
    "Aug 30 14:55:07 gorp sendmail[24097]: same",
    "Aug 30 14:55:08 gorp sendmail[24097]: same",
    "Aug 30 14:55:08 gorp sendmail[24097]: same",
]


def follower(path: Path, now: list[float]) -> FileFollower:
    cfg = FileInput(type="file", paths=[str(path)], flush_after=Duration(1), scan_interval=Duration(0.1))
    return FileFollower(cfg, "file-t", max_line_bytes=65536, log=print, clock=lambda: now[0])


def read(f: FileFollower, stream: Stream | None, now: list[float]) -> tuple[list[str], object | None, Stream | None]:
    """Ids of everything readable now (held records flushed), and the last checkpoint."""
    ids: list[str] = []
    checkpoint = None
    for _ in range(4):
        now[0] += 1.0
        for item in f.poll(now[0]):
            if isinstance(item, RawChunk):
                stream = stream or Stream(make_parser(item.origin, CTX))
                docs, cp = stream.take(item)
            elif stream is not None:
                docs, cp = stream.flush(None, journal=False)
            else:
                continue
            ids += [d["event"]["id"] for d in docs]
            checkpoint = cp or checkpoint
    return ids, checkpoint, stream


@pytest.mark.parametrize("stop_after", range(1, len(LINES)))
def test_resuming_after_any_line_gives_the_same_ids(tmp_path: Path, stop_after: int) -> None:
    whole = tmp_path / "whole.log"
    whole.write_text("\n".join(LINES) + "\n")
    now = [1_700_000_000.0]
    expected, _, _ = read(follower(whole, now), None, now)
    assert len(set(expected)) == len(LINES)

    log = tmp_path / "messages"
    log.write_text("\n".join(LINES[:stop_after]) + "\n")
    f = follower(log, now)
    f.open(None)
    before, checkpoint, _ = read(f, None, now)
    assert isinstance(checkpoint, TextMark)
    sid = f"file-t/{f.state()['files'][0]['key']}"
    f.commit(sid, checkpoint)  # acknowledged; then shipper stops
    saved = f.state()
    f.close()
    with open(log, "a") as out:
        out.write("\n".join(LINES[stop_after:]) + "\n")
    f2 = follower(log, now)
    f2.open(saved)
    after, _, _ = read(f2, None, now)
    assert set(before) | set(after) == set(expected)  # no line lost
    assert after == expected[len(expected) - len(after):]  # the re-read part has its old ids


def test_journal_checkpoint_is_the_entry_before_the_seconds_run() -> None:
    origin = Origin("journal-t", "journal")
    stream = Stream(make_parser(origin, CTX))
    start = JournalMark("c0", "2017-08-30T14:55:05.000000Z")

    def entry(cursor: str, second: int) -> dict[str, str]:
        return {"MESSAGE": "same", "_HOSTNAME": "gorp", "SYSLOG_IDENTIFIER": "x", "_PID": "1", "__CURSOR": cursor,
                "__REALTIME_TIMESTAMP": str((1_504_104_900 + second) * 1_000_000), "_BOOT_ID": "b"}

    _, cp = stream.take(RawChunk(origin, "fields", [entry("c1", 6), entry("c2", 7)], checkpoint=start))
    assert cp == JournalMark("c1", "2017-08-30T14:55:06.000000Z")  # resume after c1: c2 opens second 07
    _, cp = stream.take(RawChunk(origin, "fields", [entry("c3", 7)], checkpoint=start))
    assert cp == JournalMark("c1", "2017-08-30T14:55:06.000000Z")  # still inside second 07
    _, cp = stream.take(RawChunk(origin, "fields", [entry("c4", 8)], checkpoint=start))
    assert cp == JournalMark("c3", "2017-08-30T14:55:07.000000Z")
