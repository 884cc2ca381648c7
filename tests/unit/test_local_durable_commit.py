"""The daemon's local store commits durably before a batch is acknowledged: its checkpoint then
counts the batch as delivered and a restart does not store it again (`shipper.daemon.streams`),
so a power loss must not roll back what the checkpoint counts. In WAL mode that is
``synchronous=FULL`` (the WAL synced at each commit); a replay keeps NORMAL (synced at checkpoints)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shipper.config.model import Config, LocalOutput, OutputConfig
from shipper.daemon.plan import sink_factory
from shipper.env import Env
from shipper.sinks.factory import make_sinks
from shipper.sinks.local import LocalSink

FULL, NORMAL = 2, 1  # what PRAGMA synchronous reads back

# Writes three batches, each flushed, acknowledging by a write(2) to the file "acks" (seen by strace).
_CHILD = """
import os, sys
from pathlib import Path
from shipper.event import Batch
from shipper.sinks.local import LocalSink
from tests.helpers.local import syslog_docs
where, durable = Path(sys.argv[1]), sys.argv[2] == "durable"
fd = os.open(where / "acks", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
sink = LocalSink(where / "events.db", durable=durable)
sink.open(lambda seq: os.write(fd, b"ack %d" % seq))
for seq in range(3):
    sink.write(Batch(syslog_docs(5, start=seq * 5), seq=seq))
    sink.flush()
sink.close()
"""
_LINE = re.compile(r'^(\d+)\s+(fsync|fdatasync|write)\(\d+<([^>]*)>(?:, "([^"]*)")?')


def synchronous(sink: LocalSink) -> int:
    assert sink._store is not None
    (mode,) = sink._store.db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"
    return int(sink._store.db.execute("PRAGMA synchronous").fetchone()[0])


def test_the_daemon_store_commits_durably_and_replay_does_not(tmp_path: Path, env: Env) -> None:
    cfg = Config(state_dir=tmp_path, output=OutputConfig(local=LocalOutput(path=tmp_path / "events.db")))
    daemon = sink_factory(cfg, env)()  # the sink `shipper run` makes
    (replay,) = make_sinks(cfg, env, state_dir=tmp_path)
    assert isinstance(daemon, LocalSink) and isinstance(replay, LocalSink)
    daemon.open(lambda seq: None)
    replay.open(lambda seq: None)
    try:
        assert synchronous(daemon) == FULL
        assert synchronous(replay) == NORMAL
    finally:
        daemon.close()
        replay.close()


def traced(tmp_path: Path, mode: str) -> list[tuple[str, str, str]]:
    """The child's syncs and acknowledgements in order: (thread, what, file or ack)."""
    where = tmp_path / mode
    where.mkdir()
    trace = tmp_path / f"{mode}.trace"
    root = Path(__file__).resolve().parents[2]
    command = ["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync,write", "-o", str(trace),
               sys.executable, "-c", _CHILD, str(where), mode]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    out = []
    for line in trace.read_text().splitlines():
        m = _LINE.match(line)
        if m and m.group(2) != "write":
            out.append((m.group(1), "sync", Path(m.group(3)).name))
        elif m and m.group(3).endswith("/acks"):
            out.append((m.group(1), "ack", m.group(4)))
    return out


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_each_acknowledgement_follows_a_sync_of_the_wal_by_the_writer_thread(tmp_path: Path) -> None:
    events = traced(tmp_path, "durable")
    acks = [i for i, (_, what, _) in enumerate(events) if what == "ack"]
    assert [events[i][2] for i in acks] == ["ack 0", "ack 1", "ack 2"]
    acker = events[acks[0]][0]
    for before, at in zip([-1, *acks], acks):
        # the writer thread's commit of this batch synced the WAL (the acknowledging thread's own
        # syncs are the full-text index's transactions, made after an acknowledgement)
        assert any(thread != acker and what == "sync" and name == "events.db-wal"
                   for thread, what, name in events[before + 1:at]), events


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_replay_commits_without_syncing(tmp_path: Path) -> None:
    events = traced(tmp_path, "replay")
    acks = [i for i, (_, what, _) in enumerate(events) if what == "ack"]
    assert len(acks) == 3
    acker = events[acks[0]][0]
    assert not [e for e in events[:acks[-1]] if e[0] != acker and e[1] == "sync"], events
