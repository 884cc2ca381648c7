"""Stamp conversion: RFC 3164 year inference and rollover, zones and DST, ISO variants, epochs."""

from __future__ import annotations

from datetime import datetime, timezone
from unittest.mock import patch

import pytest

from shipper.parse.timestamps import (
    BsdStamps,
    IsoStamps,
    LocalTime,
    from_epoch,
    from_epoch_micros,
    zone_offset,
)
from tests.helpers.parse import Lines, parse_text


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def bsd(stamps: BsdStamps, month: int, day: int, hms: str) -> str | None:
    h, mi, s = (int(x) for x in hms.split(":"))
    return stamps.convert(f"{month}/{day} {h}:{mi}", month, day, h, mi, s)


def syslog_stamps(lines: list[str], **ctx: object) -> list[str]:
    offsets = [i * 100 for i in range(len(lines))]
    docs = parse_text("syslog", Lines(lines, offsets), **ctx)  # type: ignore[arg-type]
    return [d["@timestamp"] for d in docs]


# -- RFC 3164: the year -------------------------------------------------------------------------

NEW_YEAR = [
    "Dec 31 23:59:58 gorp sendmail[1]: last of the year",
    "Dec 31 23:59:59 gorp sendmail[1]: still the old year",
    "Jan  1 00:00:00 gorp sendmail[1]: happy new year",
    "Jan  1 00:00:01 gorp sendmail[1]: and on",
]


def test_new_year_inside_a_file_with_a_january_mtime() -> None:
    """Filebeat #15442 / rsyslog #4765: a file written across New Year, read in January."""
    stamps = syslog_stamps(NEW_YEAR, mtime=epoch("2018-01-03T08:00:00"))
    assert stamps == [
        "2017-12-31T23:59:58.000000Z",
        "2017-12-31T23:59:59.000000Z",
        "2018-01-01T00:00:00.000000Z",
        "2018-01-01T00:00:01.000000Z",
    ]


def test_new_year_inside_a_file_with_a_given_year() -> None:
    stamps = syslog_stamps(NEW_YEAR, year=2017)
    assert [s[:4] for s in stamps] == ["2017", "2017", "2018", "2018"]


def test_a_late_line_of_the_old_year_after_the_rollover_keeps_the_old_year() -> None:
    lines = [NEW_YEAR[1], NEW_YEAR[2], NEW_YEAR[1], NEW_YEAR[3]]
    assert [s[:4] for s in syslog_stamps(lines, year=2017)] == ["2017", "2018", "2017", "2018"]


def test_a_gap_of_many_months_in_a_quiet_log_keeps_the_year() -> None:
    lines = ["Feb  1 00:00:00 a b: x", "Nov 30 23:59:59 a b: y", "Dec  1 00:00:01 a b: z"]
    assert [s[:4] for s in syslog_stamps(lines, year=2017)] == ["2017"] * 3


def test_lines_slightly_out_of_order_at_a_month_end_keep_the_year() -> None:
    lines = ["Apr  1 00:00:00 a b: x", "Mar 31 23:59:59 a b: y", "Apr  1 00:00:01 a b: z"]
    assert [s[:4] for s in syslog_stamps(lines, year=2017)] == ["2017"] * 3


def test_mtime_gives_the_latest_year_not_after_the_file_with_one_day_of_slack() -> None:
    stamps = BsdStamps(LocalTime("UTC"), None, epoch("2017-08-30T12:00:00"))
    assert bsd(stamps, 8, 30, "14:55:47") == "2017-08-30T14:55:47.000000Z"  # later that day
    assert bsd(stamps, 8, 31, "11:00:00") == "2017-08-31T11:00:00.000000Z"  # within the slack
    assert bsd(stamps, 9, 2, "00:00:00") == "2016-09-02T00:00:00.000000Z"  # after the file: last year
    assert bsd(stamps, 2, 29, "12:00:00") == "2016-02-29T12:00:00.000000Z"  # the last leap year


