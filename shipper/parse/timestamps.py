"""Stamp conversion to the stored ``@timestamp`` form ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC).

Cached: every converter keeps its work for a stamp's text *up to the minute* (or the
second, for epochs), so a line costs one dict lookup and a string concatenation. Caches are bounded (cleared when
they grow past `_CACHE_MAX` entries; logs are time-ordered, so the working set is tiny).

Local times (RFC 3164 stamps, zone-less ISO stamps) are read in the parse context's zone (an
IANA name, a tzfile, a POSIX TZ string or a fixed offset: `load_zone`) by `LocalTime`, which also
says how a time that a change of the zone's offset skips or repeats is read
(shipper/parse/localtime.py). Only minutes that take one offset whatever came before them are
cached (`LocalTime.minute`); the stamps of an hour the offset changes in are converted one by one,
and so are those that change the state of a repeated hour (which empties the caches when a
state begins: `LocalTime.add_cache`), so a cached minute never changes a stamp's reading.

Year of RFC 3164 stamps (`BsdStamps`), which carry none:

* ``year`` given: the first stamp gets it; a month jump of more than six months backwards
  (Dec -> Jan) starts the next year. A December line while the current month is January (a late
  line of the old year, from another host or a slow writer) is read as the old year without
  changing the state. Small backward steps (out-of-order lines at a month's end) keep the year;
  forward jumps (a gap in a quiet log) too. The cache is emptied whenever the month the state
  was set from changes, so the state follows from the stamps alone, cached or not.
* else ``mtime`` known: the latest year in which the stamp is not after the file's mtime plus one
  day of slack (a file whose mtime is in January holds both its Dec 31 and Jan 1 lines right).
* else: as if ``year`` were 1970 (the caller should pass a year for input without an mtime).
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime

from shipper.parse.localtime import LocalTime, load_zone, utc_seconds  # (load_zone: for the modules that read zones)

FALLBACK_TIMESTAMP = "1970-01-01T00:00:00.000000Z"
_CACHE_MAX = 8192
_MINUTES = tuple(f"{m:02d}" for m in range(60))
_SLACK = 86400  # the mtime slack of the year inference, in seconds


def from_epoch(seconds: float) -> str:
    """The stored form of an epoch time in seconds (a file's mtime); the 1970 fallback if absurd."""
    whole = int(seconds // 1)
    base = utc_seconds(whole)
    if base is None:
        return FALLBACK_TIMESTAMP
    return f"{base}.{int((seconds - whole) * 1_000_000):06d}Z"


_MICROS_CACHE: dict[str, str] = {}


def from_epoch_micros(text: str) -> str | None:
    """Journal ``__REALTIME_TIMESTAMP`` (decimal microseconds since the epoch), None if invalid."""
    if not (text.isascii() and text.isdigit()):
        return None
    if len(text) < 7:
        text = text.zfill(7)
    sec = text[:-6]
    prefix = _MICROS_CACHE.get(sec)
    if prefix is None:
        base = utc_seconds(int(sec))
        if base is None:
            return None
        if len(_MICROS_CACHE) >= _CACHE_MAX:
            _MICROS_CACHE.clear()
        prefix = _MICROS_CACHE[sec] = base + "."
    return prefix + text[-6:] + "Z"


def fraction(digits: str | None) -> str:
    """Six fraction digits from 0..9 digits (truncated, never rounded: a stamp stays in its second)."""
    if not digits:
        return "000000"
    return digits[:6].ljust(6, "0")


# ISO 8601 / RFC 3339 / log4j: date, time to the second, fraction (. or ,), zone.
ISO_STAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d(?::?\d\d)?| ?(?:UTC|GMT)\b)?",
    re.A,  # ASCII digits only, everywhere: a Unicode digit must not reach int() or the stored text
)
_ZONE = re.compile(r"([+-])(\d\d):?(\d\d)?", re.A)


