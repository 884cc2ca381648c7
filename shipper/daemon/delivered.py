"""How far the output acknowledged each stream, kept beside each input's checkpoint.

A checkpoint resumes reading before what was shipped (`shipper.daemon.streams`: the lines read
again rebuild the ids' counts); the acknowledged position (``shipped`` of the `TextMark` or
`JournalMark` the output released: a text offset, a journal cursor) says which of the lines read
again are not to be shipped again. It is saved under `KEY` in the input's checkpoint file, with
the follower's state of the same acknowledgement, in one atomic write: after a crash both are
those of one moment, and only what is before the position is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipper.sources.live import JournalMark, TextMark

KEY = "delivered"
Position = int | str  # a text offset, a journal cursor


class Delivered:
    def __init__(self) -> None:
        self._inputs: dict[str, dict[str, Position]] = {}  # input key -> source id -> position
        self._abandoned: set[str] = set()  # source ids whose data is gone (`End` without a checkpoint)

    def load(self, key: str, saved: dict[str, Any] | None) -> None:
        """Take input ``key``'s positions out of its saved checkpoint (the rest is the follower's)."""
        positions = saved.pop(KEY, None) if saved is not None else None
        self._inputs[key] = {
            str(sid): pos for sid, pos in positions.items() if isinstance(pos, (int, str)) and not isinstance(pos, bool)
        } if isinstance(positions, Mapping) else {}

    def of(self, key: str, sid: str) -> Position | None:
        return self._inputs[key].get(sid)

    def acknowledged(self, key: str, sid: str, checkpoint: object) -> None:
        """The output acknowledged everything of ``sid`` up to ``checkpoint``."""
        positions = self._inputs[key]
        if isinstance(checkpoint, TextMark) and checkpoint.done:
            positions.pop(sid, None)  # nothing more will be read
        elif isinstance(checkpoint, (TextMark, JournalMark)) and checkpoint.shipped is not None:
            if sid not in self._abandoned:
                positions[sid] = checkpoint.shipped

    def abandon(self, key: str, sid: str) -> bool:
        """``sid``'s data is gone: forget it (True if a position was kept)."""
        self._abandoned.add(sid)
        return self._inputs[key].pop(sid, None) is not None

    def saved(self, key: str, state: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint to save: the follower's ``state`` and the positions."""
        return {**state, KEY: dict(self._inputs[key])}
