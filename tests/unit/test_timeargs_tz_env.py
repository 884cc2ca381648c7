"""The machine's zone from the TZ environment variable, read as the C library reads it: ':' and a
tzfile's path, an IANA name, a POSIX TZ string; unset: /etc/localtime; empty: UTC (glibc's and
musl's tzset). A TZ that was not a bare IANA name stopped replay, causes, report, run and validate
with "unknown time zone '/etc/localtime'" (exit 2)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import zoneinfo
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from shipper import timeargs
from shipper.cli import main
from shipper.daemon.plan import make_plan
from shipper.config.model import load_config
from shipper.env import Env
from shipper.errors import UsageError
from shipper.parse.timestamps import LocalTime, load_zone
from shipper.timeargs import known_zone, local_zone_name
from tests.helpers.es import err

DEMO = Path(__file__).resolve().parents[2] / "demo" / "logs"
BERLIN_RULE = "CET-1CEST,M3.5.0,M10.5.0/3"  # Europe/Berlin since 1996, as a POSIX TZ string
# Every hour of 2024 (Berlin's two changes, on the last Sundays of March and October, among them)
HOURS_2024 = [datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(hours=h) for h in range(366 * 24)]


def tzfile(directory: Path, name: str = "Europe/Berlin") -> Path:
    """A real tzfile (binary TZif) for ``name``, copied into ``directory`` (not under a zoneinfo
    directory: read as a file, not by its name)."""
    for root in zoneinfo.TZPATH:
        if (Path(root) / name).is_file():
            source = Path(root) / name
            break
    else:
        tzdata = pytest.importorskip("tzdata")
        source = Path(tzdata.__file__).parent / "zoneinfo" / name
    copy = directory / "localtime"
    shutil.copyfile(source, copy)
    return copy


def offsets(zone_spec: str) -> list[timedelta | None]:
    zone = load_zone(zone_spec)
    return [moment.astimezone(zone).utcoffset() for moment in HOURS_2024]


def berlin_offsets() -> list[timedelta | None]:
    return offsets("Europe/Berlin")


@pytest.mark.parametrize("form", ["colon path", "path", "posix rule"])
def test_each_form_of_tz_reads_as_the_zone_it_names(tmp_path: Path, form: str) -> None:
    tz = {"colon path": f":{tzfile(tmp_path)}", "path": str(tzfile(tmp_path)), "posix rule": BERLIN_RULE}[form]
    assert local_zone_name({"TZ": tz}) == tz
    assert offsets(tz) == berlin_offsets()
    assert {o for o in offsets(tz)} == {timedelta(hours=1), timedelta(hours=2)}


@pytest.mark.parametrize("tz", ["Europe/Berlin", ":Europe/Berlin"])
def test_an_iana_name_with_or_without_colon(tz: str) -> None:
    assert offsets(local_zone_name({"TZ": tz})) == berlin_offsets()


@pytest.mark.parametrize(("tz", "hours"), [("UTC0", 0), ("JST-9", 9), ("<-03>3", -3), ("EST5", -5)])
def test_posix_strings_without_summer_time(tz: str, hours: int) -> None:
    assert local_zone_name({"TZ": tz}) == tz
    assert set(offsets(tz)) == {timedelta(hours=hours)}


def test_summer_time_without_a_rule_takes_the_c_librarys_default_rule() -> None:
    """glibc: second Sunday of March to first Sunday of November, at 02:00 local time."""
    zone = load_zone(local_zone_name({"TZ": "CET-1CEST"}))
    assert datetime(2024, 3, 10, 0, 59, tzinfo=timezone.utc).astimezone(zone).utcoffset() == timedelta(hours=1)
    assert datetime(2024, 3, 10, 1, 0, tzinfo=timezone.utc).astimezone(zone).utcoffset() == timedelta(hours=2)
    assert datetime(2024, 11, 3, 0, 0, tzinfo=timezone.utc).astimezone(zone).utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize("tz", ["", ":"])
def test_an_empty_tz_is_utc_as_in_the_c_library(tz: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeargs, "LOCALTIME", str(tzfile(tmp_path)))  # not the machine's zone
    assert local_zone_name({"TZ": tz}) == "UTC"


def test_unset_tz_is_the_zone_etc_localtime_links_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "etc-localtime").symlink_to(tzfile(tmp_path))
    monkeypatch.setattr(timeargs, "LOCALTIME", str(tmp_path / "etc-localtime"))
    assert offsets(local_zone_name({})) == berlin_offsets()


def test_unset_tz_with_etc_localtime_a_copied_file_reads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy rather than a link (as in many containers) was taken for UTC."""
    monkeypatch.setattr(timeargs, "LOCALTIME", str(tzfile(tmp_path)))
    name = local_zone_name({})
    assert name == str(tmp_path / "localtime")
    assert offsets(name) == berlin_offsets()


def test_unset_tz_without_etc_localtime_is_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeargs, "LOCALTIME", str(tmp_path / "missing"))
    assert local_zone_name({}) == "UTC"


