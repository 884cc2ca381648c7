"""Which boot's entries keep the plain id in a second that several boots of one host wrote.

An entry's id is its content (host, second, process, PID, message) with a number among its twins
(`shipper.ids`), counted per stream, and the daemon reads each writer of a journal as its own
stream (`shipper.sources.journal_writer`). Two boots of one host write the same second when the
clock went back: a machine without a real-time clock starts every boot at the same time ("Booting
Linux on physical CPU 0" at 00:00:01 in every boot). Counted in their own streams (one writer a
boot), or too far apart in one writer's order to be counted together (`shipper.ids.KEEP_SECONDS`),
their twins would all be ``#0``: one id for different entries, and Elasticsearch keeps one of them.

The rule: a second of a host belongs to the first boot read in it (`BootClaims`, per input). An
entry of another boot in that second is marked `TAG_APART` (`BootClaims.apart`); its id's key then
also holds its ``_BOOT_ID`` (`shipper.daemon.streams`, `shipper.ids.IdAssigner.assign`), which no
other boot's entry has, and the writer's own count still numbers its twins. The entries of the boot
the second belongs to keep the plain id, the one the same line gets in ``/var/log/messages``
(ForwardToSyslog). A host whose boots follow each other in time (it has a clock) never has an entry
marked: its ids are those of before. The same boot's writers (the system journal and a user's)
share their seconds.

Why not something simpler: an entry cannot tell alone whether another boot wrote its second (the
other boot may come hours later), so the plain id must go to one boot and the others need to know
it; and the decision must stay once made (the plain ids are shipped). So the seconds taken are
kept, as ranges: a boot's range grows over the seconds no other boot took, the gaps between its
entries too (one range a boot where the clock is right); at most `MAX_RANGES` per host, the least
recently used forgotten first (only then can a later boot take a second an earlier one had). They
are saved with the input's checkpoint (``boots``, `state`): read again after a restart or a reload,
an entry gets the decision it had. A ``kill -9`` loses what was decided since the checkpoint was
last saved (at most a second): read again, such a second goes to the first boot read in it then,
the same one unless several boots were being read in that very second.

`shipper replay` applies the same rule in its own read order (`shipper.sources.journal`; each
input has claims of its own). A parallel replay's workers carry the claims from block to block in
its state (`snapshot`); the main process makes each block's decisions again from the claims before
it (`watch`, `replayed`), and does the block again where one comes out otherwise. A journal of one
writer (a persistent journal that went on over the boots) is read in the daemon's order: replay
gives the daemon's ids. Several writers are read merged in time and their twins counted together:
in a second that several boots wrote, the boot replay reads first there need not be the one the
daemon read first (each writer on its own), and the ids differ; elsewhere they agree. The daemon
also forgets ranges (past `MAX_RANGES` of a host) in another order after a restart: the checkpoint
keeps no order of use.

The common entry decides nothing: it is of the boot of its host's highest range, at or above that
range's first second (`BootClaims.fast`, which the C lane of a replay worker checks too). Only the
others (a new boot, an entry before its boot's range, a second another boot took) are decided
against the ranges, and count as a use of them.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Sequence

from shipper.ids import TAG_APART
from shipper.parse.timestamps import from_epoch_micros
from shipper.sources.export import Fields

__all__ = ["MAX_RANGES", "NO_CLAIMS", "TAG_APART", "BootClaims", "Log", "Snapshot", "replayed"]

MAX_RANGES = 256  # per host; a host whose boots keep their clock uses one a boot
_NONE = 1 << 62  # a host's run (`BootClaims.fast`) holds no second yet

# What a block decided (`BootClaims.watch`), per host, in order: ``(boot, first second, last
# second, apart)``; ``apart`` None for a run of entries of the boot of the host's highest range,
# at or above its first second (the common case: not apart, and nothing but that range's end moves).
Event = tuple[str, int, int, "bool | None"]
Log = dict[str, list[Event]]
# The claims between two blocks of a parallel replay: the decisions made, and per host its ranges
# ``[first, last, boot, used]``.
Snapshot = tuple[int, dict[str, list[list[Any]]]]
NO_CLAIMS: Snapshot = (0, {})  # (never changed: `BootClaims` copies what it starts from)


class _Ranges:
    """One host's seconds (epoch), as disjoint ranges ``[first, last, boot, used]`` sorted by ``first``."""

    def __init__(self, ranges: list[list[Any]]) -> None:
        self.ranges = sorted(ranges)
        self.firsts = [r[0] for r in self.ranges]

    def owner(self, second: int, boot: str, tick: int) -> str:
        """The boot ``second`` belongs to; taken for ``boot`` if no boot took it yet."""
        i = bisect_right(self.firsts, second) - 1
        before = self.ranges[i] if i >= 0 else None
        if before is not None and second <= before[1]:
            before[3] = tick
            return str(before[2])
        after = self.ranges[i + 1] if i + 1 < len(self.ranges) else None
        if before is not None and before[2] == boot:  # (no boot took the seconds between)
            before[1], before[3] = second, tick
        elif after is not None and after[2] == boot:
            after[0] = self.firsts[i + 1] = second
            after[3] = tick
        else:
            self.ranges.insert(i + 1, [second, second, boot, tick])
            self.firsts.insert(i + 1, second)
            if len(self.ranges) > MAX_RANGES:
                self._forget_one()
        return boot

    def _forget_one(self) -> None:
        """Forget the range least recently used, but the highest (see `BootClaims.fast`)."""
        i = min(range(len(self.ranges) - 1), key=lambda n: self.ranges[n][3])
        del self.ranges[i], self.firsts[i]


