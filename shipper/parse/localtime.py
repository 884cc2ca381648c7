"""Local wall-clock times in one zone -> UTC, and the zone a spec names.

`load_zone` reads a zone spec as the C library reads ``TZ`` (an IANA name, a tzfile, a POSIX TZ
string) and, besides, a fixed offset from UTC in the ISO 8601 sense (``+02:00``, ``-0530``, ``+2``:
east of UTC is ``+``). `LocalTime` converts local times to UTC, the zone's offset cached per local hour.

Around a change of the offset (summer time):

* A local time that does not exist (the hour skipped when clocks go forward: 02:30 on the last
  Sunday of March in Europe/Berlin) is read with the offset in force *before* the change, as
  zoneinfo (``fold=0``) and the C library's ``mktime`` (``tm_isdst = -1``) both read it: 02:30 CET
  is 01:30Z, i.e. 03:30 CEST. `LocalTime.skipped` says so (the syslog parser tags the event
  ``timestamp_nonexistent``).
* A local time that exists twice (the hour repeated when clocks go back: 02:00-02:59 on the last
  Sunday of October) carries nothing that tells which pass it is in; with ``infer_fold`` the order
  of the stamps tells. A stamp of the repeated hour is in the *first* pass (summer time) until one
  goes back by more than `FOLD_SLACK` seconds from the latest of the first pass: from then on its
  stamps are in the *second* pass (``fold=1``), as they are once a time after the repeated hour was
  read (a late line). The state (`LocalTime.state`) is one stream's (the parser's, which carries it
  from block to block in a parallel replay), and is forgotten a day after the repeated hour. Without
  ``infer_fold``, or before a stamp of the hour was read, a repeated time is in the first pass.

The state follows from the stamps read and nothing else: the callers' caches of converted minutes
(`LocalTime.minute`, `LocalTime.add_cache`) never hold a minute one of whose stamps would change it
(while the first pass lasts, a minute after the repeated hour; while the second does, a minute a
day after it), so a stamp whose minute is cached would not have changed it either. A parallel
replay's worker, which starts with empty caches, reads the stamps as one process does.
"""

from __future__ import annotations

import calendar
import io
import math
import re
import struct
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_CACHE_MAX = 8192
FOLD_SLACK = 60  # seconds a stamp may step back in a repeated hour's first pass (lines slightly out of order)
_FOLD_KEEP = 86400  # seconds after a repeated hour that its state is kept (for late lines)

_MINUTES = tuple(f"{m:02d}:" for m in range(60))
_UTC_NAMES = frozenset(("UTC", "Etc/UTC", "GMT", "Z"))
# A TZif file (RFC 8536) without transitions, one time type and no leap seconds: its version 1 and
# version 2 data blocks; the footer (the POSIX TZ string) then gives the local time at every instant.
_TZIF_EMPTY = (b"TZif2" + bytes(15) + struct.pack(">6l", 0, 0, 0, 0, 1, 1) + struct.pack(">lbB", 0, 0, 0) + b"\0") * 2
_DEFAULT_DST_RULE = ",M3.2.0,M11.1.0"  # the C library's rule for a zone with summer time but no rule
# ISO 8601 offsets: +02:00, +0200, +02, +2, +2:30 (not +230).
_FIXED = re.compile(r"([+-])(?:(\d\d):?(\d\d)|(\d\d?)(?::(\d\d))?)", re.A)
# POSIX TZ strings that read as offsets from UTC with the sign the other way round (UTC+2 is -02:00).
_POSIX_UTC = re.compile(r":?(UTC|GMT)([+-])(\d\d?)(?::(\d\d))?", re.A)


