"""A worker process: forked by `shipper.parallel.pool`, or started as
``python -m shipper.parallel.serve``.

Reads jobs from its input (a spawned worker first reads the `Setup` there); writes one reply per
job to its output: ``("ok", Done)``, or ``("error", text)`` and ends. Ends at the end of its input.
A worker that sends its own bulks (`shipper.parallel.direct`) also reads commits there, and a
`Finish`, to which it replies ``("ok", Finished)``; an error of its sink is ``("failed", the
ShipperError)``. Ctrl-C
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

from shipper.errors import ShipperError
from shipper.parallel import work
from shipper.parallel.direct import Commit, DirectWriter, Finish
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
    writer: DirectWriter | None = None
    try:
        writer = DirectWriter(setup.direct) if setup.direct is not None else None
        return _work(worker, writer, jobs, replies)
    except ShipperError as exc:  # the sink's: the main process raises it as its own
        return _last(replies, ("failed", exc), jobs)
    except Exception as exc:  # reported to the main process, which stops the replay
        traceback.print_exc()
        return _last(replies, ("error", f"{type(exc).__name__}: {exc}"), jobs)
    finally:
        if writer is not None:
            writer.close()


def _work(worker: work.Worker, writer: DirectWriter | None, jobs: queue.SimpleQueue[Any], replies: IO[bytes]) -> int:
    """The messages in order, until the input ends; the exit status."""
    done = 0
    while (message := jobs.get()) is not None:
        if isinstance(message, Commit):
            assert writer is not None
            writer.commit(message)
            continue
        if isinstance(message, Finish):
            assert writer is not None
            if not _reply(replies, ("ok", writer.finish())):
                return 1
            continue
        result = worker.run(message)
        # Without its items (sent from here), a result is pickled with a memo (`pool.send`).
        if not _reply(replies, ("ok", writer.hold(result) if writer is not None else result), memo=writer is not None):
            return 1
        done += 1
        if done % 16 == 0:  # (no job has left cyclic garbage yet: each collection cost more than it found)
            gc.collect(2 if done % 64 == 0 else 1)
    return 0


def _last(replies: IO[bytes], reply: tuple[str, Any], jobs: queue.SimpleQueue[Any]) -> int:
    """Send a failure, then take what the main process still sends until it closes the input
    (a job it sends meanwhile must not meet a closed pipe: it would say the worker died)."""
    if not _reply(replies, reply):
        return 1
    while jobs.get() is not None:
        pass
    return 0


def _reply(replies: IO[bytes], reply: tuple[str, Any], memo: bool = False) -> bool:
    """Send a reply; False if the main process is gone."""
    try:
        send(replies, reply, memo)
    except BrokenPipeError:
        return False
    return True


def _read(stdin: IO[bytes], jobs: queue.SimpleQueue[Any]) -> None:
    while (job := receive(stdin)) is not None:
        jobs.put(job)
    jobs.put(None)


if __name__ == "__main__":
    sys.exit(main())
