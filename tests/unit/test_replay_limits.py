"""`shipper replay`'s own checks and warnings (shipper/commands/replay.py): the workers' cap,
--store with another output, and the documents Elasticsearch refused."""

from __future__ import annotations

import argparse
import io
import resource
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from shipper.cli import main
from shipper.commands import replay as replay_command
from shipper.env import Env
from shipper.sources.open import open_inputs
from tests.fakees import FakeES
from tests.helpers.es import err, make_env, run_command

MAILLOG = Path(__file__).resolve().parents[2] / "demo" / "logs" / "maillog"
LINES = len(MAILLOG.read_bytes().splitlines())


# -- --workers ---------------------------------------------------------------------------------
def test_more_workers_than_the_cap_is_a_usage_error(env: Env, tmp_path: Path) -> None:
    """--workers 100000 forked thousands of processes and hung the machine; 1000 ran out of
    descriptors (exit 1). Refused before any worker starts, saying the limit."""
    out = tmp_path / "o.ndjson"
    limit = replay_command.MAX_WORKERS
    assert main(["replay", "--workers", str(limit + 1), "--output", "ndjson", "-o", str(out), str(MAILLOG)], env) == 2
    assert f"--workers {limit + 1} is more than a replay can use" in err(env) and f"at most {limit}" in err(env)
    assert not out.exists()


def test_workers_beyond_the_descriptor_limit_are_a_usage_error(tmp_path: Path) -> None:
    """Under the cap, but over `ulimit -n`: each worker takes two pipes; it was an unexpected error
    ("OSError: Too many open files", exit 1)."""
    log = tmp_path / "m.log"
    log.write_text("".join(f"Aug 30 14:55:{i % 60:02d} gorp app[1]: line {i}\n" for i in range(2000)))
    limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))  # noqa: E731
    done = subprocess.run([sys.executable, "-m", "shipper", "replay", "--output", "ndjson", "--workers", "30", str(log)],
                          capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "cannot start 30 worker processes: Too many open files" in done.stderr
    assert "give fewer with --workers" in done.stderr


def test_one_worker_per_cpu_stops_at_the_cap(env: Env) -> None:
    stdin = open_inputs(["-"], fmt="auto", max_line_bytes=4096, stdin=io.BytesIO(b"Aug 30 14:55:47 gorp app[1]: x\n"))
    many = replace(env, cpu_count=500)
    assert replay_command._workers(argparse.Namespace(workers=None), stdin, many) == replay_command.MAX_WORKERS


# -- --store -----------------------------------------------------------------------------------
@pytest.mark.parametrize("output", ["ndjson", "es", "config"])
def test_store_with_another_output_is_refused(env: Env, tmp_path: Path, output: str) -> None:
    """--store with --output ndjson was ignored silently (-o with the local store is refused); the
    same when the config chooses the output."""
    db, out = tmp_path / "x.db", tmp_path / "o.ndjson"
    config = tmp_path / "shipper.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\noutput:\n  ndjson:\n    path: {out}\n")
    chosen = {"ndjson": ["--output", "ndjson"], "es": ["--output", "es", "--es-url", "http://127.0.0.1:9"],
              "config": ["--config", str(config)]}[output]
    assert main(["replay", *chosen, "--store", str(db), str(MAILLOG)], env) == 2
    name = "elasticsearch" if output == "es" else "ndjson"
    assert f"--store goes with the local store, not the {name} output" in err(env)
    assert not db.exists() and not out.exists() and not (tmp_path / "state").exists()


# -- documents refused by Elasticsearch --------------------------------------------------------
@pytest.mark.parametrize("workers", ["0", "2"])
@pytest.mark.parametrize("quiet", [True, False])
def test_refused_documents_are_said_at_the_end_with_the_command_that_lists_them(
    tmp_path: Path, workers: str, quiet: bool
) -> None:
    """Every document refused (a shard that never comes back) went to the dead letter, and replay
    said only "elasticsearch: 7 dead lettered" in its summary (nothing with --quiet), exit 0. Now
    a warning says so, also with --quiet, and names the command that shows them; the exit status
    stays 0, as with read errors."""
    state, config = tmp_path / "state dir", tmp_path / "shipper.yml"
    with FakeES() as es:
        config.write_text(f"state_dir: {state}\noutput:\n  elasticsearch:\n    hosts: [{es.url}]\n"
                          "    max_item_retries: 0\n    retry_initial: 5ms\n    retry_max: 10ms\n")
        es.faults.item_503_times = 1000
        env = make_env({"HOME": str(tmp_path / "home")})
        argv = ["--timezone", "UTC", "--year", "2017", "--workers", workers, "--config", str(config), str(MAILLOG)]
        assert run_command("replay", argv + (["--quiet"] if quiet else []), env) == 0, err(env)
    warning = [line for line in err(env).splitlines() if line.startswith("replay: warning")]
    listing = f"shipper deadletter list --config {shlex.quote(str(config))}"
    assert warning == [f"replay: warning: {LINES} documents refused by Elasticsearch went to the dead letter, not into "
                       f"Elasticsearch. `{listing}` shows which and why; after a fix, "
                       f"`shipper deadletter retry --config {shlex.quote(str(config))}` sends them again."]
    shown = make_env()
    assert run_command("deadletter", shlex.split(listing)[2:], shown) == 0  # the command given finds them
    assert f"{LINES} of {LINES} dead-lettered documents shown" in shown.stdout.getvalue()  # type: ignore[attr-defined]


def test_without_a_config_the_command_names_the_state_directory_and_the_url() -> None:
    args = argparse.Namespace(config=None, es_url="http://es.example:9200")
    options = replay_command._dead_letter_options(args, Path("/home/u/.local/share/shipper dir"))
    assert options == "--state-dir '/home/u/.local/share/shipper dir' --es-url http://es.example:9200"