def test_mtime_is_compared_in_the_local_zone() -> None:
    # 2017-12-31T23:30 in New York is already 2018-01-01 in UTC.
    stamps = BsdStamps(LocalTime("America/New_York"), None, epoch("2018-01-01T04:30:00"))
    assert bsd(stamps, 1, 1, "00:10:00") == "2018-01-01T05:10:00.000000Z"  # within a day of the mtime
    assert bsd(stamps, 1, 2, "00:10:00") == "2017-01-02T05:10:00.000000Z"  # a day after its local time
    assert bsd(stamps, 12, 31, "23:00:00") == "2018-01-01T04:00:00.000000Z"


def test_feb_29_in_a_given_year_that_is_not_leap_is_no_date() -> None:
    stamps = BsdStamps(LocalTime("UTC"), 2017, None)
    assert bsd(stamps, 2, 29, "12:00:00") is None


def test_impossible_stamps_are_not_parsed_and_take_the_previous_time() -> None:
    lines = ["Aug 30 14:55:47 gorp a: ok", "Feb 30 10:00:00 gorp a: no such day", "Aug 30 25:00:00 gorp a: no hour"]
    docs = parse_text("syslog", Lines(lines, [0, 30, 60]), year=2017)
    assert [d["@timestamp"] for d in docs] == ["2017-08-30T14:55:47.000000Z"] * 3
    assert docs[1]["tags"] == ["timestamp_inferred"] and docs[1]["process"]["name"] == "a"


def test_a_leap_second_stays_in_its_minute() -> None:
    assert syslog_stamps(["Dec 31 23:59:60 gorp a: leap"], year=2016) == ["2016-12-31T23:59:59.000000Z"]


# -- zones and DST ------------------------------------------------------------------------------


def test_dst_changes_in_europe() -> None:
    local = LocalTime("Europe/Berlin")
    assert local.to_utc(2021, 3, 28, 1, 59, 59) == "2021-03-28T00:59:59"  # CET
    assert local.to_utc(2021, 3, 28, 2, 30, 0) == "2021-03-28T01:30:00"  # skipped hour: fold=0, CET
    assert local.to_utc(2021, 3, 28, 3, 0, 0) == "2021-03-28T01:00:00"  # CEST
    assert local.to_utc(2021, 10, 31, 2, 30, 0) == "2021-10-31T00:30:00"  # repeated hour: first (CEST)
    assert local.to_utc(2021, 10, 31, 3, 0, 0) == "2021-10-31T02:00:00"  # CET again


def test_dst_change_inside_a_syslog_file() -> None:
    lines = [
        "Mar 14 01:59:59 web a: before",
        "Mar 14 03:00:00 web a: after the spring-forward",
        "Nov  7 01:30:00 web a: the repeated hour",
        "Nov  7 02:00:00 web a: standard time",
    ]
    assert syslog_stamps(lines, year=2021, timezone="America/New_York") == [
        "2021-03-14T06:59:59.000000Z",
        "2021-03-14T07:00:00.000000Z",
        "2021-11-07T05:30:00.000000Z",
        "2021-11-07T07:00:00.000000Z",
    ]


def test_offsets_that_are_not_whole_hours() -> None:
    assert LocalTime("Asia/Kolkata").to_utc(2020, 1, 1, 0, 15, 0) == "2019-12-31T18:45:00"
    assert LocalTime("Asia/Kathmandu").to_utc(2020, 1, 1, 0, 0, 0) == "2019-12-31T18:15:00"
    # Amsterdam's offset was +00:19:32 in 1920: not whole minutes, still right.
    assert LocalTime("Europe/Amsterdam").to_utc(1920, 6, 1, 12, 0, 0) == "1920-06-01T10:40:28"
    stamps = BsdStamps(LocalTime("Europe/Amsterdam"), 1920, None)
    assert bsd(stamps, 1, 1, "12:00:10") == "1920-01-01T11:40:38.000000Z"
    iso = IsoStamps(LocalTime("Europe/Amsterdam"))
    assert iso.convert("1920-06-01T12:00:00") == "1920-06-01T10:40:28.000000Z"
    assert iso.convert("1920-06-01T12:00:07.5") == "1920-06-01T10:40:35.500000Z"


