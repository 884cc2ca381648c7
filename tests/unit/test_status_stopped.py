"""`shipper status` of a daemon that is not running does not show its last message as current."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from shipper.errors import ExitCode
from shipper.state.status import write_status
from tests.helpers.es import make_env, out, run_command

STARTED = "shipper: running; inputs: /var/log/messages; state in /var/lib/shipper"
NOW = 1_504_100_000.25  # make_env's clock


def _status(tmp_path: Path, **fields: Any) -> tuple[int, str]:
    updated = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(NOW - 5))
    doc = {"pid": os.getpid(), "state": "running", "started": updated, "updated": updated, "line": "read 0/s",
           "last_message": STARTED, "inputs": {}, **fields}
    write_status(tmp_path, doc)
    env = make_env()
    rc = run_command("status", ["--state-dir", str(tmp_path)], env)
    return rc, out(env)


def test_the_last_message_of_a_stopped_daemon_is_not_shown_as_current(tmp_path: Path) -> None:
    rc, text = _status(tmp_path, state="stopped")
    assert rc == ExitCode.UNAVAILABLE and text.startswith("shipper is not running")
    assert f"  last message before it stopped: {STARTED}\n" in text
    assert "  last message: " not in text
    rc, text = _status(tmp_path)  # while it runs, the same message is simply its last one
    assert rc == ExitCode.OK and text.startswith("shipper is running")
    assert f"  last message: {STARTED}\n" in text
