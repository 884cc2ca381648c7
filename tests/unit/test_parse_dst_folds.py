"""Local times around changes of summer time, with real zone data: the repeated autumn hour read in
order (the second pass is not taken for the first), the skipped spring hour mapped as zoneinfo and
mktime map it and tagged ``timestamp_nonexistent``, fixed offsets as zones (--timezone +02:00).

The pass of a repeated hour is parser state: per stream, carried across blocks by the parallel
replay, and the same in the express lane (C) as in the Python stages.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.cli import main
from shipper.config import load_config
from shipper.env import Env
from shipper.errors import ConfigError
from shipper.parse.base import ParseContext
from shipper.parse.common import TAG_TIMESTAMP_NONEXISTENT
from shipper.parse.localtime import FOLD_SLACK, Fold, LocalTime, load_zone
from shipper.parse.syslog import SyslogParser
from shipper.parse.timestamps import BsdStamps
from shipper.sources.base import Origin, RawChunk
from tests.helpers.es import err
from tests.helpers.express import needs_lane
from tests.helpers.parse import Lines, parse_text
from tests.unit.test_express_lines import same_with_and_without
from tests.unit.test_parallel_replay import in_parallel, one_process

BERLIN: dict[str, Any] = {"timezone": "Europe/Berlin", "year": 2017}

# The tester's dst.log: Berlin's clocks went back at 03:00 CEST on 2017-10-29 (01:00Z).
AUTUMN = [
    "Oct 29 01:59:59 h1 app[1]: a",
    "Oct 29 02:00:00 h1 app[1]: b first pass",
    "Oct 29 02:30:00 h1 app[1]: c first pass",
    "Oct 29 02:59:59 h1 app[1]: d first pass",
    "Oct 29 02:00:00 h1 app[1]: e second pass",
    "Oct 29 02:30:00 h1 app[1]: f second pass",
    "Oct 29 03:00:00 h1 app[1]: g",
]
AUTUMN_UTC = ["2017-10-28T23:59:59", "2017-10-29T00:00:00", "2017-10-29T00:30:00", "2017-10-29T00:59:59",
              "2017-10-29T01:00:00", "2017-10-29T01:30:00", "2017-10-29T02:00:00"]


def stamps(lines: list[str], chunk: int = 2000, **ctx: Any) -> list[str]:
    offsets = [i * 100 for i in range(len(lines))]
    docs = parse_text("syslog", Lines(lines, offsets), chunk=chunk, **ctx)
    return [d["@timestamp"][:19] for d in docs]


def line(t: datetime, text: str, host: str = "h1") -> str:
    return f"{t:%b} {t.day:2d} {t:%H:%M:%S} {host} app[1]: {text}"


def test_the_second_pass_of_the_repeated_hour_is_standard_time() -> None:
    assert stamps(AUTUMN, **BERLIN) == AUTUMN_UTC
    assert stamps(AUTUMN, chunk=1, **BERLIN) == AUTUMN_UTC  # (the state is kept between chunks)


def test_as_zoneinfo_gives_each_pass() -> None:
    """The expectations above are zoneinfo's own readings of the two passes (fold=0, fold=1)."""
    berlin = load_zone("Europe/Berlin")
    first, second = (datetime(2017, 10, 29, 2, 30, tzinfo=berlin, fold=f).astimezone(timezone.utc) for f in (0, 1))
    assert (f"{first:%Y-%m-%dT%H:%M:%S}", f"{second:%Y-%m-%dT%H:%M:%S}") == (AUTUMN_UTC[2], AUTUMN_UTC[5])


def test_new_york_repeats_1_am() -> None:
    lines = ["Nov  5 01:10:00 h a: EDT", "Nov  5 01:50:00 h a: EDT", "Nov  5 01:05:00 h a: EST", "Nov  5 01:55:00 h a: EST",
             "Nov  5 02:00:00 h a: EST"]
    assert stamps(lines, timezone="America/New_York", year=2017) == [
        "2017-11-05T05:10:00", "2017-11-05T05:50:00", "2017-11-05T06:05:00", "2017-11-05T06:55:00", "2017-11-05T07:00:00"]