class BootClaims:
    """The seconds each host's boots took (see the module), for one journal input.

    ``saved``: `state` of before (the daemon's checkpoint); ``snapshot``: `snapshot` of before (a
    parallel replay's state between blocks, with the order the ranges were last used in)."""

    def __init__(self, saved: Any = None, snapshot: Snapshot | None = None) -> None:
        self._hosts: dict[str, _Ranges] = {}
        self._tick = 0
        if snapshot is not None:
            self._tick = snapshot[0]
            self._hosts = {host: _Ranges([list(r) for r in ranges]) for host, ranges in snapshot[1].items()}
        elif isinstance(saved, dict):
            for host, ranges in saved.items():
                kept = [[r[0], r[1], r[2], 0] for r in ranges if _saved_range(r)] if isinstance(ranges, list) else []
                if kept:
                    self._hosts[str(host)] = _Ranges(kept)
        # Per host, its highest range as the C lane reads it: [host (UTF-8), boot (UTF-8), first
        # second, and the run since (`Event`): lowest and highest second], then the boot as text.
        self._top: dict[str, list[Any]] = {}
        self.fast: list[list[Any]] = []  # the same lists (shipper/parallel/_express_journal.c)
        for host, ranges in self._hosts.items():
            self._retop(host, ranges)
        self._log: Log | None = None
        self._seen: tuple[str | None, int | None] = (None, None)  # the last stamp's first digits, and its second

    def apart(self, items: Sequence[Fields], tags: dict[int, tuple[str, ...]]) -> None:
        """Mark in ``tags`` the entries of ``items`` (in the order read) whose second another boot
        of their host took."""
        top_of = self._top
        seen, second_seen = self._seen  # (the seconds of consecutive entries: mostly the same)
        for i, fields in enumerate(items):
            get = fields.get
            src = get("_SOURCE_REALTIME_TIMESTAMP")
            stamp = get("__REALTIME_TIMESTAMP") if src is None else src
            if stamp.__class__ is str and stamp.isascii() and stamp.isdigit():
                if stamp[:-6] != seen:
                    seen, second_seen = stamp[:-6], _second(stamp)
                second = second_seen
                if second is None and src is not None:  # (a source stamp past the year 9999)
                    second = _second(get("__REALTIME_TIMESTAMP"))
            else:  # (an odd stamp: the other one, if any)
                second = _second(get("__REALTIME_TIMESTAMP") if src is not None else None)
            host, boot = get("_HOSTNAME", ""), get("_BOOT_ID")
            top = top_of.get(host) if host.__class__ is str else None
            if top is not None and top[5] == boot and second is not None and second >= top[2]:
                if second < top[3]:
                    top[3] = second
                if second > top[4]:
                    top[4] = second
            elif self._decide(host, boot, second):
                tags[i] = (*tags.get(i, ()), TAG_APART)
        self._seen = seen, second_seen

    def _decide(self, host: Any, boot: Any, second: int | None) -> bool:
        if second is None or not isinstance(host, str) or not isinstance(boot, str) or not boot:
            return False  # (no second or no boot: the plain id, as before)
        ranges = self._hosts.get(host)
        if ranges is None:
            ranges = self._hosts[host] = _Ranges([])
        else:
            self._settle(host, ranges)
        self._tick += 1
        apart = ranges.owner(second, boot, self._tick) != boot
        self._retop(host, ranges)
        if self._log is not None:
            self._log.setdefault(host, []).append((boot, second, second, apart))
        return apart

    def _settle(self, host: str, ranges: _Ranges) -> None:
        """The host's run (see `fast`) into its highest range (and the log)."""
        top = self._top[host]
        if top[4] < 0:
            return
        highest = ranges.ranges[-1]
        highest[1] = max(highest[1], top[4])
        if self._log is not None:
            self._log.setdefault(host, []).append((top[5], top[3], top[4], None))
        top[3], top[4] = _NONE, -1

    def _retop(self, host: str, ranges: _Ranges) -> None:
        first, _, boot, _ = ranges.ranges[-1]
        top = self._top.get(host)
        if top is None:
            top = self._top[host] = [host.encode("utf-8", "surrogatepass"), b"", 0, _NONE, -1, ""]
            self.fast.append(top)
        if top[5] != boot:
            top[1], top[5] = boot.encode("utf-8", "surrogatepass"), boot
        top[2] = first

    def watch(self) -> None:
        """Log the decisions from now on (`log`): what a parallel replay's block decided."""
        self._settle_all()
        self._log = {}

    def log(self) -> Log:
        """The decisions since `watch`."""
        self._settle_all()
        return self._log or {}

    def replay(self, log: Log) -> bool:
        """Make the decisions of ``log`` (a block's, see `watch`) from this state; False when one
        of them comes out otherwise (the block read other claims)."""
        for host, events in log.items():
            for boot, first, last, apart in events:
                top = self._top.get(host)
                if top is not None and top[5] == boot and first >= top[2]:  # as `apart` takes it
                    if apart:
                        return False
                    top[3], top[4] = min(top[3], first), max(top[4], last)
                elif apart is None or self._decide(host, boot, first) != apart:
                    return False
        return True

    def state(self) -> dict[str, list[list[Any]]]:
        self._settle_all()
        return {host: [r[:3] for r in ranges.ranges] for host, ranges in self._hosts.items()}

    def snapshot(self) -> Snapshot:
        self._settle_all()
        return self._tick, {host: [list(r) for r in ranges.ranges] for host, ranges in self._hosts.items()}

    def _settle_all(self) -> None:
        for host, ranges in self._hosts.items():
            self._settle(host, ranges)


def replayed(before: Snapshot, log: Log) -> Snapshot | None:
    """The claims after a block that decided ``log`` (`BootClaims.watch`) from other claims than
    ``before``, had it started from ``before``; None when a decision would differ."""
    if not log:
        return before
    claims = BootClaims(snapshot=before)
    return claims.snapshot() if claims.replay(log) else None


def _second(stamp: Any) -> int | None:
    """The second of a journal stamp (µs since the epoch), as `shipper.parse.journal_fields` makes
    the @timestamp of it; None if it makes none."""
    if isinstance(stamp, str) and from_epoch_micros(stamp) is not None:
        return int(stamp[:-6] or 0)
    return None


def _saved_range(r: Any) -> bool:
    return (isinstance(r, list) and len(r) == 3 and isinstance(r[0], int) and isinstance(r[1], int)
            and r[0] <= r[1] and isinstance(r[2], str))
