"""The daemon's status file, ``<state_dir>/status.json``: what `shipper status` shows.

Written atomically every few seconds by the daemon; read by anyone who may read the state
directory. It is a report, not state: losing it loses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from shipper.state.atomic import write_atomic

FILENAME = "status.json"


def write_status(state_dir: Path, status: dict[str, Any]) -> None:
    write_atomic(state_dir / FILENAME, orjson.dumps(status, option=orjson.OPT_INDENT_2), mode=0o644)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """The last status written, None when there is none (or it cannot be read)."""
    try:
        data = orjson.loads((state_dir / FILENAME).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