class IsoStamps:
    """ISO stamps with ``Z``, ``+02:00``, ``+0200``, ``+02``, `` UTC`` or no zone (-> local)."""

    def __init__(self, local: LocalTime) -> None:
        self._local = local
        self._minutes: dict[str, str | None] = {}
        local.add_cache(self._minutes.clear)

    def convert(self, text: str) -> str | None:
        """The stored form of a stamp at the start of ``text``; None if there is none or it is invalid."""
        m = ISO_STAMP.match(text)
        return self.from_match(m) if m else None

    def from_match(self, m: re.Match[str]) -> str | None:
        """Convert a match of `ISO_STAMP`, or of a pattern that embeds it as its first 8 groups."""
        start = m.start(1)
        base = self.seconds(m.string[start : start + 19], m.group(8))
        return None if base is None else f"{base}.{fraction(m.group(7))}Z"

    def seconds(self, text: str, zone: str | None) -> str | None:
        """UTC ``YYYY-MM-DDTHH:MM:SS`` for ``YYYY-MM-DD?HH:MM:SS`` (19 characters) in ``zone``
        (None: the local zone). The work is cached per minute (text and zone): the result is
        the minute's UTC text plus the seconds."""
        sec = text[17:19]
        if not (sec.isascii() and sec.isdigit() and sec <= "60"):
            return None
        key = text[:16] + zone if zone else text[:16]
        prefix = self._minutes.get(key, "")
        if prefix == "":
            prefix = self._minute(text, zone)
            if len(self._minutes) >= _CACHE_MAX:
                self._minutes.clear()
            self._minutes[key] = prefix
        if prefix is None:  # an invalid date, an offset that is not whole minutes, a change of the local offset
            return self._compute(text, zone)
        return prefix + (sec if sec != "60" else "59")

    def _minute(self, text: str, zone: str | None) -> str | None:
        if zone is None:  # (the local zone: `LocalTime.minute` says whether the minute may be cached)
            return self._local.minute(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]))
        base = self._compute(text[:17] + "00", zone)
        return base[:17] if base is not None and base[17:] == "00" else None

    def _compute(self, text: str, zone: str | None) -> str | None:
        y, mo, d = int(text[0:4]), int(text[5:7]), int(text[8:10])
        h, mi, s = int(text[11:13]), int(text[14:16]), int(text[17:19])
        if zone is None:
            return self._local.to_utc(y, mo, d, h, mi, s)
        offset = zone_offset(zone)
        if offset is None:
            return None
        s = min(s, 59)
        try:
            datetime(y, mo, d, h, mi, s)
        except ValueError:
            return None
        return utc_seconds(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - offset)


def zone_offset(zone: str) -> int | None:
    """Seconds east of UTC for ``Z``, ``UTC``, ``GMT``, ``+02:00``, ``+0200``, ``-05``."""
    zone = zone.strip()
    if zone in ("Z", "UTC", "GMT"):
        return 0
    m = _ZONE.fullmatch(zone)
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if hours > 23 or minutes > 59:
        return None
    sign = -1 if m.group(1) == "-" else 1
    return sign * (hours * 3600 + minutes * 60)


