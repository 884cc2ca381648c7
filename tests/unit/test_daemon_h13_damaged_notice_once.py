"""A real journal file with an entry sd_journal gives without some of its fields (the corpus's
no-rtc ``user-1000.journal``), followed by ``shipper run`` into NDJSON: the read error that says so
("1 journal entry was read without some of their fields") was shipped again, with the same id, at
every restart and every reload (the checkpoint resumes before what was shipped, and the entries
read again were held back, not the read error about them): one more copy in the file each time."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import orjson
import pytest
import zstandard

from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")

CORPUS = Path(__file__).resolve().parents[1] / "data/corpus/real/systemd/no-rtc/user-1000.journal.zst"
DOCS = 297  # what it ships: 296 entries sd_journal reads (of the 312 its header counts), and the read error
NOTICE = "shipper: 1 journal entry was read without some of their fields"


def _docs(out: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in out.read_bytes().splitlines()] if out.exists() else []


def _settled(state: Path, at_least: int) -> None:
    """Wait until this run read ``at_least`` documents, delivered them, and read nothing more for a second."""
    def counts() -> tuple[int, int] | None:
        status = read_status(state)
        read = status.get("inputs", {}).get("journal-user", {}).get("read", 0)
        ok = status.get("state") == "running" and read >= at_least and status.get("in_flight_batches") == 0
        return (read, status.get("shipped", 0)) if ok else None

    before = wait_for(counts, 60, f"{at_least} documents read and delivered")
    while True:
        time.sleep(1)
        now = wait_for(counts, 60, "the documents delivered")
        if now == before:
            return
        before = now


def test_the_notice_of_a_damaged_entry_is_shipped_once_across_restarts_and_reloads(tmp_path: Path) -> None:
    jr, state, out = tmp_path / "jr", tmp_path / "state", tmp_path / "out.ndjson"
    jr.mkdir()
    with CORPUS.open("rb") as src, (jr / "user-1000.journal").open("wb") as dst:
        zstandard.ZstdDecompressor().copy_stream(src, dst)
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state), "inputs": [{"type": "journal", "name": "user", "path": str(jr)}],
        "parse": {"timezone": "UTC"}, "output": {"ndjson": {"path": str(out)}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "5s"}})
    for run in range(2):
        (state / "status.json").unlink(missing_ok=True)  # (the next one is this run's)
        with DaemonProcess(cfg, tmp_path / f"stderr{run}.txt") as daemon:
            _settled(state, 1 if run else DOCS)  # (a restart reads again from before what was shipped)
            if run:  # and a reload
                (state / "status.json").unlink()
                daemon.signal(signal.SIGHUP)
                _settled(state, 1)
            assert daemon.stop() == 0, daemon.output()
    docs = _docs(out)
    notices = [d for d in docs if str(d["message"]).startswith(NOTICE)]
    assert len(notices) == 1, notices
    ids = [d["event"]["id"] for d in docs]  # type: ignore[index]
    assert len(ids) == len(set(ids)) == DOCS
