"""`causes --store X` and `report` without --config linked with the default 10-minute window,
whatever window the runs that wrote the store used. A run records its window in the store; read
without a config, the store's incidents link with it (the last run's, said once on stderr when
runs used different ones); a store without the record (written before) reads as it did."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

from shipper.cli import main
from shipper.env import Env

DATA = Path(__file__).resolve().parents[1] / "data"
FEDORA = DATA / "corpus" / "derived" / "fedora37-no-rtc" / "journal.short-iso.log"
TESTER = DATA / "tester" / "sysd.log"
# The field report's logs: a 1 s window leaves the failure without its SYSERRs, 5 s before it.
DEMO = Path(__file__).resolve().parents[2] / "demo" / "logs"
MIXED = "linked incidents with different windows"


def _env() -> Env:
    return Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})


def _replay(store: Path, log: Path, config: Path | None = None) -> None:
    args = ["replay", "--quiet", "--store", str(store), "--year", "2017", "--timezone", "UTC", str(log)]
    assert main(args + (["--config", str(config)] if config else []), _env()) == 0


def _causes(store: Path, config: Path | None = None) -> tuple[dict[str, Any], str]:
    env = _env()
    args = ["causes", "--store", str(store), "--format", "json"] + (["--config", str(config)] if config else [])
    assert main(args, env) == 0
    return json.loads(env.stdout.getvalue()), env.stderr.getvalue()  # type: ignore[attr-defined]


def _window_config(tmp_path: Path, window: str) -> Path:
    config = tmp_path / f"w{window}.yml"
    config.write_text(f"recognise:\n  incident_window: {window}\n")
    return config


def test_causes_links_with_the_window_the_store_was_written_with(tmp_path: Path) -> None:
    one_second = _window_config(tmp_path, "1s")
    store, default = tmp_path / "s.db", tmp_path / "d.db"
    _replay(store, DEMO, one_second)
    _replay(default, DEMO)
    as_written, err = _causes(store, one_second)
    assert err == ""
    assert _causes(store) == (as_written, "")  # no config: the store's window, not the default
    by_default, _ = _causes(default)
    assert len(as_written["incidents"]) == 10 and len(by_default["incidents"]) == 3
    hints = [i["hint"] for i in as_written["incidents"] if "no recognised error" in i["hint"]]
    assert hints and all("in the last 1 second;" in h for h in hints)
    ten_minutes = _window_config(tmp_path, "10m")
    assert _causes(store, ten_minutes)[0] == by_default  # a config still says otherwise


def test_a_store_without_the_record_reads_with_the_default(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    _replay(store, FEDORA, _window_config(tmp_path, "1s"))
    with sqlite3.connect(store) as db:  # as a store written before the window was recorded
        assert db.execute("DELETE FROM meta WHERE key = 'incident_windows'").rowcount == 1
    db.close()
    default = tmp_path / "d.db"
    _replay(default, FEDORA)
    assert _causes(store) == (_causes(default)[0], "")


def test_runs_with_different_windows_link_with_the_last_and_say_so_once(tmp_path: Path) -> None:
    store, default = tmp_path / "s.db", tmp_path / "d.db"
    _replay(store, FEDORA, _window_config(tmp_path, "1s"))
    _replay(store, TESTER)  # the default window, last
    for log in (FEDORA, TESTER):
        _replay(default, log)
    incidents, err = _causes(store)
    assert incidents == _causes(default)[0]
    assert err == (f"causes: the runs that wrote {store} linked incidents with different windows (1 second, "
                   "10 minutes); linking with the last run's, 10 minutes (--config with recognise.incident_window "
                   "chooses another)\n")
    env = _env()
    assert main(["report", "--store", str(store), "-o", str(tmp_path / "r.html")], env) == 0
    said = env.stderr.getvalue().splitlines()  # type: ignore[attr-defined]
    assert [line for line in said if MIXED in line] == [err.replace("causes:", "report:", 1).rstrip("\n")]
    _replay(store, TESTER, _window_config(tmp_path, "1s"))  # 1 second again: the last now
    assert "(10 minutes, 1 second); linking with the last run's, 1 second" in _causes(store)[1]
