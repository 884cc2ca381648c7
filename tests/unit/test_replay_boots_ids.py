"""`shipper replay` of one journal writer over the boots of a machine without a real-time clock:
each boot starts at the same wall time and writes the same lines at the same seconds, too far
apart in read order for the twins' count (`shipper.ids.KEEP_SECONDS`). The first boot read in a
second keeps the plain id, the others have their boot in their id's key
(`shipper.sources.journal_boots`), in one process and with workers alike (byte for byte); an
ordinary journal (boots one after the other in time) keeps the ids it had."""

from __future__ import annotations

import io
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.config.model import RecogniseConfig
from shipper.enrich.chain import default_enrichers
from shipper.ids import content_key, _digest
from shipper.parallel import replay as parallel_replay
from shipper.parallel import express
from shipper.parallel.replay import ParallelReplay
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.pipeline import Pipeline, Summary
from shipper.sinks.ndjson import NdjsonSink
from shipper.sources.open import open_inputs
from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal

pytestmark = [pytest.mark.skipif(not JOURNAL_REMOTE.exists(), reason="systemd-journal-remote is not installed")]
pytest.importorskip("systemd.journal", reason="systemd-python is not installed")

CTX = ParseContext(timezone="UTC")
BASE = 1_666_569_601_000_000  # 2022-10-24T00:00:01Z, where each boot of the corpus's no-rtc machine begins
PER_BOOT = 600  # four entries a second: 150 seconds, the same in every boot


def boot(name: str, micros: int, start: int = 0, seq: int = 0) -> list[bytes]:
    """A boot's entries, ``start`` seconds after BASE: each second two lines that are twins in it
    ("line K" twice) and two that are not; the same lines at the same seconds in every boot."""
    entries = []
    for i in range(PER_BOOT):
        second = start + i // 4
        message = f"line {second % 7}" if i % 4 < 2 else f"unique {i}"
        fields = {"MESSAGE": message, "SYSLOG_IDENTIFIER": "kernel", "_HOSTNAME": "pi", "_BOOT_ID": name * 32,
                  "__REALTIME_TIMESTAMP": str(BASE + second * 1_000_000 + micros + i % 4),
                  "__MONOTONIC_TIMESTAMP": str(1_000_000 + i)}
        entries.append(export_entry(fields, seq=seq + i))
    return entries


def one_writer(tmp_path: Path, boots: list[list[bytes]]) -> Path:
    """One journal file, one writer, the boots one after the other (as journald goes on writing)."""
    directory = tmp_path / "journal"
    make_journal(directory, b"".join(entry for entries in boots for entry in entries), name="one")
    return directory


def one_process(path: Path) -> tuple[bytes, Summary]:
    out = io.BytesIO()
    groups = open_inputs([str(path)], fmt="auto", max_line_bytes=4096)
    summary = Pipeline(groups, CTX, make_parser, default_enrichers(RecogniseConfig()), [NdjsonSink(out)]).run()
    return out.getvalue(), summary


def in_parallel(path: Path, workers: int = 2) -> tuple[bytes, Summary]:
    out = io.BytesIO()
    groups = open_inputs([str(path)], fmt="auto", max_line_bytes=4096)
    incidents = default_enrichers(RecogniseConfig())[-1]
    summary = ParallelReplay(groups, CTX, incidents, [NdjsonSink(out)], workers).run()
    return out.getvalue(), summary


def docs(ndjson: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in ndjson.splitlines()]


def plain_ids(found: list[dict[str, Any]]) -> dict[str, str]:
    """Each document's id as the twins' count alone gives it (no boot in any key), by cursor: what
    an ordinary journal's entries got before boots were told apart."""
    counts: dict[str, int] = {}
    out = {}
    for d in found:
        key = content_key(d, d["@timestamp"][:19])
        n = counts.get(key, 0)
        counts[key] = n + 1
        out[d["journald"]["cursor"]] = _digest(key) if n == 0 else _digest(f"{key}\x1f{n}")
    return out


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", 250)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)


