"""Running `shipper run` as a real process in tests, and waiting on what it does.

``python -m tests.helpers.daemon ARGS...`` runs ``shipper ARGS`` through the CLI when the command
is registered there, else through the command module with the CLI's error boundary (so the
daemon tests do not depend on the registration). Waits are on conditions with deadlines, never on
fixed sleeps alone (the CI box is slow and noisy).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition", interval: float = 0.05) -> T:
    """``condition()``'s first truthy value; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def read_status(state: Path) -> dict[str, Any]:
    """The daemon's status file in the state directory ``state`` ({} while there is none, or while
    it is being replaced)."""
    try:
        return dict(json.loads((state / "status.json").read_bytes()))
    except (OSError, ValueError):
        return {}


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class DaemonProcess:
    """``shipper run --config CONFIG`` in a subprocess, its stderr in a file."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = log
        self._env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.helpers.daemon", "run", "--config", str(self.config)],
                stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env=self._env,
            )
        return self

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit status (SIGKILL and an AssertionError after ``timeout``)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"shipper run did not stop within {timeout:.0f} s of SIGTERM:\n{self.output()}") from None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(30)


def _main(argv: list[str]) -> int:
    from shipper import cli

    if argv and argv[0] in cli.COMMANDS:
        return cli.main(argv)
    import argparse
    import importlib

    from shipper.env import Env
    from shipper.errors import ShipperError

    module = importlib.import_module(f"shipper.commands.{argv[0]}")
    parser = argparse.ArgumentParser(prog=f"shipper {argv[0]}")
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args, Env()))
    except ShipperError as exc:
        print(f"shipper: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"shipper: {exc.hint}", file=sys.stderr)
        return int(exc.exit_code)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


class LiveJournal:
    """A journal directory that systemd-journal-remote keeps appending to (entries written to its
    standard input as export text); it rotates files as journald does (~20k entries when each
    entry has a few unique fields)."""

    def __init__(self, directory: Path) -> None:
        from tests.helpers.journal import JOURNAL_REMOTE

        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.proc = subprocess.Popen(
            [str(JOURNAL_REMOTE), "--split-mode=none", "--compress=no", f"--output={directory}/remote.journal", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.written = 0

    def write(self, entries: list[dict[str, str]]) -> None:
        """Append entries (``seq`` gives each its own realtime, one second apart by default)."""
        from tests.helpers.journal import export_entry

        assert self.proc.stdin is not None
        data = b"".join(export_entry(e, seq=self.written + i) for i, e in enumerate(entries))
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        self.written += len(entries)

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("*.journal"))

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(60)

    def __enter__(self) -> LiveJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
