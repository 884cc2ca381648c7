"""Running `shipper` commands in process, as a user's terminal would (not a TTY), for their stdout."""

from __future__ import annotations

import io
from pathlib import Path

from shipper.cli import main
from shipper.env import Env


class _Text(io.StringIO):
    buffer = io.BytesIO()

    def isatty(self) -> bool:
        return False


def shipper_out(home: Path, *argv: str, clock: float = 1_504_100_000.0) -> str:
    """``shipper ARGV``'s stdout, with HOME ``home``, TZ UTC and the clock at ``clock``; it must exit 0."""
    env = Env(stdin=io.BytesIO(), stdout=_Text(), stderr=_Text(), environ={"HOME": str(home), "TZ": "UTC"},
              clock=lambda: clock)
    assert main(list(argv), env) == 0, env.stderr.getvalue()  # type: ignore[attr-defined]
    return str(env.stdout.getvalue())  # type: ignore[attr-defined]
