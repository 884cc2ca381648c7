"""Checkpoints never point after a line whose twins may follow: resuming gives every event the id
it had before.

Two identical lines in one second get different ids (occurrence #0 and #1), also when other
seconds come between them (`IdAssigner` keeps the counts of the latest seconds). If a restart
resumed between them, the second line would be numbered #0 again, taken for the first, and lost.
These tests stop a stream after every possible line, restart from the checkpoint, and check that
the ids after the restart are exactly those of an uninterrupted read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.config.loader import Duration
from shipper.config.model import FileInput
from shipper.daemon.streams import Stream
from shipper.ids import KEEP_SECONDS
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.sources.base import Origin, RawChunk
from shipper.sources.live import JournalMark, TextMark
from shipper.sources.tail import FileFollower

CTX = ParseContext(timezone="UTC", year=2017)


def line(second: int, message: str) -> str:
    return f"Aug 30 14:{55 + second // 60}:{second % 60:02d} gorp sendmail[24097]: {message}"


LINES = [
    line(6, "starting"),
    line(7, "same"),
    line(7, "same"),
    line(7, "other"),
    line(7, "same"),
    line(8, "same"),
    line(8, "same"),
    line(7, "same"),  # second 07 comes back (another writer): its fourth "same"
    line(9, "x"),
    line(8, "same"),
    *[line(10 + i, "tick") for i in range(KEEP_SECONDS)],  # 06 to 09 are no longer counted
    line(30, "same"),
    line(29, "same"),
    line(30, "same"),
    line(29, "same"),
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
    assert set(before) | set(after) == set(expected)  # no line lost, none stored twice
    assert after[len(after) - (len(LINES) - stop_after):] == expected[stop_after:]  # the new lines' ids


def test_journal_checkpoint_is_before_the_oldest_second_counted() -> None:
    origin = Origin("journal-t", "journal")
    stream = Stream(make_parser(origin, CTX))
    start = JournalMark("c0", "2017-08-30T14:55:05.000000Z")

    def take(*seconds: int) -> object | None:
        entries = [{"MESSAGE": "same", "_HOSTNAME": "gorp", "SYSLOG_IDENTIFIER": "x", "_PID": "1",
                    "__CURSOR": f"c{second}", "__REALTIME_TIMESTAMP": str((1_504_104_900 + second) * 1_000_000),
                    "_BOOT_ID": "b"} for second in seconds]
        return stream.take(RawChunk(origin, "fields", entries, checkpoint=start))[1]

    assert take(6, 7) == start  # resume before c6: second 06 is counted, a twin of c6 may come
    assert take(8, 6) == start
    assert take(*range(9, 9 + KEEP_SECONDS - 3)) == start  # 06 and 15 others: all counted
    # more: 07 is forgotten, then 08, then 06 (seen again later than they); 09 is the oldest
    assert take(30, 31) == start
    assert take(32) == JournalMark("c6", "2017-08-30T14:55:06.000000Z")  # after the c6 before c9
