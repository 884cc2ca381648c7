"""Driving a `JournalFollower` as the daemon does: polls, commits, a restart from its saved state."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from shipper.config.model import JournalInput
from shipper.sources.base import RawChunk
from shipper.sources.follow import JournalFollower
from shipper.sources.live import JournalMark, Polled

KEY = "journal-t"
_STATE_AT, _ARCHIVED = 16, 2  # journal-def.h: the header's state byte, and its value for an archived file


def follower(path: Path, logs: list[str] | None = None, **settings: Any) -> JournalFollower:
    cfg = JournalInput(type="journal", path=path, **settings)
    return JournalFollower(cfg, KEY, log=(logs if logs is not None else []).append)


def drain(f: JournalFollower) -> list[Polled]:
    """Poll until a poll gives nothing."""
    out: list[Polled] = []
    while got := f.poll(0.0):
        out += got
    return out


def messages(items: list[Polled]) -> list[str]:
    return [e.get("MESSAGE") for i in items if isinstance(i, RawChunk) for e in i.items]


def commit_read(f: JournalFollower, items: list[Polled]) -> None:
    """The output acknowledged everything in ``items``: each stream's last entry is committed."""
    last: dict[str, str] = {}
    for chunk in items:
        if isinstance(chunk, RawChunk):
            last[chunk.origin.source_id] = chunk.items[-1]["__CURSOR"]
    for sid, cursor in last.items():
        f.commit(sid, JournalMark(cursor, None, shipped=cursor))


def restarted(
    f: JournalFollower, path: Path, logs: list[str] | None = None, **settings: Any
) -> tuple[JournalFollower, list[Polled]]:
    """``f`` stopped (its state saved), and a new follower opened from that state; what it opened with."""
    saved = f.state()
    f.close()
    again = follower(path, logs, **settings)
    return again, again.open(saved)


def archive(path: Path) -> Path:
    """Rotate ``path`` as journald does: mark it archived in its header and rename it."""
    with open(path, "r+b") as f:
        f.seek(_STATE_AT)
        f.write(bytes([_ARCHIVED]))
    target = path.with_name(f"{path.stem}@{uuid.uuid4().hex}-0000000000000001-0000000000000001.journal")
    path.rename(target)
    return target
