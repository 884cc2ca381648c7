"""A job's block goes from its bytes object into the pipe, and out of the pipe into the worker's
bytes object: `send` and `receive` hold no copy of the whole message (each copy of a replay's
131 MB of jobs cost about 0.1 CPU-s per 1M lines on each side)."""

from __future__ import annotations

import os
import threading
import tracemalloc
from typing import Any, Callable

from shipper.parallel.pool import receive, send

BLOCK = os.urandom(4 << 20)  # more than a pipe holds


def _peak(call: Callable[[], Any]) -> tuple[Any, int]:
    """What ``call`` returns, and the most memory it had allocated at once (bytes)."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sending_a_block_copies_none_of_it_into_memory() -> None:
    read_fd, write_fd = os.pipe()
    drained: list[int] = []

    def drain() -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as stream:
            while chunk := stream.read(1 << 16):
                drained.append(len(chunk))

    thread = threading.Thread(target=drain)
    thread.start()
    with os.fdopen(write_fd, "wb") as stream:
        _, peak = _peak(lambda: send(stream, ("job", BLOCK)))
    thread.join()
    assert sum(drained) > len(BLOCK)
    assert peak < len(BLOCK) // 8


def test_receiving_a_block_holds_it_once() -> None:
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with os.fdopen(write_fd, "wb") as stream:
            send(stream, ("job", BLOCK))

    thread = threading.Thread(target=write)
    thread.start()
    with os.fdopen(read_fd, "rb") as stream:
        message, peak = _peak(lambda: receive(stream))
        assert receive(stream) is None
    thread.join()
    assert message == ("job", BLOCK)
    assert peak < len(BLOCK) * 5 // 4
