"""The daemon's NDJSON file is on disk before a batch is acknowledged: its checkpoint then counts
the batch as delivered, and a restart does not send it again (`shipper.daemon.streams`), so a
power loss must not take lines the checkpoint counts. A replay only syncs at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipper.config.model import Config, NdjsonOutput, OutputConfig
from shipper.env import Env
from shipper.event import Batch
from shipper.sinks.factory import make_sinks
from shipper.sinks.ndjson import NdjsonSink


def written(sink: NdjsonSink, monkeypatch: pytest.MonkeyPatch, batches: int) -> list[str]:
    """What happened, in order: each fsync of the output and each acknowledgement."""
    events: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    sink.open(lambda seq: events.append(f"ack {seq}"))
    for seq in range(batches):
        batch = Batch([{"@timestamp": "2017-08-30T14:55:52.000000Z", "message": f"line {seq}"}])
        batch.seq = seq
        sink.write(batch)
    return events


def test_a_durable_file_is_synced_before_each_acknowledgement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = NdjsonSink(path=tmp_path / "out.ndjson", durable=True)
    assert written(sink, monkeypatch, 3) == ["fsync", "ack 0", "fsync", "ack 1", "fsync", "ack 2"]
    sink.close()
    assert len((tmp_path / "out.ndjson").read_bytes().splitlines()) == 3


def test_a_replay_file_is_synced_at_the_end_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = NdjsonSink(path=tmp_path / "out.ndjson", truncate=True)
    events = written(sink, monkeypatch, 3)
    assert events == ["ack 0", "ack 1", "ack 2"]
    sink.flush()  # (as the pipeline does at the end: a file not flushed after its last write is not complete)
    sink.close()
    assert events[-1] == "fsync" and len((tmp_path / "out.ndjson").read_bytes().splitlines()) == 3


def test_the_daemon_gets_a_durable_file_and_replay_does_not(tmp_path: Path, env: Env) -> None:
    cfg = Config(output=OutputConfig(ndjson=NdjsonOutput(path=tmp_path / "out.ndjson")))
    (daemon,) = make_sinks(cfg, env, state_dir=tmp_path, daemon=True)
    (replay,) = make_sinks(cfg, env, state_dir=tmp_path)
    assert isinstance(daemon, NdjsonSink) and isinstance(replay, NdjsonSink)
    assert daemon._durable and not replay._durable
