"""Rotation while a writer writes: rename (then compression), copytruncate, rename with immediate
compression, followed by a real `shipper run`. Every line must be stored exactly once."""

from __future__ import annotations

import gzip
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.helpers.local import stored

N = 8_000


def line(i: int) -> str:
    return f"Aug 30 15:{i // 3000:02d}:{i // 50 % 60:02d} gorp app[{i % 500}]: rotating line {i}"


class Writer(threading.Thread):
    """Appends lines (O_APPEND, as syslog daemons do) and rotates the file three ways."""

    def __init__(self, log: Path) -> None:
        super().__init__(daemon=True)
        self.log = log
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._write()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _write(self) -> None:
        out = open(self.log, "a")
        for i in range(N):
            out.write(line(i) + "\n")
            if i % 50 == 0:
                out.flush()
                time.sleep(0.005)
            if i == N // 4:  # rename; the writer goes on in the old file until it reopens
                out.flush()
                os.rename(self.log, self.log.with_name("app.log.1"))
            elif i == N // 4 + 100:
                out.close()
                out = open(self.log, "a")
            elif i == N // 4 + 1500:  # compressed afterwards (delaycompress)
                gzip_file(self.log.with_name("app.log.1"))
            elif i == N // 2:  # copytruncate (the writer pauses: logrotate's own race is not ours)
                out.flush()
                shutil.copy(self.log, self.log.with_name("app.log.2"))
                with open(self.log, "r+") as f:
                    f.truncate(0)
            elif i == 3 * N // 4:  # rename and compress at once
                out.close()
                os.rename(self.log, self.log.with_name("app.log.3"))
                out = open(self.log, "a")
                gzip_file(self.log.with_name("app.log.3"))
        out.close()


def gzip_file(path: Path) -> None:
    with open(path, "rb") as src, gzip.open(f"{path}.gz.tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
    old = time.time() - 3600  # logrotate's archive is complete when it appears
    os.utime(f"{path}.gz.tmp", (old, old))
    os.rename(f"{path}.gz.tmp", f"{path}.gz")
    path.unlink()


def test_every_line_once_through_three_kinds_of_rotation(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text("")
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "paths": [str(logs / "app.log*")], "exclude": ["*.tmp"], "flush_after": "500ms"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "run": {"batch_wait": "100ms"},
    })
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        time.sleep(0.5)
        writer = Writer(log)
        writer.start()
        writer.join(120)
        assert writer.error is None, writer.error
        wait_for(lambda: sum(stored(tmp_path).values()) >= N, 120, f"{N} lines")
        time.sleep(1.5)  # a late duplicate (a line read twice) would show up now
        assert daemon.stop() == 0
    got = stored(tmp_path)
    expected = Counter(line(i).split(": ", 1)[1] for i in range(N))
    assert got - expected == Counter(), f"stored twice or extra: {sorted(got - expected)[:5]}"
    assert expected - got == Counter(), f"lost: {sorted(expected - got)[:5]}"
    assert "shipper.gap" not in daemon.output()