def test_a_repeated_half_hour_on_lord_howe() -> None:
    """Lord Howe Island's clocks go back 30 minutes, at 02:00 (+11) to 01:30 (+10:30)."""
    lines = ["Apr  2 01:35:00 h a: +11", "Apr  2 01:59:00 h a: +11",
             "Apr  2 01:31:00 h a: +10:30", "Apr  2 02:00:00 h a: +10:30"]
    assert stamps(lines, timezone="Australia/Lord_Howe", year=2017) == [
        "2017-04-01T14:35:00", "2017-04-01T14:59:00", "2017-04-01T15:01:00", "2017-04-01T15:30:00"]


def test_lines_slightly_out_of_order_stay_in_the_first_pass() -> None:
    back = 2017, 10, 29, 2, 40
    local = LocalTime("Europe/Berlin", infer_fold=True)
    assert local.to_utc(*back, 30) == "2017-10-29T00:40:30"
    assert local.to_utc(*back, 30 - FOLD_SLACK // 2) == "2017-10-29T00:40:00"  # back by less than the slack
    assert local.to_utc(*back, 31) == "2017-10-29T00:40:31"
    assert local.to_utc(2017, 10, 29, 2, 39, 30) == "2017-10-29T01:39:30"  # back by more: the second pass
    assert local.to_utc(*back, 31) == "2017-10-29T01:40:31"  # and it stays there


def test_late_lines_after_the_repeated_hour_are_of_its_second_pass_and_a_day_later_it_is_forgotten() -> None:
    local = LocalTime("Europe/Berlin", infer_fold=True)
    assert local.to_utc(2017, 10, 29, 3, 0, 5) == "2017-10-29T02:00:05"
    assert local.to_utc(2017, 10, 29, 2, 59, 58) == "2017-10-29T00:59:58"  # nothing read of the hour: first pass
    assert local.to_utc(2017, 10, 29, 3, 0, 6) == "2017-10-29T02:00:06"
    assert local.to_utc(2017, 10, 29, 2, 59, 59) == "2017-10-29T01:59:59"  # a late line of the second pass
    assert local.state() is not None
    assert local.minute(2017, 10, 30, 3, 1) == "2017-10-30T02:01:"
    assert local.state() is None


def test_without_inference_every_repeated_time_is_the_first_pass() -> None:
    local = LocalTime("Europe/Berlin")
    assert [local.to_utc(2017, 10, 29, 2, m, 0) for m in (50, 10)] == ["2017-10-29T00:50:00", "2017-10-29T00:10:00"]


def test_each_stream_has_its_own_pass() -> None:
    """Host b's log starts in the repeated hour after host a's went through its first pass."""
    origin_a, origin_b = (Origin(f"s{n}", "syslog", path=f"/var/log/{n}") for n in "ab")
    ctx = ParseContext(**BERLIN)
    a, b = SyslogParser(origin_a, ctx), SyslogParser(origin_b, ctx)

    def one(parser: SyslogParser, origin: Origin, text: str) -> str:
        (doc,) = parser.parse(RawChunk(origin, "text", [text], [0])) + parser.flush()
        return str(doc["@timestamp"][:19])

    assert one(a, origin_a, "Oct 29 02:50:00 a app[1]: x") == "2017-10-29T00:50:00"
    assert one(a, origin_a, "Oct 29 02:10:00 a app[1]: y") == "2017-10-29T01:10:00"  # a: back, the second pass
    assert one(b, origin_b, "Oct 29 02:20:00 b app[1]: z") == "2017-10-29T00:20:00"  # b: its first line, the first
    state = a.state()
    c = SyslogParser(origin_a, ctx)
    c.restore(state)  # (as a parallel replay's block starts)
    assert one(c, origin_a, "Oct 29 02:30:00 a app[1]: w") == "2017-10-29T01:30:00"


def test_zone_less_iso_stamps_in_syslog_follow_the_passes_too() -> None:
    lines = ["2017-10-29T02:50:00 h app: x", "2017-10-29T02:05:00 h app: y", "2017-10-29T02:06:00 h app: z"]
    assert stamps(lines, **BERLIN) == ["2017-10-29T00:50:00", "2017-10-29T01:05:00", "2017-10-29T01:06:00"]


# -- the skipped hour ---------------------------------------------------------------------------


def test_a_time_that_does_not_exist_is_read_as_mktime_reads_it_and_tagged() -> None:
    lines = ["Mar 26 01:59:59 h1 app[1]: a", "Mar 26 02:30:00 h1 app[1]: nonexistent spring",
             "<13>Mar 26 02:45:10 h1 app[1]: slow path", "Mar 26 03:00:00 h1 app[1]: c", "Mar 26 02:30:00 h1 app[1]: again"]
    docs = parse_text("syslog", Lines(lines, [i * 100 for i in range(len(lines))]), **BERLIN)
    assert [d["@timestamp"][:19] for d in docs] == [
        "2017-03-26T00:59:59", "2017-03-26T01:30:00", "2017-03-26T01:45:10", "2017-03-26T01:00:00", "2017-03-26T01:30:00"]
    assert [d.get("tags", []) for d in docs] == [[], [TAG_TIMESTAMP_NONEXISTENT], [TAG_TIMESTAMP_NONEXISTENT], [],
                                                 [TAG_TIMESTAMP_NONEXISTENT]]


def test_the_c_library_reads_the_skipped_time_so_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        mktime = time.mktime((2017, 3, 26, 2, 30, 0, 0, 0, -1))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert datetime.fromtimestamp(mktime, timezone.utc) == datetime(2017, 3, 26, 1, 30, tzinfo=timezone.utc)
    assert LocalTime("Europe/Berlin").to_utc(2017, 3, 26, 2, 30, 0) == "2017-03-26T01:30:00"


def test_the_tag_is_documented_with_the_others() -> None:
    fields = (Path(__file__).resolve().parents[2] / "docs" / "fields.md").read_text()
    assert f"`{TAG_TIMESTAMP_NONEXISTENT}`" in fields


# -- the express lane, the parallel replay, the commands -------------------------------------------


def dense_night(start: datetime, hours: int, step: int = 7) -> list[str]:
    """A line every ``step`` seconds of real time from ``start`` (UTC), as a Berlin host writes it."""
    berlin = load_zone("Europe/Berlin")
    return [line((start + timedelta(seconds=s)).astimezone(berlin), f"tick {s}") for s in range(0, hours * 3600, step)]


AUTUMN_NIGHT = dense_night(datetime(2017, 10, 28, 23, 30, tzinfo=timezone.utc), 2)
SPRING_NIGHT = ["Mar 26 02:10:00 h1 app[1]: skipped", "Mar 26 02:10:00 h1 app[1]: skipped twice",
                *dense_night(datetime(2017, 3, 26, 0, 50, tzinfo=timezone.utc), 1, 60)]


def test_a_dense_night_is_in_order() -> None:
    got = stamps(AUTUMN_NIGHT, chunk=97, **BERLIN)
    assert got == sorted(got) and len(set(got)) == len(got) == len(AUTUMN_NIGHT)


@needs_lane
def test_the_express_lane_gives_what_the_python_stages_give(monkeypatch: pytest.MonkeyPatch) -> None:
    data = ("\n".join(AUTUMN_NIGHT + SPRING_NIGHT) + "\n").encode()
    taken = same_with_and_without(monkeypatch, data, (300, 4096, 1 << 20))
    assert taken > len(AUTUMN_NIGHT) // 3  # the lane takes the lines outside the changing hours
    assert same_with_and_without(monkeypatch, data, (300, 4096), warm=True) > 0


def test_a_parallel_replay_carries_the_pass_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "messages"
    path.write_text("\n".join(AUTUMN_NIGHT) + "\n")
    expected, _ = one_process([path], 1024)
    got, summary = in_parallel([path], 1024)
    assert got == expected
    times = [orjson.loads(doc)["@timestamp"] for doc in got.splitlines()]
    assert times == sorted(times) and len(times) == len(AUTUMN_NIGHT)


def test_causes_shows_the_failure_after_its_causes(env: Env, tmp_path: Path) -> None:
    """The tester's dst3.log: a burst at 02:59 CEST, the failure at 02:00 CET, one minute later."""
    log = tmp_path / "maillog"
    bind = "NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: cannot bind: Address already in use"
    burst = ("02:59:45", "02:59:50", "02:59:55", "02:00:00")
    log.write_text("".join(f"Oct 29 {t} gorp sendmail[24097]: {m}\n" for t in burst
                           for m in (bind, "daemon Daemon1: problem creating SMTP socket"))
                   + "Oct 29 02:00:05 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a\n"
                   + "Oct 29 02:00:05 gorp systemd[1]: sendmail.service: Failed with result 'exit-code'.\n")
    db = tmp_path / "events.db"
    assert main(["replay", "--timezone", "Europe/Berlin", "--year", "2017", "--store", str(db), str(log)], env) == 0
    assert main(["causes", "--store", str(db), "--format", "json"], env) == 0
    (incident,) = orjson.loads(env.stdout.getvalue())["incidents"]  # type: ignore[attr-defined]
    assert (incident["first"], incident["when"]) == ("2017-10-29T00:59:45.000000Z", "2017-10-29T01:00:05.000000Z")
    assert incident["causes"]


# -- fixed offsets as zones -----------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "hours"), [("+02:00", 2), ("+0200", 2), ("+02", 2), ("+2", 2), ("-05:30", -5.5),
                                             ("-0530", -5.5), ("+5:45", 5.75), ("-00:00", 0)])
