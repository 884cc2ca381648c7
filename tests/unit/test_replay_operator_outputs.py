"""Where `shipper replay -o` and `shipper report -o` write. An interrupted replay -o FILE leaves the
complete earlier FILE as it was (it was replaced by a partial one), and says so; a replay that
completes replaces it and keeps its mode. ``-o -`` is stdout for replay as for report (replay wrote
a file named ``-``). A missing directory is refused by both, named (report made it, even at /)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode
from tests.helpers.browser import report

ROOT = Path(__file__).resolve().parents[2]
SEED_LOG = ROOT / "tests" / "data" / "seed" / "messages-sendmail.log"
LINES = 300_000


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.log"
    with path.open("wb") as f:
        for start in range(0, LINES, 10_000):
            f.write(b"".join(b"Aug 30 14:%02d:%02d host%d sendmail[%d]: line %d of a big log, long enough\n"
                             % (i // 60 % 60, i % 60, i % 7, i, i) for i in range(start, start + 10_000)))
    return path


def _shipper(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "shipper", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "TZ": "UTC"})


def _interrupt_when(proc: subprocess.Popen[bytes], started: object) -> tuple[int, str]:
    """SIGINT to the replay once ``started()`` (it is writing), then its exit status and stderr."""
    deadline = time.monotonic() + 60
    while not started() and proc.poll() is None and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)
    assert proc.poll() is None, "the replay ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode()


def _temporaries(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_interrupted_replay_leaves_the_earlier_file_as_it_was(big_log: Path, tmp_path: Path, workers: str) -> None:
    out = tmp_path / "keep.nd"
    first = _shipper("replay", "--output", "ndjson", "-o", str(out), "--year", "2017", str(big_log))
    assert first.wait(timeout=120) == 0, first.stderr.read()  # type: ignore[union-attr]
    whole = out.read_bytes()
    assert whole.count(b"\n") == LINES
    out.chmod(0o600)

    def writing() -> bool:
        return any(p.stat().st_size > 1_000_000 for p in _temporaries(tmp_path))

    again = _shipper("replay", "--workers", workers, "--output", "ndjson", "-o", str(out), "--year", "2017",
                     str(big_log))
    code, err = _interrupt_when(again, writing)
    assert code == ExitCode.INTERRUPTED, err
    assert f"replay: interrupted: {out} was left as it was; nothing written" in err
    assert err.rstrip().endswith("shipper: interrupted")
    assert out.read_bytes() == whole and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert _temporaries(tmp_path) == []


def test_an_interrupted_replay_into_a_new_file_creates_none(big_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "new.nd"
    proc = _shipper("replay", "--workers", "0", "--output", "ndjson", "-o", str(out), "--year", "2017", str(big_log))
    code, err = _interrupt_when(proc, lambda: bool(_temporaries(tmp_path)))
    assert code == ExitCode.INTERRUPTED and f"{out} was not created; nothing written" in err
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_replay_into_the_store_says_what_is_stored(big_log: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    proc = _shipper("replay", "--workers", "0", "--store", str(store), "--year", "2017", str(big_log))
    code, err = _interrupt_when(proc, lambda: (tmp_path / "s.db-wal").exists()
                                and (tmp_path / "s.db-wal").stat().st_size > 4_000_000)
    assert code == ExitCode.INTERRUPTED, err
    said = re.search(r"interrupted: ([\d,]+) new events were stored in (.+) before the interrupt;", err)
    assert said is not None and said.group(2) == str(store), err
    with sqlite3.connect(store) as db:  # exactly what the store holds
        assert int(said.group(1).replace(",", "")) == db.execute("SELECT count(*) FROM events").fetchone()[0] > 0
    assert "running the same replay again adds the rest (event ids are deterministic" in err


def test_a_completed_replay_replaces_the_file_and_keeps_its_mode(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "o.nd"
    out.write_text("old\n")
    out.chmod(0o640)
    inode = out.stat().st_ino
    assert main(["replay", "--output", "ndjson", "-o", str(out), "--year", "2017", str(SEED_LOG)], env) == 0
    assert out.read_bytes().count(b"\n") == 10 and out.stat().st_ino != inode
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and _temporaries(tmp_path) == []


def test_dash_is_stdout_for_replay_too(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["replay", "--output", "ndjson", "-o", "-", "--year", "2017", str(SEED_LOG)], env) == 0
    assert env.stdout.buffer.getvalue().count(b"\n") == 10  # type: ignore[attr-defined]
    assert not (tmp_path / "-").exists()
    assert "replay: 10 entries read from 1 input" in env.stderr.getvalue()  # type: ignore[attr-defined]


def test_dash_stdout_keeps_progress_and_summary_off_stdout(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "shipper", "replay", "--output", "ndjson", "-o", "-", "--year",
                           "2017", str(SEED_LOG)], cwd=tmp_path, capture_output=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = proc.stdout.splitlines()
    assert len(lines) == 10 and all(line.startswith(b'{"@timestamp"') for line in lines)
    assert b"10 entries read" in proc.stderr and not (tmp_path / "-").exists()


def test_a_missing_directory_is_refused_by_replay_and_report(env: Env, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    assert main(["replay", "--output", "ndjson", "-o", str(missing / "o.nd"), "--year", "2017", str(SEED_LOG)],
                env) == ExitCode.OUTPUT
    store = tmp_path / "s.db"
    assert main(["replay", "--store", str(store), "--year", "2017", str(SEED_LOG)], env) == 0
    assert report(store, missing / "r.html", env) == ExitCode.OUTPUT
    err = env.stderr.getvalue()  # type: ignore[attr-defined]
    assert f"cannot write {missing / 'o.nd'}: the directory {missing} does not exist" in err
    assert f"cannot write the report {missing / 'r.html'}: the directory {missing} does not exist" in err
    assert f"mkdir -p {missing}" in err
    assert not (tmp_path / "no").exists()
