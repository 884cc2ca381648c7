"""An NDJSON output that cannot be written (a full disk, a file size limit) is an OutputError
(exit 5) that names the output and why, for a file and for standard output, not a crash (exit 1).
The writes are real: /dev/full answers every write with ENOSPC."""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import OutputError
from shipper.event import Batch
from shipper.sinks.ndjson import NdjsonSink
from tests.helpers.es import err

ROOT = Path(__file__).resolve().parents[2]
MAILLOG = ROOT / "demo" / "logs" / "maillog"
FULL = "/dev/full"
pytestmark = pytest.mark.skipif(not os.path.exists(FULL), reason="needs /dev/full")


def replay(env: Env, *args: str) -> int:
    return main(["replay", "--timezone", "UTC", "--year", "2017", "--output", "ndjson", *args, str(MAILLOG)], env)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_full_file_system_under_o_is_exit_5(env: Env, workers: str) -> None:
    assert replay(env, "--workers", workers, "-o", FULL) == 5, err(env)
    assert "cannot write /dev/full: No space left on device" in err(env)
    assert "unexpected" not in err(env)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_full_standard_output_is_exit_5(env: Env, workers: str) -> None:
    with open(FULL, "wb") as full:
        env.stdout = io.TextIOWrapper(full)  # `shipper replay ... > /dev/full`
        assert replay(env, "--workers", workers) == 5, err(env)
    assert "cannot write standard output: No space left on device" in err(env)
    assert "unexpected" not in err(env)


def test_a_file_over_the_size_limit_is_exit_5(tmp_path: Path) -> None:
    """A regular file (flushed and fsynced) that cannot grow: `ulimit -f`, EFBIG."""
    out = tmp_path / "out.ndjson"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))  # (Python ignores SIGXFSZ: writes fail)

    proc = subprocess.run(
        [sys.executable, "-m", "shipper", "replay", "--timezone", "UTC", "--year", "2017", "--quiet",
         "--output", "ndjson", "-o", str(out), str(MAILLOG)],
        capture_output=True, text=True, timeout=120, preexec_fn=limit, cwd=ROOT,
    )
    assert proc.returncode == 5, proc.stderr
    assert f"shipper: error: cannot write {out}: File too large" in proc.stderr
    assert not out.exists()  # the partial file is deleted (test_replay_operator_outputs: an old one stays)


def test_a_failed_write_still_closes_the_file() -> None:
    """The sinks are closed after a failed write: the file is closed too (the daemon, which
    reloads, would otherwise keep a descriptor per failure), and that close fails as clearly."""
    before = len(os.listdir("/proc/self/fd"))
    sink = NdjsonSink(path=Path(FULL))
    sink.open(lambda seq: None)
    with pytest.raises(OutputError, match="cannot write /dev/full: No space left on device"):
        sink.write(Batch([{"message": "x"}], seq=0))
    with pytest.raises(OutputError, match="cannot write /dev/full"):
        sink.close()
    assert len(os.listdir("/proc/self/fd")) == before
    sink.close()  # once closed, closing again does nothing