def test_offsets_east_of_utc_are_plus(spec: str, hours: float) -> None:
    assert load_zone(spec).utcoffset(None) == timedelta(hours=hours)


@pytest.mark.parametrize("spec", ["+230", "+24:00", "+02:60", "+"])
def test_offsets_that_are_none(spec: str) -> None:
    with pytest.raises(ValueError):
        load_zone(spec)


def replay(env: Env, tmp_path: Path, *options: str) -> int:
    log = tmp_path / "messages"
    log.write_text("Aug 30 14:55:47 gorp app[1]: hello\n")
    out = str(tmp_path / "o.ndjson")
    return main(["replay", *options, "--year", "2017", "--output", "ndjson", "-o", out, str(log)], env)


def test_replay_takes_an_offset(env: Env, tmp_path: Path) -> None:
    assert replay(env, tmp_path, "--timezone", "+02:00") == 0, err(env)
    assert orjson.loads((tmp_path / "o.ndjson").read_bytes())["@timestamp"] == "2017-08-30T12:55:47.000000Z"
    assert replay(env, tmp_path, "--timezone=-0530") == 0, err(env)
    assert orjson.loads((tmp_path / "o.ndjson").read_bytes())["@timestamp"] == "2017-08-30T20:25:47.000000Z"


def test_utc_plus_2_is_refused_with_both_ways_to_say_it(env: Env, tmp_path: Path) -> None:
    """In a POSIX TZ string UTC+2 is 2 hours west of UTC: the C library reads TZ so, and TZ keeps
    that reading; on the command line or in the configuration it is refused, not guessed."""
    assert replay(env, tmp_path, "--timezone", "UTC+2") == 2
    said = err(env)
    assert "--timezone 'UTC+2' is ambiguous" in said and "-02:00" in said and "+02:00 for east of UTC" in said
    assert not (tmp_path / "o.ndjson").exists()
    env = replace(env, environ={**env.environ, "TZ": "UTC+2"})
    assert replay(env, tmp_path) == 0, err(env)
    assert orjson.loads((tmp_path / "o.ndjson").read_bytes())["@timestamp"] == "2017-08-30T16:55:47.000000Z"