class BsdStamps:
    """RFC 3164 stamps (``Aug 30 14:55:47``): no year, no zone. See the module doc for the year.

    The work (year, zone offset, formatting) is done once per local *minute*: `minutes` maps the
    stamp text up to the minute (``Aug 30 14:55``) to the UTC text up to the minute
    (``2017-08-30T12:55:``), and a stamp is that plus its seconds. The hot path's stamps
    (`convert` with ``hour``) fill in the rest of their hour at once (`_later_minutes`). (In an hour that the zone's
    offset changes in, skips or repeats, with an offset that is not a whole number of minutes,
    as some zones had before 1900, and in a minute whose stamps change the state of a repeated
    hour, every stamp is computed: `LocalTime.minute`. So the express lane, which reads
    `minutes` only, leaves such lines to the parser.)
    """

    def __init__(self, local: LocalTime, year: int | None, mtime: float | None) -> None:
        self._local = local
        self.minutes: dict[str, str] = {}  # read directly by the syslog parser's hot path
        local.add_cache(self.minutes.clear)
        self._rollover = year is not None or mtime is None
        self._year = year if year is not None else 1970
        self._ref_month = 0  # the month the rollover state was last set from (0: no stamp yet)
        self._bound: datetime | None = None
        if not self._rollover and mtime is not None:
            self._bound = _local_naive(mtime + _SLACK, local)

    def state(self) -> tuple[int, int]:
        """The year inferred so far and the month it was set from (what the next stamp depends on)."""
        return self._year, self._ref_month

    def restore(self, state: tuple[int, int]) -> None:
        if state != self.state():
            self._year, self._ref_month = state
            self.minutes.clear()

    def convert(self, key: str, month: int, day: int, h: int, mi: int, s: int, frac: str = "",
                hour: str | None = None) -> str | None:
        """The stored form of a stamp; ``key`` names its minute (any text unique to month, day,
        hour and minute). None for an impossible date. ``hour``: ``key`` but its minute's two
        digits, which the minute's key is written with (`_later_minutes`)."""
        prefix = self.minutes.get(key)
        if prefix is None:
            prefix = self._minute(key, month, day, h, mi, s, hour)
            if prefix is None or len(prefix) != 17:
                return prefix and f"{prefix}.{fraction(frac)}Z"
        return f"{prefix}{min(s, 59):02d}.{fraction(frac)}Z"

    def _minute(self, key: str, month: int, day: int, h: int, mi: int, s: int, hour: str | None) -> str | None:
        """The UTC ``YYYY-MM-DDTHH:MM:`` of a local minute, cached; or, where `LocalTime.minute`
        gives none (the offset changes in the hour, or is not whole minutes), the full
        ``YYYY-MM-DDTHH:MM:SS`` of this stamp (not cached); None for an impossible date."""
        year = self._year_for(month, day, h, mi, s)
        prefix = self._local.minute(year, month, day, h, mi)
        if prefix is None:
            return self._local.to_utc(year, month, day, h, mi, s)
        if len(self.minutes) >= _CACHE_MAX:
            self.minutes.clear()
        self.minutes[key] = prefix
        if hour is not None:
            self._later_minutes(hour, year, month, day, h, mi)
        return prefix

    def _later_minutes(self, hour: str, year: int, month: int, day: int, h: int, mi: int) -> None:
        """Cache the minutes after ``mi`` of the hour too, under ``hour`` and their two digits, as
        `_minute` would cache each when its first stamp comes: logs are in time order, and one
        conversion instead of one per minute saved a replay worker 8-10% of its time. Their
        year is ``year``: the state `_year_for` keeps does not change within a month (and a
        change empties the cache), and from the mtime, the year of a later time of the hour is
        ``year`` if the hour's last second's is (a later time never takes a later year).
        `LocalTime.later_minutes` gives only minutes whose stamps change no state of its own."""
        if not self._rollover and self._latest_year(month, day, h, 59, 59) != year:
            return
        later = self._local.later_minutes(year, month, day, h, mi)
        self.minutes.update(zip([hour + m for m in _MINUTES[mi + 1 : mi + 1 + len(later)]], later))

    def _year_for(self, month: int, day: int, h: int, mi: int, s: int) -> int:
        if not self._rollover:
            return self._latest_year(month, day, h, mi, s)
        if self._ref_month == 0:
            self._ref_month = month
        elif month < self._ref_month - 6:
            self._year += 1
            self._ref_month = month
            self.minutes.clear()  # cached minutes belong to the previous year
        elif month == 12 and self._ref_month == 1:
            return self._year - 1  # a late line of the old year, just after the new one began
        elif month != self._ref_month:
            self._ref_month = month
            self.minutes.clear()  # (a stamp of a cached minute of another month would set it back)
        return self._year

    def _latest_year(self, month: int, day: int, h: int, mi: int, s: int) -> int:
        bound = self._bound
        assert bound is not None
        for year in range(bound.year, bound.year - 8, -1):  # 8 years always hold a Feb 29
            try:
                stamp = datetime(year, month, day, h, mi, min(s, 59))
            except ValueError:
                continue
            if stamp <= bound:
                return year
        return bound.year


def _local_naive(epoch: float, local: LocalTime) -> datetime:
    return datetime.fromtimestamp(epoch, local.zone).replace(tzinfo=None)
