"""`shipper status`: what the daemon is doing, from its state directory (no connection to it)."""

from __future__ import annotations

import argparse
import calendar
import os
import time
from pathlib import Path
from typing import Any

from shipper.env import Env
from shipper.errors import ExitCode

HELP = "show what `shipper run` is doing: rates, lag, queue, errors, and where each input is"
EXAMPLES = """\
examples:
  shipper status                                 for the state directory of /etc/shipper/shipper.yml
  shipper status --config ./shipper.yml
  shipper status --state-dir /var/lib/shipper --json

exit status: 0 when the daemon is running, 6 when it is not (or its status is stale).
"""

STALE_AFTER = 60.0  # a status file not updated for this long means the daemon is stuck or gone


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="the configuration file (default: /etc/shipper/shipper.yml)")
    p.add_argument("--state-dir", type=Path, help="the state directory (default: from the configuration)")
    p.add_argument("--json", action="store_true", help="print the status document as JSON")


def run(args: argparse.Namespace, env: Env) -> int:
    import orjson

    from shipper.commands.run import DEFAULT_CONFIG
    from shipper.config.model import load_config
    from shipper.state.checkpoints import CheckpointStore
    from shipper.state.status import read_status

    state_dir: Path = args.state_dir
    if state_dir is None:
        path = args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
        state_dir = load_config(path).state_dir
    status = read_status(state_dir)
    positions = CheckpointStore(state_dir).all()
    running = status is not None and _running(status, env.clock())
    if args.json:
        doc = {"running": running, "status": status, "checkpoints": positions}
        env.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return ExitCode.OK if running else ExitCode.UNAVAILABLE
    if status is None:
        env.stdout.write(f"shipper is not running: no status in {state_dir} (start it: systemctl start shipper)\n")
    else:
        env.stdout.write(_report(status, running) + "\n")
    for key, state in positions.items():
        env.stdout.write(f"  checkpoint {key}: {_position(state)}\n")
    return ExitCode.OK if running else ExitCode.UNAVAILABLE


def _running(status: dict[str, Any], now: float) -> bool:
    if status.get("state") not in ("running", "reloading"):
        return False
    pid = status.get("pid")
    try:
        os.kill(int(pid), 0)  # type: ignore[arg-type]
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # alive, owned by another user
    return now - _epoch(str(status.get("updated", ""))) < STALE_AFTER


def _epoch(iso: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return 0.0


def _report(status: dict[str, Any], running: bool) -> str:
    head = (f"shipper is running (pid {status.get('pid')}, since {status.get('started')})" if running
            else f"shipper is not running (last status {status.get('updated')}, state {status.get('state')})")
    lines = [head, f"  {status.get('line', '')}"]
    if status.get("last_message"):
        # A daemon that is gone said nothing since: its last message is from before it stopped (often the
        # start-up line `shipper: running; ...`), not how it is now.
        label = "last message" if running else "last message before it stopped"
        lines.append(f"  {label}: {status['last_message']}")
    for key, figures in status.get("inputs", {}).items():
        backlog = figures.get("backlog_bytes")
        lines.append(
            f"  input {figures.get('label', key)}: {figures.get('read', 0):,} read, {figures.get('shipped', 0):,} shipped, "
            f"lag {figures.get('lag_seconds', 0):.1f} s"
            + (f", {backlog:,} bytes not read yet" if backlog else "")
            + (f", {figures['gaps']} gaps reported" if figures.get("gaps") else "")
        )
    return "\n".join(lines)


def _position(state: dict[str, Any]) -> str:
    mark = state.get("mark")
    if isinstance(mark, dict):
        return f"journal after {mark.get('time') or 'the start'}" if mark.get("cursor") else "journal at its configured start"
    files = state.get("files", [])
    parts = [f"{f.get('path')} @ {int(f.get('offset', 0)):,}" + (" (done)" if f.get("done") else "") for f in files]
    return "; ".join(parts) or "no files yet"
