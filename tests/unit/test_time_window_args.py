"""--since/--until (shipper/timeargs.py) as replay, causes and report take them: times out of
range and windows that hold no time are usage errors (exit 2), not crashes or silent empty output."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from shipper.cli import main
from shipper.env import Env
from tests.helpers.es import err

DEMO = Path(__file__).resolve().parents[2] / "demo" / "logs"


@pytest.mark.parametrize(
    ("option", "value", "zone"),
    [
        ("--since", "99999999d", "UTC"),  # 274,000 years ago: was "ValueError: year -271764 is out of range", exit 1
        ("--until", "99999999d", "UTC"),
        ("--since", "99999999999999999999w", "UTC"),  # was OverflowError
        ("--since", "9" * 5000 + "s", "UTC"),  # more digits than int() reads: was ValueError
        ("--since", "0001-01-01", "Europe/Berlin"),  # year 0 in UTC: was OverflowError
        ("--until", "9999-12-31T23:59", "America/New_York"),  # year 10000 in UTC
    ],
)
def test_a_time_out_of_range_is_a_usage_error(env: Env, tmp_path: Path, option: str, value: str, zone: str) -> None:
    code = main(["replay", "--timezone", zone, "--output", "ndjson", "-o", str(tmp_path / "o"), option, value,
                 str(DEMO / "maillog")], env)
    assert code == 2, err(env)
    assert f"{option} '{value}' is not a time from year 1 to 9999 (in UTC)" in err(env)
    assert "an age such as 30m, 2h, 7d" in err(env) and "unexpected" not in err(env)


def test_the_first_and_last_years_are_times(env: Env, tmp_path: Path) -> None:
    """Years before 1000 keep four digits in the stored form, which is compared as text: a
    --since of 0999 ("999-...", after "2017-..." as text) selected nothing."""
    out = tmp_path / "o.ndjson"
    assert main(["replay", "--timezone", "UTC", "--year", "2017", "--output", "ndjson", "-o", str(out),
                 "--since", "0999-01-01", "--until", "9999-12-31T23:59:59Z", str(DEMO / "maillog")], env) == 0
    assert [orjson.loads(x)["@timestamp"][:4] for x in out.read_bytes().splitlines()] == ["2017"] * 7


@pytest.mark.parametrize(
    ("since", "until", "order"),
    [("2018-01-01", "2017-01-01", "after"), ("1h", "2h", "after"), ("2017-08-30", "2017-08-30", "the same time as")],
)
@pytest.mark.parametrize("command", ["replay", "causes", "report"])
def test_a_window_that_holds_no_time_is_refused(env: Env, tmp_path: Path, command: str, since: str, until: str,
                                                order: str) -> None:
    rest = {"replay": ["--output", "ndjson", "-o", str(tmp_path / "o"), str(DEMO / "maillog")],
            "causes": ["--store", str(tmp_path / "e.db")],
            "report": ["--store", str(tmp_path / "e.db"), "-o", str(tmp_path / "r.html")]}[command]
    assert main([command, "--timezone", "UTC", "--since", since, "--until", until, *rest], env) == 2
    assert f"--since '{since}' is {order} --until '{until}'" in err(env)
    assert "give --since the earlier time" in err(env)
    assert not any(tmp_path.iterdir())  # nothing written, no store created


def test_a_zone_that_is_a_directory_is_unknown(env: Env) -> None:
    """`Europe` names a directory of zones: it was "unexpected error: IsADirectoryError", exit 1."""
    assert main(["replay", "--timezone", "Europe", "--output", "ndjson", str(DEMO / "maillog")], env) == 2
    assert "unknown time zone 'Europe'" in err(env)
