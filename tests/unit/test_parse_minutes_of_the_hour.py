"""The hot path's cache of RFC 3164 minutes (`BsdStamps.minutes`) learns the rest of an hour from
one stamp of it (`BsdStamps._later_minutes`, `LocalTime.later_minutes`): one conversion per hour
instead of one per minute, which the express lane of a replay worker paid for in Python.

Each stamp must read as it reads with one minute cached at a time, and leave the same state (year,
pass of a repeated hour): around changes of summer time, with offsets that are not whole hours,
with the year from a file's mtime whose bound falls inside an hour, and where a pass of a repeated
hour ends at a minute that is not the top of an hour (Newfoundland changed at 00:01 until 2011).
"""

from __future__ import annotations

import calendar
import random
from datetime import datetime, timedelta

import pytest

from shipper.parse.base import ParseContext
from shipper.parse.localtime import LocalTime
from shipper.parse.syslog import SyslogParser
from shipper.parse.timestamps import BsdStamps
from shipper.sources.base import Origin

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def key(t: datetime) -> str:
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M}"


def pair(zone: str, year: int | None, mtime: float | None) -> tuple[BsdStamps, BsdStamps]:
    """Two converters of the same stamps: one read as the hot path reads, one a minute at a time."""
    hourly, minutely = (BsdStamps(LocalTime(zone, infer_fold=True), year, mtime) for _ in range(2))
    return hourly, minutely


def read(stamps: BsdStamps, t: datetime, whole_hour: bool) -> tuple[object, ...]:
    """One stamp's reading and the state after it; ``whole_hour``: the hot path's call, which
    caches the rest of the hour."""
    k = key(t)
    ts = stamps.convert(k, t.month, t.day, t.hour, t.minute, t.second, hour=k[:10] if whole_hour else None)
    local = stamps._local  # noqa: SLF001 - the state that the next stamps depend on
    return ts, stamps.state(), local.state()


def walk(start: datetime, hours: int, seed: int) -> list[datetime]:
    """Local times from ``start``, a few seconds to a few minutes apart, some of them back a
    while (late lines) or an hour (the second pass of a repeated hour)."""
    rnd = random.Random(seed)
    t, out = start, []
    while t < start + timedelta(hours=hours):
        t += timedelta(seconds=rnd.choice((1, 7, 40, 95, 400)))
        back = rnd.random()
        late = timedelta(hours=1) if back < 0.05 else timedelta(seconds=rnd.randint(0, 90)) if back < 0.1 else timedelta()
        out.append(t - late)
    return out


CASES = [
    ("Europe/Berlin", datetime(2017, 10, 28, 22)),  # the repeated hour 02:00-02:59 on the 29th
    ("Europe/Berlin", datetime(2017, 3, 25, 22)),  # the skipped hour
    ("Asia/Kolkata", datetime(2017, 6, 1, 0)),  # +05:30
    ("Australia/Lord_Howe", datetime(2017, 4, 1, 22)),  # a repeated half hour (+11 -> +10:30)
    ("America/St_Johns", datetime(2010, 11, 6, 20)),  # -02:30 -> -03:30 at 00:01
    ("UTC", datetime(2016, 12, 31, 20)),  # a new year
]


@pytest.mark.parametrize(("zone", "start"), CASES, ids=[f"{z}-{s:%Y-%m-%d}" for z, s in CASES])
@pytest.mark.parametrize("seed", range(4))
def test_each_stamp_reads_as_with_one_minute_cached_at_a_time(zone: str, start: datetime, seed: int) -> None:
    hourly, minutely = pair(zone, start.year, None)
    for t in walk(start, 30, seed):
        assert read(hourly, t, True) == read(minutely, t, False), f"{zone} {t}"


@pytest.mark.parametrize("seed", range(4))
def test_the_year_from_an_mtime_whose_bound_falls_inside_an_hour(seed: int) -> None:
    """The bound (mtime plus a day) is 14:30:10 on Mar 2: a stamp after it in that hour is of the
    year before, even after a stamp of the hour before the bound was read."""
    mtime = calendar.timegm((2017, 3, 1, 14, 30, 10))
    hourly, minutely = pair("UTC", None, mtime)
    for t in walk(datetime(2017, 3, 2, 12), 5, seed):
        assert read(hourly, t, True) == read(minutely, t, False), str(t)
    assert read(hourly, datetime(2017, 3, 2, 14, 10), True)[0] == "2017-03-02T14:10:00.000000Z"
    assert read(hourly, datetime(2017, 3, 2, 14, 40), True)[0] == "2016-03-02T14:40:00.000000Z"


def test_a_minute_whose_stamps_end_the_second_pass_is_not_cached() -> None:
    """St. John's repeated 23:01-00:00 on 2010-11-06; its state is kept until 00:01 a day after
    the change: a stamp at 00:00 on the 8th caches none of the minutes after it, and 00:01 ends it."""
    hourly, minutely = pair("America/St_Johns", 2010, None)
    for t in (datetime(2010, 11, 6, 23, 30), datetime(2010, 11, 6, 23, 20), datetime(2010, 11, 8, 0, 0, 30)):
        assert read(hourly, t, True) == read(minutely, t, False)
    assert hourly._local.state() is not None  # noqa: SLF001
    assert key(datetime(2010, 11, 8, 0, 1)) not in hourly.minutes
    assert read(hourly, datetime(2010, 11, 8, 0, 1, 10), True) == read(minutely, datetime(2010, 11, 8, 0, 1, 10), False)
    assert hourly._local.state() is None  # noqa: SLF001


def test_one_conversion_caches_the_rest_of_the_hour() -> None:
    stamps = BsdStamps(LocalTime("Asia/Kolkata"), 2017, None)
    assert stamps.convert("Aug 30 14:55", 8, 30, 14, 55, 47, hour="Aug 30 14:") == "2017-08-30T09:25:47.000000Z"
    assert stamps.minutes == {"Aug 30 14:55": "2017-08-30T09:25:", "Aug 30 14:56": "2017-08-30T09:26:",
                              "Aug 30 14:57": "2017-08-30T09:27:", "Aug 30 14:58": "2017-08-30T09:28:",
                              "Aug 30 14:59": "2017-08-30T09:29:"}
    stamps = BsdStamps(LocalTime("Europe/Berlin"), 2017, None)
    stamps.convert("Aug 30 14:05", 8, 30, 14, 5, 0, hour="Aug 30 14:")
    assert len(stamps.minutes) == 55 and stamps.minutes["Aug 30 14:59"] == "2017-08-30T12:59:"


def test_the_parser_learns_an_hour_for_the_express_lane() -> None:
    """What a replay worker's lane asks the parser for when a line's minute is not cached."""
    parser = SyslogParser(Origin("s", "syslog", path="/var/log/messages"), ParseContext("Europe/Berlin", 2017))
    parser.learn_minute("Aug 30 14:05:00")
    assert len(parser.minutes) == 55 and parser.minutes["Aug 30 14:59"] == "2017-08-30T12:59:"
