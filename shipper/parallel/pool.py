"""Worker processes, each talking to the main process over two pipes.

Not `multiprocessing`: its pools add a resource-tracker process and (with forkserver) a server
process, about 40 MB that a replay does not need. A worker is started in one of two ways:

- **forked**, when the main process runs no other thread yet (the usual case: workers start
  before any sink or progress thread). The child already has every module imported, so it
  starts in a millisecond instead of re-importing shipper (about 0.1 s and 0.15 CPU-s each).
- **spawned** as ``python -m shipper.parallel.serve`` otherwise: forking a process that runs
  threads can copy a lock some other thread holds, and the child would wait on it forever.

Either way the worker gets the `Setup`, then does its jobs in order. The main process gives each
worker up to `DEPTH` jobs, so that a worker has its next job while the main process writes the
last result. A thread in the worker takes jobs off its input as they come, so the main process
never stays blocked sending a job while the worker is blocked writing a result. Both pipes are
enlarged (where Linux allows), so that sending a job, or a result, seldom waits at all.

Messages are pickles, one after the other. Pickles only ever travel between this process and
the children it started.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

from shipper.errors import ShipperError, UsageError

PIPE_BYTES = 1 << 20  # Linux's default ceiling for an unprivileged pipe (fs.pipe-max-size)
DEPTH = 2  # jobs a worker holds: the one it works on and the next
_HINT = "its error is above; --workers 0 reads in one process"


class WorkerError(ShipperError):
    """A worker process failed (its traceback was printed on standard error)."""


def send(stream: IO[bytes], message: Any, memo: bool = False) -> None:
    """Write one message. Pickled without a memo (`Pickler.fast`) unless ``memo``: a result holds
    thousands of encoded items, and memoizing each one cost more than pickling it (0.17 against
    0.02 µs). So such a message must hold no reference cycle, and an object it holds twice arrives
    as two copies. A result without items (its worker sends them itself: `shipper.parallel.direct`)
    is mostly the recognised documents, whose signature texts and keys are the same objects from
    one document to the next: memoized, each is pickled once per message (a third fewer bytes, and
    less to pickle and unpickle), and objects arrive shared as they were in the worker.
    Pickled straight into the stream: a block's bytes go from their object into the pipe, and
    `receive` reads them into theirs (the pickle's frames say where a message ends), without the
    copies a whole message in memory took on each side (about 0.1 CPU-s each per 1M lines)."""
    pickler = pickle.Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = not memo
    pickler.dump(message)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message, or None at the end of the stream (also where the writer died in the
    middle of a message)."""
    try:
        return pickle.load(stream)
    except (EOFError, pickle.UnpicklingError):
        return None


class _Child:
    """One worker process: its pid and the main process's ends of its two pipes."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes], popen: subprocess.Popen[bytes] | None) -> None:
        self.pid, self.stdin, self.stdout, self._popen = pid, stdin, stdout, popen
        self._status: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """The exit status (negative: the signal that ended it); TimeoutError after `timeout`."""
        if self._popen is not None:
            try:
                return self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                raise TimeoutError from None
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while self._status is None:
            pid, status = os.waitpid(self.pid, 0 if timeout is None else os.WNOHANG)
            if pid:
                self._status = os.waitstatus_to_exitcode(status)
            elif time.monotonic() >= deadline:
                raise TimeoutError
            else:
                time.sleep(0.01)  # only while closing: the workers are ending
        return self._status

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _spawn(setup: object) -> _Child:
    proc = subprocess.Popen([sys.executable, "-m", "shipper.parallel.serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    child = _Child(proc.pid, proc.stdin, proc.stdout, proc)
    _enlarge(child.stdin, child.stdout)
    send(child.stdin, setup)
    return child


def _fork(setup: Any, siblings: list[_Child]) -> _Child:
    from shipper.parallel import serve

    job_r, job_w = os.pipe()
    reply_r, reply_w = os.pipe()
    sys.stdout.flush()  # what is buffered here would otherwise be written twice
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the worker: it never returns from here
        code = 1
        try:
            for fd in [job_w, reply_r, *(f for c in siblings for f in (c.stdin.fileno(), c.stdout.fileno()))]:
                os.close(fd)  # a sibling's input held open here would never reach its end
            code = serve.serve(setup, os.fdopen(job_r, "rb"), os.fdopen(reply_w, "wb"))
        finally:
            os._exit(code)  # no atexit handlers, no flushing of the main process's buffers
    os.close(job_r)
    os.close(reply_w)
    child = _Child(pid, os.fdopen(job_w, "wb"), os.fdopen(reply_r, "rb"), None)
    _enlarge(child.stdin, child.stdout)
    return child


def _enlarge(*pipes: IO[bytes]) -> None:
    """Both ways: a job waits in the pipe for the worker to take it, and a worker's result waits
    there while the main process writes the previous one, so the worker goes on to its next job."""
    for pipe in pipes:
        try:
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # a smaller pipe: the writer waits until the reader catches up


class Workers:
    def __init__(self, count: int, setup: object) -> None:
        self._children: list[_Child] = []
        fork = threading.active_count() == 1
        self._frozen = fork
        if fork:
            # The objects made so far (the modules, the config, the rules) are shared with the
            # forked workers until a page of them is written. Frozen, the collector of this
            # process leaves them alone: collecting them would write each one's header, and so
            # copy every page it touched into this process (about 6 MB of a replay's PSS, and
            # two thirds of the main process's collecting time).
            gc.freeze()
        try:
            for _ in range(count):
                self._children.append(_fork(setup, self._children) if fork else _spawn(setup))
        except BaseException as exc:
            self.close()
            if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.EAGAIN):
                raise UsageError(f"cannot start {count} worker processes: {exc.strerror}",
                                 hint="give fewer with --workers (0: none), or raise the limit (ulimit -n, ulimit -u)") from None
            raise

    def __len__(self) -> int:
        return len(self._children)

    def send(self, worker: int, job: object) -> None:
        try:
            send(self._children[worker].stdin, job)
        except BrokenPipeError:
            raise self._failed(worker) from None

    def receive(self, worker: int) -> Any:
        reply = receive(self._children[worker].stdout)
        if reply is None:
            raise self._failed(worker)
        status, value = reply
        if status == "failed":  # an error meant for the operator (a worker's Elasticsearch sink)
            raise value
        if status != "ok":
            raise WorkerError(f"a worker process failed: {value}", hint=_HINT)
        return value

    def ask_all(self, message: object) -> list[Any]:
        """Send ``message`` to every worker, then take each one's reply."""
        for worker in range(len(self._children)):
            self.send(worker, message)
        return [self.receive(worker) for worker in range(len(self._children))]

    def _failed(self, worker: int) -> WorkerError:
        code = self._children[worker].wait()
        return WorkerError(f"a worker process ended unexpectedly (exit status {code})", hint=_HINT)

    def close(self) -> None:
        """End the workers: they exit when their input closes (a worker still writing a result
        nobody will read gets a broken pipe)."""
        for child in self._children:
            for stream in (child.stdin, child.stdout):
                try:
                    stream.close()
                except BrokenPipeError:
                    pass
        for child in self._children:
            try:
                child.wait(timeout=10)
            except TimeoutError:
                child.kill()
                child.wait()
        self._children = []
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
