"""Pacing the inputs of a session against each other (`shipper.daemon.session`).

A batch with failures or causes waits until no input can still give an earlier event
(`shipper.enrich.order`); `Pacing.watermark` is that bound. An input that is read far ahead of
another one catching up with a backlog would make such batches pile up: at a first start, a
megabyte of maillog can be a week. So an input read `AHEAD` (in @timestamp) of another one
catching up is not read further until the other catches up, for at most ``max_wait`` seconds
(`Pacing.ahead`). Inputs that keep up do not hold others back, whatever their clocks say.

Reading also waits for the output (`output_behind`), asked before each input's poll: what goes
past the memory queue and the disk buffer is then one poll's read, not one per input. The next turn
begins with the input the last one stopped before (`Pacing.in_turn`), so that each gets its turn.
"""

from __future__ import annotations

import math
from typing import Mapping, Protocol

from shipper.daemon.courier import Courier
from shipper.daemon.outbox import Outbox
from shipper.enrich.order import stamp
from shipper.event import Doc
from shipper.sources.follow import POLL_ENTRIES
from shipper.sources.live import Follower

AHEAD = 60.0


class Started(Protocol):
    """A source's pending batch, as far as pacing is concerned."""

    @property
    def first(self) -> float:
        """The @timestamp (seconds) of its first document; infinity when it has none."""


class Pacing:
    """Which input waits this turn, and the watermark for linking. ``owner`` (source id ->
    follower) and ``pending`` (source id -> its pending batch) are the session's own, read as they
    change."""

    def __init__(self, owner: Mapping[str, Follower], pending: Mapping[str, Started], max_wait: float) -> None:
        self._owner = owner
        self._pending = pending
        self._max_wait = max_wait
        self._frontier: dict[str, float] = {}  # source id -> @timestamp of its last document read
        self._busy: set[str] = set()  # the source ids their follower's last poll read documents from
        self._held: dict[str, float] = {}  # follower key -> since when it is not read (ahead of the others)
        self._catching_up: set[str] = set()  # keys of the followers whose last poll left a backlog
        self._next: str | None = None  # key of the follower the next turn begins with (None: the first)
        self._unpolled: set[str] | None = None  # keys of the followers not polled yet (None: before the first turn)

    def in_turn(self, followers: list[Follower]) -> list[Follower]:
        """``followers`` in the order this turn polls them: from the one the last turn stopped before."""
        keys = [f.key for f in followers]
        if self._unpolled is None:
            self._unpolled = set(keys)
        first = keys.index(self._next) if self._next in keys else 0
        self._next = None
        return followers[first:] + followers[:first]

    def stopped_before(self, follower: Follower) -> None:
        """This turn's reading stopped before ``follower`` (`output_behind`): the next begins with it."""
        self._next = follower.key

    def polling(self, follower: Follower) -> None:
        """``follower`` is polled now: what its sources read before is no longer this poll's."""
        self._busy.difference_update([sid for sid in self._busy if self._owner.get(sid) is follower])

    def read(self, sid: str, docs: list[Doc]) -> None:
        """Documents read from source ``sid`` (shipped or read again)."""
        last = stamp(docs[-1]) if docs else None
        if last is not None:
            self._busy.add(sid)
            self._frontier[sid] = last

    def polled(self, follower: Follower, read: int) -> None:
        """Whether ``follower`` is catching up: it knows of bytes still to read, or (a journal,
        which cannot tell) its poll of ``read`` entries was full."""
        if self._unpolled is not None:
            self._unpolled.discard(follower.key)
        backlog = follower.backlog()
        if (backlog > 0) if backlog is not None else read >= POLL_ENTRIES:
            self._catching_up.add(follower.key)
        else:
            self._catching_up.discard(follower.key)

    def ended(self, sid: str) -> None:
        """Source ``sid`` gives nothing more."""
        self._frontier.pop(sid, None)
        self._busy.discard(sid)

    def watermark(self) -> float:
        """The least @timestamp an input may still give: the first pending document's of each
        source, and the last read of each source still catching up (an input that keeps up with
        its file gives what comes next, whatever its clock says). Minus infinity while an input was
        not polled yet (reading waited for the output before its turn): it may give anything."""
        if self._unpolled:
            return -math.inf
        bounds = [p.first for p in self._pending.values()]
        bounds += [self._frontier[sid] for sid in self._busy if self._catching(sid)]
        return min(bounds, default=math.inf)

    def ahead(self, follower: Follower, mono: float) -> bool:
        """Whether ``follower`` waits this turn: what it last read is `AHEAD` past what another
        input catching up has reached (and it has not waited ``max_wait`` yet)."""
        if not self._catching_up - {follower.key}:  # the usual turn: nobody else is behind
            self._held.pop(follower.key, None)
            return False
        mine = [self._frontier[sid] for sid in self._busy if self._owner.get(sid) is follower]
        behind = [sid for sid, owner in self._owner.items() if owner is not follower and self._catching(sid)]
        others = [self._frontier[sid] for sid in behind if sid in self._busy]
        others += [self._pending[sid].first for sid in behind if sid in self._pending]
        if mine and others and min(mine) > min(others) + AHEAD:
            if mono - self._held.setdefault(follower.key, mono) < self._max_wait:
                return True
        self._held.pop(follower.key, None)
        return False

    def _catching(self, sid: str) -> bool:
        owner = self._owner.get(sid)
        return owner is not None and owner.key in self._catching_up


def output_behind(outbox: Outbox, courier: Courier, now: float) -> bool:
    """Whether reading waits for the output: while the disk buffer is full; and while the output
    takes batches, if it takes them more slowly than they come (the memory queue is full) or the
    disk buffer is being drained (events read now would only be written to disk and read back):
    the inputs keep the data, and memory holds one flow of events, not two."""
    return outbox.full or (courier.delivering(now) and (outbox.memory_full or not outbox.spool.empty))
