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
WRITERS_SHOWN = 10  # journal writers listed under a checkpoint (the least far first); --json has them all


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
        for line in _writers(state):
            env.stdout.write(f"    {line}\n")
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
    if "shipped" in status:  # (a status file of an earlier version has not these figures)
        name = status.get("output", {}).get("name") or "output"
        lines.append(f"  output {name}: " + ", ".join(_output_figures(status)))
    if status.get("last_message"):
        # A daemon that is gone said nothing since: its last message is from before it stopped (often the
        # start-up line `shipper: running; ...`), not how it is now.
        label = "last message" if running else "last message before it stopped"
        lines.append(f"  {label}: {status['last_message']}")
    for key, figures in status.get("inputs", {}).items():
        lines.append(f"  input {figures.get('label', key)}: " + ", ".join(_figures(figures)))
    return "\n".join(lines)


def _output_figures(status: dict[str, Any]) -> list[str]:
    """What the output acknowledged: of it, what it had already (Elasticsearch kept one copy of
    each, by its id), and what an earlier run or session left in the disk buffer (no input's figures
    have it)."""
    counters = status.get("output", {}).get("counters", {})
    parts = [f"{status['shipped']:,} shipped"]
    if counters.get("duplicates"):
        parts.append(f"{counters['duplicates']:,} of them already there (duplicates: sent before, kept once)")
    if status.get("shipped_from_previous_run"):
        parts.append(f"{status['shipped_from_previous_run']:,} of them left in the disk buffer by an earlier run or "
                     "before a reload")
    return parts


def _figures(figures: dict[str, Any]) -> list[str]:
    """One input's figures, those that are 0 left out (but read, shipped and lag). What is read
    again after a restart or reload counts in "read" each time it is read."""
    parts = [f"{figures.get('read', 0):,} read", f"{figures.get('shipped', 0):,} shipped",
             f"lag {figures.get('lag_seconds', 0):.1f} s"]
    optional = (  # (figure, what one is, what several are)
        ("read_again", "{:,} of those read was shipped before a restart or reload (read again, not shipped again)",
         "{:,} of those read were shipped before a restart or reload (read again, not shipped again)"),
        ("backlog_bytes", "{:,} byte not read yet", "{:,} bytes not read yet"),
        ("gaps", "{:,} gap reported", "{:,} gaps reported"),
        ("nul_bytes_skipped", "{:,} NUL byte dropped before lines (a writer not in append mode: see the log)",
         "{:,} NUL bytes dropped before lines (a writer not in append mode: see the log)"),
        ("files_read_by_another_input", "{:,} file skipped: another input reads it (see the log)",
         "{:,} files skipped: another input reads them (see the log)"),
    )
    return parts + [(one if figures[name] == 1 else several).format(figures[name])
                    for name, one, several in optional if figures.get(name)]


def _position(state: dict[str, Any]) -> str:
    mark = state.get("mark")
    if isinstance(mark, dict):
        if not mark.get("cursor"):
            return "journal at its configured start"
        writers = state.get("writers")
        count = len(writers) if isinstance(writers, dict) else 0
        several = f" (the least far of its {count} writers)" if count > 1 else ""
        return f"journal after {mark.get('time') or 'the start'}{several}"
    from shipper.sources.tailfile import Tracked  # noqa: PLC0415 - only for a file input's checkpoint

    files = state.get("files", [])
    try:
        tracked = [Tracked.from_json(f) for f in files] if isinstance(files, list) else None
    except ValueError:
        tracked = None
    if tracked is None:
        return "damaged (a file entry lacks a field or holds a wrong value: the daemon refuses it too)"
    # (how far it is shipped: "offset" is where a restart reads again from, up to 16 seconds before)
    parts = [f"{t.path} shipped to byte {max(t.committed, t.shipped):,}" + (" (done)" if t.done else "") for t in tracked]
    return "; ".join(parts) or "no files yet"


def _writers(state: dict[str, Any]) -> list[str]:
    """How far each writer of a journal (journald, each host's systemd-journal-remote) is shipped,
    the least far first, when it has several (the checkpoint's position is the least far's)."""
    writers = state.get("writers")
    if not isinstance(writers, dict) or len(writers) < 2:
        return []
    shown = sorted(_writer(p) + (str(i),) for i, p in writers.items() if isinstance(p, dict))
    lines = [f"writer {i}: {text}" for _, text, i in shown[:WRITERS_SHOWN]]
    if len(shown) > WRITERS_SHOWN:
        lines.append(f"and {len(shown) - WRITERS_SHOWN:,} more writers (`shipper status --json` lists them all)")
    return lines


def _writer(position: dict[str, Any]) -> tuple[str, str]:
    """A writer's place for sorting (a time) and what to say of it."""
    from shipper.sources.journal_header import cursor_time
    from shipper.sources.live import iso

    shipped = position.get("shipped")
    when = cursor_time(shipped) if isinstance(shipped, str) else None
    if when is not None:
        return iso(when), f"shipped up to its entry of {iso(when)}"
    if position.get("cursor"):  # (a checkpoint of an earlier version: only where reading resumes)
        return str(position.get("time") or ""), f"reading resumes after {position.get('time')}"
    return "", "nothing shipped yet"
