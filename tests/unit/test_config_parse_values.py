"""The parse section's values are checked when the config is loaded (ParseConfig): a ConfigError
(exit 3) naming the file, the line, the key and the fix; --year and --timezone keep their own
usage errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.cli import main
from shipper.config import load_config
from shipper.env import Env
from shipper.errors import ConfigError

MAILLOG = Path(__file__).resolve().parents[2] / "demo" / "logs" / "maillog"

BAD = [
    ("max_line_bytes: 0", "max_line_bytes must be at least 1 byte, not 0", "the default, 64KiB"),
    ("timezone: Mars/X", "timezone 'Mars/X' is not a known time zone", "an IANA name such as UTC"),
    ("timezone: Europe", "timezone 'Europe' is not a known time zone", "an IANA name such as UTC"),
    ("year: 1800", "year 1800 is out of range", "from 1970 to 9999"),
    ("year: 10000", "year 10000 is out of range", "from 1970 to 9999"),
]


@pytest.mark.parametrize(("setting", "problem", "fix"), BAD)
def test_a_bad_parse_value_names_file_line_key_and_fix(tmp_path: Path, setting: str, problem: str, fix: str) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(f"state_dir: {tmp_path}\nparse:\n  {setting}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}:2: parse: {problem}" in str(caught.value) and fix in str(caught.value)


@pytest.mark.parametrize(("setting", "problem", "fix"), BAD)
def test_replay_exits_3_and_blames_no_flag(env: Env, tmp_path: Path, setting: str, problem: str, fix: str) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(f"parse: {{{setting}}}\n")
    assert main(["replay", "--config", str(path), "--output", "ndjson", str(MAILLOG)], env) == 3
    said = env.stderr.getvalue()  # type: ignore[attr-defined]
    assert f"{path}:1: parse: {problem}" in said and "--year" not in said


def test_the_config_and_the_flags_are_each_blamed_for_their_own(env: Env, tmp_path: Path) -> None:
    """A config's year was blamed on --year, which the user never gave; the flags keep their usage
    errors (exit 2) beside a config whose values (the extremes allowed) are good."""
    bad, good = tmp_path / "bad.yml", tmp_path / "good.yml"
    bad.write_text("parse: {year: 1800}\n")
    good.write_text("parse: {year: 1970, timezone: Europe/Berlin, max_line_bytes: 1}\n")
    replay = ["replay", "--output", "ndjson", "-o", str(tmp_path / "o.ndjson")]
    assert main([*replay, "--config", str(bad), str(MAILLOG)], env) == 3
    assert main([*replay, "--config", str(good), "--year", "1800", str(MAILLOG)], env) == 2
    assert main([*replay, "--config", str(good), "--timezone", "Mars/X", str(MAILLOG)], env) == 2
    lines = env.stderr.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines == [f"shipper: error: {bad}:1: parse: year 1800 is out of range: give a year from 1970 to 9999, "
                     "such as 2017, or leave it out (each file's modification time gives it)",
                     "shipper: error: --year 1800 is out of range",
                     "shipper: give a year from 1970 to 9999, such as 2017",
                     "shipper: error: unknown time zone 'Mars/X'",
                     "shipper: use an IANA name such as UTC or Europe/Berlin, or an offset from UTC such as +02:00 "
                     "or -05:30 (+: east of UTC)"]