def utc_seconds(epoch: int) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS`` for whole epoch seconds, None when out of range."""
    try:
        t = time.gmtime(epoch)
    except (OverflowError, OSError, ValueError):
        return None
    if not 1 <= t.tm_year <= 9999:
        return None
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def load_zone(spec: str) -> tzinfo:
    """The zone ``spec`` names, read as the C library reads ``TZ``: an IANA name (``Europe/Berlin``),
    a tzfile's absolute path (``/etc/localtime``), either after a ':' (``:/etc/localtime``), or a
    POSIX TZ string (``UTC0``, ``CET-1CEST,M3.5.0,M10.5.0/3``); or a fixed offset from UTC
    (``+02:00``: 2 hours east). `ValueError` when it is none of these."""
    name = spec[1:] if spec.startswith(":") else spec
    if name in _UTC_NAMES:
        return timezone.utc
    fixed = _fixed_offset(name)
    if fixed is not None:
        return fixed
    if name.startswith("/"):
        try:
            with open(name, "rb") as f:
                return ZoneInfo.from_file(f, key=spec)
        except OSError as exc:
            raise ValueError(f"cannot read the time zone file {name}: {exc.strerror}") from None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # (OSError: a directory such as "Europe")
        return _posix_zone(name)


def _fixed_offset(spec: str) -> tzinfo | None:
    """``+02:00``, ``-0530``, ``+02``, ``+2`` as a fixed zone; None for anything else (an IANA name
    or a POSIX TZ string never starts with a sign). `ValueError` past 23:59."""
    m = _FIXED.fullmatch(spec)
    if m is None:
        return None
    hours, minutes = int(m.group(2) or m.group(4)), int(m.group(3) or m.group(5) or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"{spec!r} is not an offset from UTC: give hours up to 23 and minutes up to 59")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if m.group(1) == "-" else offset)


def reversed_offset(spec: str) -> str | None:
    """For a spec such as ``UTC+2`` (a POSIX TZ string, in which ``+`` is *west* of UTC), what it
    means and how to give either offset instead; None for any other spec. ``TZ`` is read so, as the
    C library reads it; an option or a setting that says ``UTC+2`` most likely means ``+02:00``."""
    m = _POSIX_UTC.fullmatch(spec)
    if m is None or int(m.group(3)) == int(m.group(4) or 0) == 0:
        return None
    given = f"{int(m.group(3)):02d}:{m.group(4) or '00'}"
    posix = "-" if m.group(2) == "+" else "+"
    return (f"{spec!r} is ambiguous: read as a POSIX TZ string, as the C library reads TZ, it is {posix}{given} "
            f"(the sign inverted); give the offset alone instead: +{given} for east of UTC, -{given} for west")


def _posix_zone(rule: str) -> tzinfo:
    """A POSIX TZ string (``std offset [dst [offset] [,start[/time],end[/time]]]``) as a zone.
    zoneinfo reads one only as a TZif file's footer: it gets a file without transitions."""
    if not rule or not rule.isascii() or not rule.isprintable():
        raise ValueError(f"{rule!r} is not a POSIX TZ string")
    try:
        return _footer_zone(rule, rule)
    except ValueError:
        if "," in rule:
            raise
        return _footer_zone(rule + _DEFAULT_DST_RULE, rule)  # summer time without a rule: CET-1CEST


def _footer_zone(rule: str, key: str) -> ZoneInfo:
    return ZoneInfo.from_file(io.BytesIO(_TZIF_EMPTY + f"\n{rule}\n".encode()), key=key)


class Fold(NamedTuple):
    """What the stamps read so far say of one repeated hour. Times are local wall-clock seconds
    (`calendar.timegm` of the local fields)."""

    end: int  # the first wall time after the repeated hour
    first: int | None  # the latest wall time read in its first pass (None once the second began)
    second: bool  # its second pass began, or a time after it was read


