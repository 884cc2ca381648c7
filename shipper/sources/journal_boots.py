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

`shipper replay` reads the writers merged in time and counts twins across them (no marks), so in a
second that several boots wrote, the daemon's ids and replay's differ: the marked boots' entries
always, the first boot's where replay counted another boot's twin before it. Elsewhere they agree.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Sequence

from shipper.parse.timestamps import from_epoch_micros
from shipper.sources.export import Fields

TAG_APART = "id_apart"  # (taken off by the stream before parsing: never in a document)
MAX_RANGES = 256  # per host; a host whose boots keep their clock uses one a boot


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
        """Forget the range least recently used."""
        i = min(range(len(self.ranges)), key=lambda n: self.ranges[n][3])
        del self.ranges[i], self.firsts[i]


class BootClaims:
    """The seconds each host's boots took (see the module), for one journal input."""

    def __init__(self, saved: Any = None) -> None:
        self._hosts: dict[str, _Ranges] = {}
        self._tick = 0
        if isinstance(saved, dict):
            for host, ranges in saved.items():
                kept = [[r[0], r[1], r[2], 0] for r in ranges if _saved_range(r)] if isinstance(ranges, list) else []
                if kept:
                    self._hosts[str(host)] = _Ranges(kept)
        self._last: tuple[Any, Any, Any, bool] | None = None  # (host, boot, the stamps' seconds): apart?

    def apart(self, items: Sequence[Fields], tags: dict[int, tuple[str, ...]]) -> None:
        """Mark in ``tags`` the entries of ``items`` (one writer's, in order) whose second another
        boot of their host took."""
        self._tick += 1
        last = self._last
        for i, fields in enumerate(items):
            host, boot = fields.get("_HOSTNAME", ""), fields.get("_BOOT_ID")
            src, rt = fields.get("_SOURCE_REALTIME_TIMESTAMP"), fields.get("__REALTIME_TIMESTAMP")
            raw = (src[:-6] if isinstance(src, str) and src.isdigit() else None,  # (the stamps' seconds)
                   rt[:-6] if isinstance(rt, str) and rt.isdigit() else None)
            if last is None or last[0] != host or last[1] != boot or last[2] != raw:
                last = (host, boot, raw, self._decide(host, boot, fields))
            if last[3]:
                tags[i] = (*tags.get(i, ()), TAG_APART)
        self._last = last

    def _decide(self, host: Any, boot: Any, fields: Fields) -> bool:
        second = _second(fields)
        if second is None or not isinstance(host, str) or not isinstance(boot, str) or not boot:
            return False  # (no second or no boot: the plain id, as before)
        ranges = self._hosts.get(host)
        if ranges is None:
            ranges = self._hosts[host] = _Ranges([])
        return ranges.owner(second, boot, self._tick) != boot

    def state(self) -> dict[str, list[list[Any]]]:
        return {host: [r[:3] for r in ranges.ranges] for host, ranges in self._hosts.items()}


def _second(fields: Fields) -> int | None:
    """The second of the entry's @timestamp, as `shipper.parse.journal_fields` makes it."""
    for name in ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"):
        value = fields.get(name)
        if isinstance(value, str):
            if from_epoch_micros(value) is not None:
                return int(value[:-6] or 0)
    return None


def _saved_range(r: Any) -> bool:
    return (isinstance(r, list) and len(r) == 3 and isinstance(r[0], int) and isinstance(r[1], int)
            and r[0] <= r[1] and isinstance(r[2], str))
