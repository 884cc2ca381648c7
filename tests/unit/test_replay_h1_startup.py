"""What `shipper replay` does before and after its real work: the workers get their first jobs
before the sinks open (so a sink that cannot open must still end the replay as in one process),
and a replay imports nothing it does not use (`shipper relink`'s module, for its note)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.es import err, make_env, run_command

DEMO = Path(__file__).resolve().parents[2] / "demo" / "logs"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_elasticsearch_that_cannot_be_reached_ends_the_replay_as_in_one_process(workers: str) -> None:
    """With workers, the jobs they were given before the sink failed to connect do not change
    the outcome: the sink's message and exit status (6), at once, and no worker's failure."""
    url = f"http://127.0.0.1:{_closed_port()}"
    env = make_env()
    started = time.monotonic()
    code = run_command("replay", ["--timezone", "UTC", "--year", "2017", "--workers", workers, "--output", "es",
                                  "--es-url", url, "--quiet", str(DEMO / "messages")], env)
    assert code == 6, err(env)
    assert f"cannot reach Elasticsearch at {url}" in err(env) and "worker" not in err(env), err(env)
    assert time.monotonic() - started < 30


def test_a_replay_does_not_import_relink(tmp_path: Path) -> None:
    """The note after a replay names `shipper relink`'s default window without importing
    `shipper.enrich.relink` (and `shipper.sources.live` with it: 20M instructions at the end of
    every replay)."""
    out = tmp_path / "out.ndjson"
    code = ("import sys; from shipper.cli import main; "
            f"rc = main(['replay', '--timezone', 'UTC', '--year', '2017', '--output', 'ndjson', '-o', {str(out)!r}, "
            f"{str(DEMO / 'messages')!r}]); "
            "print(rc, 'shipper.enrich.relink' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines()[-1] == "0 False", proc.stdout + proc.stderr
    assert out.stat().st_size > 0