class LocalTime:
    """Local wall-clock time in one zone (`load_zone`) -> UTC, with the offset cached per local hour.
    See the module for times that do not exist or exist twice (``infer_fold``)."""

    def __init__(self, zone: str, infer_fold: bool = False) -> None:
        self.zone_name = zone
        self.zone: tzinfo = load_zone(zone)
        self.skipped = False  # the last stamp `to_utc` read does not exist (a skipped hour)
        self._infer_fold = infer_fold
        self._fold: Fold | None = None
        self._moving: float = math.inf  # the first wall time whose stamps change `_fold` (`_moves`)
        self._caches: list[Callable[[], None]] = []
        self._hours: dict[tuple[int, int, int, int], int | None] = {}

    def state(self) -> Fold | None:
        """What the stamps read so far say of the latest repeated hour (what the next stamps depend on)."""
        return self._fold

    def restore(self, state: Fold | None) -> None:
        self._set(state)

    def add_cache(self, clear: Callable[[], None]) -> None:
        """A caller's cache of what `minute` gave, which ``clear`` empties: it is emptied whenever a
        fold state begins that a stamp of a cached minute could change (see the module)."""
        self._caches.append(clear)

    def to_utc(self, y: int, mo: int, d: int, h: int, mi: int, s: int) -> str | None:
        """``YYYY-MM-DDTHH:MM:SS`` in UTC for a local time, None if it is not a valid date."""
        if s == 60:  # a leap second: keep it in its minute
            s = 59
        try:
            naive = datetime(y, mo, d, h, mi, s)
        except ValueError:
            return None
        self.skipped = False
        wall = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        offset = self._steady(y, mo, d, h)
        if offset is None:
            offset = self._changing(naive, wall)
        else:
            self._passed(wall)
        return utc_seconds(wall - offset)

    def minute(self, y: int, mo: int, d: int, h: int, mi: int) -> str | None:
        """``YYYY-MM-DDTHH:MM:`` in UTC for a local minute whose stamps take one offset, whatever
        came before them, and a whole number of minutes: the caller may cache it. None otherwise
        (an invalid date, an hour the offset changes in, skips or repeats, an offset with seconds, a
        minute whose stamps change the fold state): then each stamp is converted on its own
        (`to_utc`). The caller converts a stamp of the minute next, either way."""
        offset = self._steady(y, mo, d, h)
        if offset is None or offset % 60:
            return None
        wall = calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0))
        if wall >= self._moving:  # (any stamp of the minute moves the fold state as its first second does)
            self._passed(wall)
        if wall + 59 >= self._moving:  # a stamp of the minute would move it: not cached
            return None
        base = utc_seconds(wall - offset)
        return None if base is None else base[:17]

    def later_minutes(self, y: int, mo: int, d: int, h: int, mi: int) -> list[str]:
        """What `minute` would give for the minutes after ``mi`` of the hour, as long as it would
        give one now and after any stamps up to them (no stamp before them moves the fold
        state): ``YYYY-MM-DDTHH:MM:`` for minute ``mi + 1``, ``mi + 2``, ... in order."""
        offset = self._steady(y, mo, d, h)
        if offset is None or offset % 60:
            return []
        wall = calendar.timegm((y, mo, d, h, 0, 0, 0, 0, 0))
        # minute m's stamps move nothing while wall + 60 * m + 59 < self._moving
        stop = 60 if self._moving == math.inf else min(60, math.ceil((self._moving - 59 - wall) / 60))
        if offset % 3600 == 0:  # the UTC minute is the local one
            base = utc_seconds(wall - offset)
            return [] if base is None else [base[:14] + m for m in _MINUTES[mi + 1 : stop]]
        out = []
        for m in range(mi + 1, stop):
            base = utc_seconds(wall + 60 * m - offset)
            if base is None:
                break
            out.append(base[:17])
        return out

    def _steady(self, y: int, mo: int, d: int, h: int) -> int | None:
        """The offset of a local hour in which it does not change (no time skipped or repeated),
        else None (also for an invalid date)."""
        key = (y, mo, d, h)
        if key in self._hours:
            return self._hours[key]
        try:  # both readings (fold 0 and 1) of its first and its last second
            ends = [datetime(y, mo, d, h, m, m, tzinfo=self.zone, fold=f) for m in (0, 59) for f in (0, 1)]
            offsets = {_seconds(end.utcoffset()) for end in ends}
        except (ValueError, OverflowError):
            return None
        steady = offsets.pop() if len(offsets) == 1 else None
        if len(self._hours) >= _CACHE_MAX:
            self._hours.clear()
        self._hours[key] = steady
        return steady

    def _changing(self, naive: datetime, wall: int) -> int:
        """The offset of a stamp in an hour in which it changes (see the module)."""
        before = _seconds(naive.replace(tzinfo=self.zone).utcoffset())
        after = _seconds(naive.replace(tzinfo=self.zone, fold=1).utcoffset())
        if before == after:
            self._passed(wall)
            return before
        if before < after:  # skipped: read with the offset before the change (zoneinfo's fold=0, mktime)
            self.skipped = True
            return before
        if not self._infer_fold:
            return before
        return after if self._second_pass(wall, self._repeat_end(wall, before, after)) else before

    def _second_pass(self, wall: int, end: int) -> bool:
        """Whether a time of the repeated hour that ends at wall time ``end`` is in its second pass."""
        fold = self._fold
        if fold is None or fold.end != end:
            fold = Fold(end, None, False)
        if not fold.second:
            if fold.first is not None and wall < fold.first - FOLD_SLACK:
                fold = Fold(end, None, True)
            elif fold.first is None or wall > fold.first:
                fold = Fold(end, wall, False)
        if fold != self._fold:
            self._set(fold)
        return fold.second

    def _passed(self, wall: int) -> None:
        """A time that exists once was read: past a repeated hour, the later stamps of that hour
        are late ones of its second pass; a day after it, its state is forgotten."""
        fold = self._fold
        if fold is not None and wall >= self._moving:
            self._set(None if wall >= fold.end + _FOLD_KEEP else Fold(fold.end, None, True))

    def _set(self, fold: Fold | None) -> None:
        """The new fold state; the callers' caches are emptied if they may hold a minute that
        changes it (no cached minute reaches the wall time that moved it before)."""
        moving = _moves(fold)
        if moving < self._moving:
            for clear in self._caches:
                clear()
        self._fold, self._moving = fold, moving

    def _repeat_end(self, wall: int, before: int, after: int) -> int:
        """The first wall time after the repeated hour that holds ``wall``: the change is at the
        first UTC second between the two readings of ``wall`` whose offset is ``after``."""
        lo, hi = wall - before, wall - after  # the first pass's instant (before the change), the second's
        zone = self.zone
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _seconds(datetime.fromtimestamp(mid, zone).utcoffset()) == after:
                hi = mid
            else:
                lo = mid
        return hi + before


def _moves(fold: Fold | None) -> float:
    """The first wall time whose stamps change ``fold`` (`LocalTime._passed`): the end of its
    repeated hour during the first pass, a day later during the second; none without a state."""
    if fold is None:
        return math.inf
    return fold.end + _FOLD_KEEP if fold.second else fold.end


def _seconds(delta: timedelta | None) -> int:
    return int(delta.total_seconds()) if delta is not None else 0
