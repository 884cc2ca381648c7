"""The crash harness: `shipper run` is killed with SIGKILL at random moments while logs are written.

A writer appends lines to a file (rotated by rename half way) and a systemd-journal-remote process
appends entries to a journal directory. `shipper run` (a real process) ships both to the
Elasticsearch-protocol test server and is killed with ``kill -9`` again and again, each time
restarted at once. At the end every line and entry must be in the server exactly once: nothing
lost, nothing stored under two ids (409s, a document the server already has, are expected).

Variants: the server refuses connections for a while; the disk buffer fills up (a tiny cap) while
the server is away, so that reading pauses.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, LiveJournal, wait_for, write_config
from tests.helpers.journal import JOURNAL_REMOTE

pytestmark = pytest.mark.slow
pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

RNG = random.Random(int(os.environ.get("SHIPPER_CRASH_SEED", "20170830")))


class Writers:
    """Lines into ``logs/messages`` (renamed to messages.1 half way) and entries into a journal."""

    def __init__(self, root: Path, lines: int, entries: int, seconds: float) -> None:
        self.logs = root / "logs"
        self.logs.mkdir()
        self.journal = LiveJournal(root / "journal")
        self.lines, self.entries, self.seconds = lines, entries, seconds
        self.expected: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.journal.write([_entry(0)])
        self.expected["journal entry 0"] += 1
        wait_for(lambda: self.journal.files(), 30, "the journal file")
        self._thread.start()

    def _run(self) -> None:
        steps = 50
        log = self.logs / "messages"
        out = open(log, "a")
        for step in range(steps):
            lo, hi = step * self.lines // steps, (step + 1) * self.lines // steps
            for i in range(lo, hi):
                text = _line(i)
                out.write(text + "\n")
                self.expected[text.split(": ", 1)[1]] += 1
                if i % 97 == 0:  # the same line twice in one second: two events
                    out.write(text + "\n")
                    self.expected[text.split(": ", 1)[1]] += 1
            out.flush()
            if step == steps // 2:  # logrotate: rename, new file; the writer reopens a little later
                os.rename(log, self.logs / "messages.1")
                out.write(_line(-1) + "\n")  # written to the old file after the rename
                self.expected[_line(-1).split(": ", 1)[1]] += 1
                out.close()
                out = open(log, "a")
            jlo, jhi = 1 + step * (self.entries - 1) // steps, 1 + (step + 1) * (self.entries - 1) // steps
            self.journal.write([_entry(j) for j in range(jlo, jhi)])
            self.expected.update(f"journal entry {j}" for j in range(jlo, jhi))
            time.sleep(self.seconds / steps)
        out.close()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def close(self) -> None:
        self._thread.join(60)
        self.journal.close()


def _line(i: int) -> str:
    second = max(i, 0) // 400  # 400 lines per second: many per second, as in a burst
    return f"Aug 30 {15 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d} gorp app[77]: crash line {i}"


def _entry(j: int) -> dict[str, str]:
    return {"MESSAGE": f"journal entry {j}", "SYSLOG_IDENTIFIER": "crashy", "_PID": "88", "_HOSTNAME": "gorp"}


def messages(es: FakeES) -> Counter[str]:
    return Counter(doc["message"] for docs in es.cluster.all_docs().values() for doc in docs.values())


def setup(tmp_path: Path, es: FakeES, **run: Any) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "paths": [str(tmp_path / "logs" / "messages*")], "flush_after": "500ms"},
                   {"type": "journal", "path": str(tmp_path / "journal")}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"elasticsearch": {"hosts": [es.url], "retry_initial": 0.05, "retry_max": 0.5}},
        "run": {"batch_wait": "100ms", **run},
    })


def kill_loop(cfg: Path, tmp_path: Path, kills: int, events: Iterator[None] | None = None) -> None:
    """Start `shipper run`, SIGKILL it after a random moment, again and again."""
    for n in range(kills):
        daemon = DaemonProcess(cfg, tmp_path / "stderr.txt").start()
        time.sleep(RNG.uniform(0.3, 1.6))
        assert daemon.running(), f"shipper run exited by itself:\n{daemon.output()[-3000:]}"
        daemon.kill()
        if events is not None:
            next(events, None)


def finish(cfg: Path, tmp_path: Path, es: FakeES, writers: Writers) -> None:
    """A last run that is left alone: everything arrives, then SIGTERM."""
    wait_for(lambda: writers.done, 120, "the writers")
    writers.close()
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        total = sum(writers.expected.values())
        wait_for(lambda: sum(messages(es).values()) >= total, 120,
                 f"{total} events in the server (have {sum(messages(es).values())})")
        time.sleep(1.0)  # anything late (a duplicate under a new id) would show up now
        assert daemon.stop() == 0, daemon.output()[-3000:]
    got = messages(es)
    missing = writers.expected - got
    extra = got - writers.expected
    assert not missing, f"lost: {sorted(missing)[:10]} ({sum(missing.values())} in all)"
    assert not extra, f"stored twice: {sorted(extra)[:10]} ({sum(extra.values())} in all)"


def test_kill_9_twenty_times_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    with FakeES("8.15.3", security=False) as es:
        cfg = setup(tmp_path, es)
        writers = Writers(tmp_path, lines=12_000, entries=3_000, seconds=12.0)
        writers.start()
        kill_loop(cfg, tmp_path, kills=20)
        finish(cfg, tmp_path, es, writers)


def test_kill_9_while_the_server_refuses_connections(tmp_path: Path) -> None:
    with FakeES("8.15.3", security=False) as es:
        cfg = setup(tmp_path, es)
        writers = Writers(tmp_path, lines=6_000, entries=1_500, seconds=6.0)
        writers.start()

        def outages() -> Iterator[None]:
            es.stop()  # refused for the next kills
            yield
            yield
            yield
            es.start()

        kill_loop(cfg, tmp_path, kills=8, events=outages())
        finish(cfg, tmp_path, es, writers)


def test_kill_9_while_the_disk_buffer_is_full(tmp_path: Path) -> None:
    with FakeES("8.15.3", security=False) as es:
        cfg = setup(tmp_path, es, queue_events=200, spool_max_bytes="1MiB")
        writers = Writers(tmp_path, lines=8_000, entries=1_000, seconds=3.0)
        es.stop()
        writers.start()
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            spool = tmp_path / "state" / "spool"
            sizes: list[int] = []

            def full() -> bool:  # near its bound and no longer growing (a record that would pass it waits)
                sizes.append(sum(p.stat().st_size for p in spool.glob("*.seg")))
                return len(sizes) > 20 and sizes[-1] >= 3 << 18 and sizes[-1] == sizes[-20]

            wait_for(full, 60, "a full disk buffer")
            assert sizes[-1] <= 1 << 20
            daemon.kill()
        kill_loop(cfg, tmp_path, kills=3)
        es.start()
        finish(cfg, tmp_path, es, writers)