@pytest.fixture(params=["lane", "python"])
def lane(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The workers' journal lane in C, or the Python stages alone (without the C reader's packs)."""
    if request.param == "python":
        monkeypatch.setattr(express, "native_reader", lambda: None)
    return str(request.param)


def test_one_writer_over_boots_whose_clock_went_back_gives_each_entry_its_id(tmp_path: Path) -> None:
    """Three boots, each at the same 150 seconds: 1,800 entries, 1,800 ids. The first boot keeps
    the plain ids (those the same lines get in /var/log/messages); the others differ."""
    path = one_writer(tmp_path, [boot("a", 5_945), boot("b", 9_823, seq=PER_BOOT), boot("c", 17_222, seq=2 * PER_BOOT)])
    got, summary = one_process(path)
    found = docs(got)
    assert summary.counters["read"] == len(found) == 3 * PER_BOOT
    assert len({d["event"]["id"] for d in found}) == 3 * PER_BOOT
    assert not any("tags" in d for d in found)  # (the mark is no tag of the document)
    plain = plain_ids(found)
    first = [d for d in found if d["journald"]["boot_id"] == "a" * 32]
    assert len(first) == PER_BOOT and all(d["event"]["id"] == plain[d["journald"]["cursor"]] for d in first)


@pytest.mark.parametrize("workers", [2])
def test_workers_give_the_same_bytes_as_one_process(tmp_path: Path, small_segments: None, lane: str, workers: int) -> None:
    """Segments of 250 entries: blocks start in a boot, at a boot's change, and far from the
    block that decided who took their seconds; byte for byte what one process writes."""
    path = one_writer(tmp_path, [boot("a", 5_945), boot("b", 9_823, seq=PER_BOOT), boot("c", 17_222, seq=2 * PER_BOOT)])
    expected, _ = one_process(path)
    got, summary = in_parallel(path, workers)
    assert len({d["event"]["id"] for d in docs(got)}) == 3 * PER_BOOT
    assert got == expected
    assert summary.counters["read"] == 3 * PER_BOOT


def test_an_ordinary_journal_keeps_its_ids(tmp_path: Path, small_segments: None, lane: str) -> None:
    """Boots one after the other in time (a machine with a clock): no entry has its boot in its
    key, in one process and with workers; no block is done again for the claims."""
    path = one_writer(tmp_path, [boot("a", 5_945), boot("b", 9_823, start=200, seq=PER_BOOT),
                                 boot("c", 17_222, start=400, seq=2 * PER_BOOT)])
    expected, _ = one_process(path)
    found = docs(expected)
    assert len(found) == 3 * PER_BOOT
    assert {d["journald"]["cursor"]: d["event"]["id"] for d in found} == plain_ids(found)
    got, summary = in_parallel(path)
    assert got == expected
    assert summary.counters["reruns"] == 0


def test_syslog_blocks_are_not_done_again_for_the_claims(tmp_path: Path) -> None:
    """The claims are a journal input's: the blocks of syslog files (a rotated set's next file's
    first block too) decide nothing and are taken as the workers did them."""
    paths = []
    for hour, name in enumerate(("messages.1", "messages")):  # (one group: the rotated set)
        path = tmp_path / name
        path.write_text("".join(f"Oct 24 {hour:02d}:{i // 60 % 60:02d}:{i % 60:02d} pi app[{i}]: line {i}\n"
                                for i in range(3000)))
        paths.append(path)
    groups = open_inputs([str(p) for p in paths], fmt="syslog", max_line_bytes=4096)
    assert len(groups) == 1
    for group in groups:
        for source in group.sources:
            source.block_size = 8192  # type: ignore[attr-defined]
    out = io.BytesIO()
    summary = ParallelReplay(groups, ParseContext(timezone="UTC", year=2022), default_enrichers(RecogniseConfig())[-1],
                             [NdjsonSink(out)], 2).run()
    assert len(out.getvalue().splitlines()) == 6000
    assert summary.counters["reruns"] == 0


def test_replay_gives_the_ids_the_daemon_gives(tmp_path: Path, small_segments: None) -> None:
    """One writer over the boots is read in the daemon's order: the same marks, the same twins
    counted, the same ids, entry for entry (in one process and with workers)."""
    path = one_writer(tmp_path, [boot("a", 5_945), boot("b", 9_823, seq=PER_BOOT), boot("c", 17_222, seq=2 * PER_BOOT)])
    state, out = tmp_path / "state", tmp_path / "daemon.ndjson"
    config = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state), "inputs": [{"type": "journal", "name": "pi", "path": str(path)}],
        "output": {"ndjson": {"path": str(out)}}, "run": {"batch_wait": "100ms", "status_interval": "200ms"}})

    def shipped() -> bool:
        st = read_status(state)
        return (out.exists() and len(out.read_bytes().splitlines()) >= 3 * PER_BOOT and st.get("in_flight_batches") == 0
                and st.get("queue_events") == 0)

    with DaemonProcess(config, tmp_path / "stderr.txt") as daemon:
        wait_for(shipped, 90, "every entry shipped")
        daemon.signal(signal.SIGTERM)
        assert daemon.stop() == 0, daemon.output()
    daemon_ids = {d["journald"]["cursor"]: d["event"]["id"] for d in docs(out.read_bytes())}
    assert len(set(daemon_ids.values())) == 3 * PER_BOOT
    for got, _ in (one_process(path), in_parallel(path)):
        assert {d["journald"]["cursor"]: d["event"]["id"] for d in docs(got)} == daemon_ids