@pytest.mark.parametrize("tz", ["Mars/Olympus", ":/nonexistent/zone", "Europe", "CET-1CEST,M3.5.0", "UTC0 x"])
def test_a_tz_that_names_no_zone_is_a_usage_error_naming_tz(tz: str) -> None:
    with pytest.raises(UsageError) as exc:
        local_zone_name({"TZ": tz})
    assert exc.value.message == f"the environment variable TZ={tz!r} is not a time zone"
    assert exc.value.hint is not None and ":/etc/localtime" in exc.value.hint and BERLIN_RULE in exc.value.hint


def test_a_tzfile_that_is_not_one_is_no_zone(tmp_path: Path) -> None:
    (tmp_path / "text").write_text("not a TZif file\n")
    assert known_zone(f":{tmp_path / 'text'}") is None and known_zone(str(tmp_path)) is None


def test_local_times_in_a_posix_zone_convert_as_in_the_iana_zone() -> None:
    """The parsers' `LocalTime` takes every form too (replay's workers get the zone as text)."""
    posix, iana = LocalTime(BERLIN_RULE), LocalTime("Europe/Berlin")
    for day, hour in [(31, 1), (31, 2), (31, 3), (30, 12)]:  # March 31 2024: 02:00 -> 03:00
        assert posix.to_utc(2024, 3, day, hour, 30, 0) == iana.to_utc(2024, 3, day, hour, 30, 0)
    assert posix.to_utc(2024, 10, 27, 2, 30, 0) == iana.to_utc(2024, 10, 27, 2, 30, 0) == "2024-10-27T00:30:00"


# The commands, in a process environment with TZ set (or not), as the tester ran them.


def _env(env: Env, monkeypatch: pytest.MonkeyPatch, tz: str | None) -> Env:
    if tz is None:
        monkeypatch.delenv("TZ", raising=False)
    else:
        monkeypatch.setenv("TZ", tz)
    return dataclasses.replace(env, environ=dict(os.environ))


def _tz(tmp_path: Path, form: str) -> str | None:
    return {"colon path": f":{tzfile(tmp_path)}", "posix rule": BERLIN_RULE, "unset": None}[form]


FORMS = ["colon path", "posix rule", "unset"]


@pytest.mark.parametrize("form", FORMS)
def test_replay_reads_local_times_in_the_zone_tz_names(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       form: str) -> None:
    monkeypatch.setattr(timeargs, "LOCALTIME", str(tzfile(tmp_path)))  # unset TZ: a copied Berlin file
    out = tmp_path / "out.ndjson"
    code = main(["replay", "--year", "2017", "--output", "ndjson", "-o", str(out), str(DEMO / "maillog")],
                _env(env, monkeypatch, _tz(tmp_path, form)))
    assert code == 0, err(env)
    first = orjson.loads(out.read_bytes().splitlines()[0])
    assert first["@timestamp"] == "2017-08-30T12:55:47.000000Z"  # Aug 30 14:55:47, summer time in Berlin


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("command", ["causes", "report"])
def test_causes_and_report_read_since_in_the_zone_tz_names(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           form: str, command: str) -> None:
    store = tmp_path / "h.db"
    assert main(["replay", "--timezone", "UTC", "--year", "2017", "--output", "local", "--store", str(store),
                 str(DEMO / "maillog")], env) == 0, err(env)
    monkeypatch.setattr(timeargs, "LOCALTIME", str(tzfile(tmp_path)))
    rest = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    cmd_env = _env(env, monkeypatch, _tz(tmp_path, form))
    assert main([command, "--store", str(store), "--since", "2017-08-30", *rest], cmd_env) == 0, err(cmd_env)
    assert "time zone" not in err(cmd_env)


@pytest.mark.parametrize("form", FORMS)
def test_validate_and_run_plan_take_the_zone_tz_names(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      form: str) -> None:
    """A config without parse.timezone: the daemon's zone is the machine's."""
    monkeypatch.setattr(timeargs, "LOCALTIME", str(tzfile(tmp_path)))
    config = tmp_path / "shipper.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\ninputs: [{{type: file, paths: [{DEMO / 'maillog'}]}}]\n")
    cmd_env = _env(env, monkeypatch, _tz(tmp_path, form))
    assert main(["validate", "--config", str(config)], cmd_env) == 0, err(cmd_env)
    plan = make_plan(load_config(config), cmd_env, lambda *a, **k: None, cmd_env)  # what `shipper run` makes
    assert offsets(plan.ctx.timezone) == berlin_offsets()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_validate_and_run_name_a_tz_that_is_no_zone(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    command: str) -> None:
    config = tmp_path / "shipper.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\ninputs: [{{type: file, paths: [{DEMO / 'maillog'}]}}]\n")
    cmd_env = _env(env, monkeypatch, "Mars/Olympus")
    assert main([command, "--config", str(config)], cmd_env) == 2
    assert "the environment variable TZ='Mars/Olympus' is not a time zone" in err(cmd_env)
    assert not (tmp_path / "state").exists()
