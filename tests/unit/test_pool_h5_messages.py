"""Messages between the main process and its workers go through a pipe one after the other
(`shipper.parallel.pool.send`, `receive`): in order, whole, large or made of many small objects,
and None at the end of the stream or where a writer died in the middle of a message."""

from __future__ import annotations

import io
import os
import threading
from typing import Any

from shipper.parallel.pool import receive, send


def _stream_of(messages: list[Any]) -> bytes:
    out = io.BytesIO()
    for message in messages:
        send(out, message)
    return out.getvalue()


def _through_a_pipe(messages: list[Any], cut: int | None = None) -> list[Any]:
    """What `receive` gives for ``messages`` sent by a thread through a real pipe; with ``cut``,
    the writer stops after that many bytes of the stream (it died writing)."""
    read_fd, write_fd = os.pipe()
    got: list[Any] = []

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as stream:
            if cut is not None:
                stream.write(_stream_of(messages)[:cut])
                return
            for message in messages:
                send(stream, message)

    thread = threading.Thread(target=writer)
    thread.start()
    with os.fdopen(read_fd, "rb") as stream:
        while (message := receive(stream)) is not None:
            got.append(message)
        got.append(receive(stream))  # (once more at the end: still None)
    thread.join()
    return got


def test_large_and_many_small_messages_arrive_in_order_and_whole() -> None:
    block = bytes(range(256)) * 4096  # 1 MiB: more than a pipe holds, beside the pickle's frames
    items = [b'{"n":%d}\n' % i for i in range(20000)]
    messages: list[Any] = [("job", block), ("ok", items), ("ok", {"x": [1.5, None, "é"]}), ("job", block[:10])]
    assert _through_a_pipe(messages) == [*messages, None]


def test_a_message_cut_short_ends_the_stream() -> None:
    messages: list[Any] = [("ok", [b"a" * 100] * 100), ("ok", list(range(50000))), ("ok", "never whole")]
    first, two = len(_stream_of(messages[:1])), len(_stream_of(messages[:2]))
    for cut in (first, first + 1, first + 5000, two - 1):
        assert _through_a_pipe(messages, cut) == [messages[0], None], cut