def test_the_timezone_setting_takes_an_offset_and_refuses_utc_plus(tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(f"state_dir: {tmp_path}\nparse:\n  timezone: '+05:30'\n")
    assert load_config(path).parse.timezone == "+05:30"
    path.write_text(f"state_dir: {tmp_path}\nparse:\n  timezone: GMT-3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "timezone 'GMT-3' is ambiguous" in str(caught.value) and "+03:00 for east of UTC" in str(caught.value)


def test_an_unknown_zone_says_how_to_give_an_offset(env: Env, tmp_path: Path) -> None:
    assert replay(env, tmp_path, "--timezone", "Mars/Olympus") == 2
    assert "unknown time zone 'Mars/Olympus'" in err(env) and "+02:00" in err(env)


def test_since_until_take_the_offset_zone(env: Env, tmp_path: Path) -> None:
    assert replay(env, tmp_path, "--timezone", "+02:00", "--since", "2017-08-30T14:55:47") == 0, err(env)
    assert (tmp_path / "o.ndjson").read_bytes().count(b"\n") == 1
    assert replay(env, tmp_path, "--timezone", "+02:00", "--since", "2017-08-30T14:55:48") == 0, err(env)
    assert (tmp_path / "o.ndjson").read_bytes() == b""
    assert main(["causes", "--store", str(tmp_path / "e.db"), "--timezone", "UTC-1", "--since", "2017-08-30"], env) == 2
    assert "--timezone 'UTC-1' is ambiguous" in err(env)



# -- the pass depends on the stamps read, not on the caches of converted minutes ------------------

# A relay's line at 03:05 CET (after the repeated hour), a host's buffered lines of the repeated
# hour: the relay's 03:05:30, after the host's 02:30 (first pass), begins the second pass.
RELAYED = ["03:05:00", "02:30:00", "03:05:30", "02:40:00"]
RELAYED_UTC = ["2017-10-29T02:05:00", "2017-10-29T00:30:00", "2017-10-29T02:05:30", "2017-10-29T01:40:00"]


def relayed_lines(iso: bool) -> list[str]:
    return [f"2017-10-29T{t} h app: {n}" if iso else f"Oct 29 {t} h app[1]: {n}" for n, t in enumerate(RELAYED)]


def read_with_a_break(lines: list[str], at: int) -> list[str]:
    """``lines`` read by one parser up to ``at``, then by a new one (empty caches) from its state,
    as a parallel replay's worker reads the next block."""
    origin = Origin("s", "syslog", path="/var/log/messages")
    first = SyslogParser(origin, ParseContext(**BERLIN))
    docs = first.parse(RawChunk(origin, "text", lines[:at], list(range(at)))) + first.flush()
    second = SyslogParser(origin, ParseContext(**BERLIN))
    second.restore(first.state())
    docs += second.parse(RawChunk(origin, "text", lines[at:], list(range(at, len(lines))))) + second.flush()
    return [str(doc["@timestamp"][:19]) for doc in docs]


@pytest.mark.parametrize("iso", [False, True], ids=["rfc3164", "iso-zoneless"])
def test_the_pass_is_the_same_with_the_minute_cached_or_not(iso: bool) -> None:
    """03:05 is cached by the first line (warm) or not (a new parser from the state: cold)."""
    lines = relayed_lines(iso)
    assert stamps(lines, **BERLIN) == RELAYED_UTC
    assert stamps(lines, chunk=1, **BERLIN) == RELAYED_UTC
    for at in range(1, len(lines)):
        assert read_with_a_break(lines, at) == RELAYED_UTC, f"a new parser from line {at}"


def test_a_cached_minute_never_holds_a_stamp_that_moves_the_pass() -> None:
    local = LocalTime("Europe/Berlin", infer_fold=True)
    stamps_ = BsdStamps(local, 2017, None)
    assert stamps_.convert("Oct 29 03:05", 10, 29, 3, 5, 0) == "2017-10-29T02:05:00.000000Z"
    assert "Oct 29 03:05" in stamps_.minutes
    assert local.to_utc(2017, 10, 29, 2, 30, 0) == "2017-10-29T00:30:00"  # the first pass begins
    end = calendar.timegm((2017, 10, 29, 3, 0, 0))
    first = Fold(end, calendar.timegm((2017, 10, 29, 2, 30, 0)), False)
    assert local.state() == first
    assert stamps_.minutes == {}  # (a stamp at 03:05 ends the first pass)
    assert stamps_.convert("Oct 29 01:05", 10, 29, 1, 5, 0) == "2017-10-28T23:05:00.000000Z"
    assert local.state() == first and "Oct 29 01:05" in stamps_.minutes  # (before the hour: cached)
    assert stamps_.convert("Oct 29 03:05", 10, 29, 3, 5, 30) == "2017-10-29T02:05:30.000000Z"
    assert local.state() == Fold(end, None, True) and "Oct 29 03:05" in stamps_.minutes
    assert stamps_.convert("Oct 30 02:59", 10, 30, 2, 59, 0) == "2017-10-30T01:59:00.000000Z"
    assert local.state() == Fold(end, None, True)  # kept a day
    local.restore(first)  # (a block done again)
    assert stamps_.minutes == {}


def out_of_order_night() -> list[str]:
    """An ordinary night in Berlin, a relay's lines after 03:00 CET among a host's buffered ones of
    the repeated hour (`RELAYED`, again and again), then the morning."""
    night = dense_night(datetime(2017, 10, 28, 23, 0, tzinfo=timezone.utc), 1, 11)
    relayed = []
    for n in range(40):
        relayed += [line(datetime(2017, 10, 29, 3, 5, n), "relay", "relay"),
                    line(datetime(2017, 10, 29, 2, 30, n), f"buffered {n}")]
    return night + relayed + dense_night(datetime(2017, 10, 29, 2, 6, tzinfo=timezone.utc), 1, 11)


def test_a_parallel_replay_of_an_out_of_order_night_is_one_process_s(tmp_path: Path) -> None:
    path = tmp_path / "messages"
    lines = out_of_order_night()
    path.write_text("\n".join(lines) + "\n")
    for block in (700, 1024, 3000):
        expected, _ = one_process([path], block)
        got, _ = in_parallel([path], block)
        assert got == expected, f"block size {block}"
    times = {orjson.loads(doc)["message"]: orjson.loads(doc)["@timestamp"][:19] for doc in expected.splitlines()}
    assert times["buffered 0"] == "2017-10-29T00:30:00"  # the first pass, then the relay's 03:05 ends it
    assert times["buffered 39"] == "2017-10-29T01:30:39"


@needs_lane
def test_the_express_lane_reads_an_out_of_order_night_as_the_python_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    data = ("\n".join(out_of_order_night()) + "\n").encode()
    assert same_with_and_without(monkeypatch, data, (300, 4096, 1 << 20)) > 0
    assert same_with_and_without(monkeypatch, data, (300, 4096), warm=True) > 0


def test_the_year_of_rfc3164_stamps_is_the_same_with_the_minute_cached_or_not() -> None:
    """A late July line after August: the month the year is inferred from goes back to July, cached
    or not, so that January (more than six months before August, not before July) keeps the year."""
    lines = ["Jul  1 10:00:00 h app[1]: a", "Aug  1 10:00:00 h app[1]: b", "Jul  1 10:00:30 h app[1]: late",
             "Jan  1 10:00:00 h app[1]: c"]
    expected = ["2017-07-01T08:00:00", "2017-08-01T08:00:00", "2017-07-01T08:00:30", "2017-01-01T09:00:00"]
    assert stamps(lines, **BERLIN) == expected
    for at in range(1, len(lines)):
        assert read_with_a_break(lines, at) == expected, f"a new parser from line {at}"
