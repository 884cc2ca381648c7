"""A worker process: forked by `shipper.parallel.pool`, or started as
``python -m shipper.parallel.serve``.

Reads jobs from its input (a spawned worker first reads the `Setup` there); writes one reply per
job to its output: ``("ok", Done)`` or ``("error", text)``. Ends at the end of its input. Ctrl-C
is the main process's to handle (it closes the pipes). Jobs are read by a thread as they arrive
(see `shipper.parallel.pool` for why).
"""

from __future__ import annotations

import gc
import os
import queue
import signal
import sys
import threading
import traceback
from typing import IO, Any

from shipper.parallel import work
from shipper.parallel.pool import receive, send


def main() -> int:
    """A spawned worker: its pipes are its standard input and output."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    setup = receive(stdin)
    if setup is None:
        return 0
    return serve(setup, stdin, stdout)


def serve(setup: work.Setup, jobs_in: IO[bytes], replies: IO[bytes]) -> int:
    """Do the jobs from `jobs_in` in order, a reply each to `replies`; the exit status."""
    # Objects from before this point (a forked worker's copy of the main process) are never
    # collected here: collecting a copied file object would flush the main process's buffer.
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)  # whatever else writes to standard output goes to standard error, not into a reply
    sys.stdout = sys.stderr
    worker = work.Worker(setup)
    jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threading.Thread(target=_read, args=(jobs_in, jobs), daemon=True).start()
    # The collector runs between jobs, not during them: documents hold no reference cycles, but
    # the thousands made per job would trigger it over and over (about 7% of a worker's time).
    gc.freeze()
    gc.disable()
    done = 0
    while (job := jobs.get()) is not None:
        reply: tuple[str, Any]
        try:
            reply = ("ok", worker.run(job))
        except Exception as exc:  # reported to the main process, which stops the replay
            traceback.print_exc()
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            send(replies, reply)
        except BrokenPipeError:  # the main process is gone
            return 1
        done += 1
        gc.collect(2 if done % 64 == 0 else 1)
    return 0


def _read(stdin: IO[bytes], jobs: queue.SimpleQueue[Any]) -> None:
    while (job := receive(stdin)) is not None:
        jobs.put(job)
    jobs.put(None)


if __name__ == "__main__":
    sys.exit(main())