# -- ISO, log4j, epochs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2018-08-14T14:30:02.203151+02:00", "UTC", "2018-08-14T12:30:02.203151Z"),
        ("1986-04-26T01:23:45.101+0400", "UTC", "1986-04-25T21:23:45.101000Z"),
        ("2019-06-14T10:40:20.912134", "Europe/Berlin", "2019-06-14T08:40:20.912134Z"),
        ("2022-10-24T00:00:05+0000", "Asia/Tokyo", "2022-10-24T00:00:05.000000Z"),
        ("2003-10-11T22:14:15.003Z", "UTC", "2003-10-11T22:14:15.003000Z"),
        ("2019-01-01T12:00:00,123", "Europe/Berlin", "2019-01-01T11:00:00.123000Z"),
        ("2019-01-18T08:55:08,159+0100", "UTC", "2019-01-18T07:55:08.159000Z"),
        ("2021-04-09T03:13:22,289Z", "UTC", "2021-04-09T03:13:22.289000Z"),
        ("2016-09-15 08:52:04,867", "UTC", "2016-09-15T08:52:04.867000Z"),
        ("2005-06-21 14:55:10 UTC", "Europe/Berlin", "2005-06-21T14:55:10.000000Z"),
        ("2020-01-01T00:00:00.123456789-05", "UTC", "2020-01-01T05:00:00.123456Z"),
    ],
)
def test_iso_stamps(text: str, zone: str, expected: str) -> None:
    assert IsoStamps(LocalTime(zone)).convert(text) == expected


def test_invalid_iso_stamps() -> None:
    iso = IsoStamps(LocalTime("UTC"))
    assert iso.convert("0000-12-30 00:00:00") is None
    assert iso.convert("2019-13-01T00:00:00Z") is None
    assert iso.convert("2019-01-01T00:00:00+25:00") is None
    assert iso.convert("not a stamp") is None


def test_iso_work_is_done_once_per_minute() -> None:
    local = LocalTime("Europe/Berlin")
    iso = IsoStamps(local)
    with patch.object(iso, "_compute", wraps=iso._compute) as compute, \
            patch.object(local, "minute", wraps=local.minute) as local_minute:
        assert iso.convert("2019-01-01T12:00:00,123") == "2019-01-01T11:00:00.123000Z"
        assert iso.convert("2019-01-01T12:00:00,456") == "2019-01-01T11:00:00.456000Z"
        assert iso.convert("2019-01-01T12:00:59") == "2019-01-01T11:00:59.000000Z"
        assert (local_minute.call_count, compute.call_count) == (1, 0)
        assert iso.convert("2019-01-01T12:01:00+01:00") == "2019-01-01T11:01:00.000000Z"
        assert iso.convert("2019-01-01T12:00:60Z") == "2019-01-01T12:00:59.000000Z"
        assert iso.convert("2019-01-01T12:00:61Z") is None
        assert (local_minute.call_count, compute.call_count) == (1, 2)


def test_rfc3164_work_is_done_once_per_minute() -> None:
    stamps = BsdStamps(LocalTime("Europe/Berlin"), 2017, None)
    bsd(stamps, 8, 30, "14:55:47")
    assert stamps.minutes == {"8/30 14:55": "2017-08-30T12:55:"}
    assert bsd(stamps, 8, 30, "14:55:52") == "2017-08-30T12:55:52.000000Z"
    assert len(stamps.minutes) == 1


def test_epochs() -> None:
    assert from_epoch_micros("1666584053027504") == "2022-10-24T04:00:53.027504Z"
    assert from_epoch_micros("1666584053000001") == "2022-10-24T04:00:53.000001Z"
    assert from_epoch_micros("42") == "1970-01-01T00:00:00.000042Z"
    assert from_epoch_micros("") is None
    assert from_epoch_micros("12x4") is None
    assert from_epoch_micros("9" * 30) is None
    assert from_epoch(1504104947.5) == "2017-08-30T14:55:47.500000Z"


def test_zone_offsets() -> None:
    assert [zone_offset(z) for z in ("Z", " UTC", "+02:00", "+0200", "-05", "+2400")] == [0, 0, 7200, 7200, -18000, None]
