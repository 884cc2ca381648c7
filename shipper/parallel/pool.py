"""Worker processes, each a plain ``python -m shipper.parallel.serve`` talking over its pipes.

Not `multiprocessing`: its pools add a resource-tracker process and (with forkserver) a server
process, about 40 MB that a replay does not need, and forking a process that runs threads (the
sinks', the progress bar's) is unsafe. Here a worker is started with the same interpreter, gets
the `Setup`, then does its jobs in order. The main process gives each worker up to `DEPTH` jobs,
so that a worker has its next job while the main process writes the last result. A thread in the
worker takes jobs off its input as they come, so the main process never stays blocked sending a job
while the worker is blocked writing a result. Input pipes are enlarged (where Linux allows) so
that sending a job seldom waits at all.

Messages are pickles with an 8-byte length in front. Pickles only ever travel between this
process and the children it started.
"""

from __future__ import annotations

import fcntl
import pickle
import struct
import subprocess
import sys
from typing import IO, Any

from shipper.errors import ShipperError

_HEADER = struct.Struct("<Q")
PIPE_BYTES = 1 << 20  # Linux's default ceiling for an unprivileged pipe (fs.pipe-max-size)
DEPTH = 2  # jobs a worker holds: the one it works on and the next
_HINT = "its error is above; --workers 0 reads in one process"


class WorkerError(ShipperError):
    """A worker process failed (its traceback was printed on standard error)."""


def send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


class Workers:
    def __init__(self, count: int, setup: object) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(count):
                proc = subprocess.Popen([sys.executable, "-m", "shipper.parallel.serve"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                self._procs.append(proc)
                assert proc.stdin is not None
                try:
                    fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
                except OSError:
                    pass  # a smaller pipe: sending waits until the worker's reader catches up
                send(proc.stdin, setup)
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._procs)

    def send(self, worker: int, job: object) -> None:
        stdin = self._procs[worker].stdin
        assert stdin is not None
        try:
            send(stdin, job)
        except BrokenPipeError:
            raise self._failed(worker) from None

    def receive(self, worker: int) -> Any:
        stdout = self._procs[worker].stdout
        assert stdout is not None
        reply = receive(stdout)
        if reply is None:
            raise self._failed(worker)
        status, value = reply
        if status != "ok":
            raise WorkerError(f"a worker process failed: {value}", hint=_HINT)
        return value

    def _failed(self, worker: int) -> WorkerError:
        code = self._procs[worker].wait()
        return WorkerError(f"a worker process ended unexpectedly (exit status {code})", hint=_HINT)

    def close(self) -> None:
        """End the workers: they exit when their input closes (a worker still writing a result
        nobody will read gets a broken pipe)."""
        for proc in self._procs:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except BrokenPipeError:
                        pass
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs = []
