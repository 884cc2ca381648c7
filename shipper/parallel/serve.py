"""A worker process: ``python -m shipper.parallel.serve`` (started by `shipper.parallel.pool`).

Reads the `Setup`, then jobs, from standard input; writes one reply per job to standard output:
``("ok", Done)`` or ``("error", text)``. Ends at the end of its input. Ctrl-C is the main
process's to handle (it closes the pipes).
"""

from __future__ import annotations

import signal
import sys
import traceback
from typing import Any

from shipper.parallel import work
from shipper.parallel.pool import receive, send


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    setup = receive(stdin)
    if setup is None:
        return 0
    worker = work.Worker(setup)
    while (job := receive(stdin)) is not None:
        reply: tuple[str, Any]
        try:
            reply = ("ok", worker.run(job))
        except Exception as exc:  # reported to the main process, which stops the replay
            traceback.print_exc()
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            send(stdout, reply)
        except BrokenPipeError:  # the main process is gone
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
