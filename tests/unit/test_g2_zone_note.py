"""The replay's note on `timestamp_zone_ignored` events: counted alike by one process
(`shipper.pipeline`) and by workers (`shipper.parallel.work`, `shipper.parallel.replay`), told once
at the end of `shipper replay` (`shipper.commands.replay_notes.zone_note`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.event import TAG_TIMESTAMP_ZONE_IGNORED
from tests.unit.test_parallel_replay import in_parallel, one_process

DATA = Path(__file__).parent.parent / "data"
SHORT_FULL_EDT = DATA / "journalctl_short_full_edt_f6.txt"  # TZ=America/New_York journalctl -o short-full
LINUX = DATA / "corpus" / "real" / "loghub" / "Linux_2k.log"  # RFC 3164 stamps: no zone word


def _replay(env: Env, out: Path, *args: str) -> str:
    assert main(["replay", "--output", "ndjson", "-o", str(out), *args], env) == 0
    return str(env.stderr.getvalue())  # type: ignore[attr-defined]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_note_counts_the_stamps_read_in_another_zone(env: Env, tmp_path: Path, workers: str) -> None:
    said = _replay(env, tmp_path / "out.ndjson", "--timezone", "UTC", "--workers", workers, str(SHORT_FULL_EDT))
    lines = SHORT_FULL_EDT.read_text().count("\n")
    notes = [line for line in said.splitlines() if TAG_TIMESTAMP_ZONE_IGNORED in line]
    assert notes == [
        f"replay: {lines} events' stamps end in a time zone abbreviation that is not one of UTC's (journalctl -o "
        "short-full writes the zone of the machine that wrote the logs, such as EDT for America/New_York); they were "
        "read in UTC (--timezone) and tagged timestamp_zone_ignored: give --timezone (or parse.timezone) the zone "
        "the logs were written in"]


def test_the_note_names_where_the_zone_came_from(env: Env, tmp_path: Path) -> None:
    said = _replay(env, tmp_path / "machine.ndjson", "--workers", "0", str(SHORT_FULL_EDT))  # env: TZ=UTC
    assert "they were read in UTC (the machine's zone)" in said
    config = tmp_path / "shipper.yml"
    config.write_text("parse:\n  timezone: Europe/Berlin\n")
    said = _replay(env, tmp_path / "config.ndjson", "--workers", "0", "--config", str(config), str(SHORT_FULL_EDT))
    assert f"read in Europe/Berlin (parse.timezone of {config})" in said


def test_no_note_when_the_zone_is_the_logs(env: Env, tmp_path: Path) -> None:
    said = _replay(env, tmp_path / "out.ndjson", "--timezone", "America/New_York", str(SHORT_FULL_EDT))
    assert "replay: " in said and "abbreviation" not in said


def test_no_note_with_quiet(env: Env, tmp_path: Path) -> None:
    assert _replay(env, tmp_path / "out.ndjson", "--quiet", "--timezone", "UTC", str(SHORT_FULL_EDT)) == ""


def test_workers_count_them_as_one_process_does(tmp_path: Path) -> None:
    """Zone words among lines the express lane reads, across many blocks: the same count and the
    same bytes with workers as in one process (the counters' context: Europe/Berlin, not EDT)."""
    plain = LINUX.read_text().splitlines()
    edt = SHORT_FULL_EDT.read_text().splitlines()
    mixed = tmp_path / "mixed.log"
    lines = [line for k in range(0, len(plain), 150) for line in plain[k : k + 150] + edt[k // 150 % len(edt) :][:1]]
    mixed.write_text("\n".join(lines) + "\n")
    expected = sum(line in edt for line in lines)
    out, summary = one_process([mixed], 4096)
    assert summary.counters[TAG_TIMESTAMP_ZONE_IGNORED] == expected > 10
    for workers in (1, 2):
        got, parallel = in_parallel([mixed], 4096, workers=workers)
        assert got == out
        assert parallel.counters[TAG_TIMESTAMP_ZONE_IGNORED] == expected
