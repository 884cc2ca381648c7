"""What a worker that sends its own bulks gives the main process, and what linking reads of each
document: the cheaper ways (session 18, issue 7) keep the same results.

- `Part.split` drops the places of the recognised documents a slice at a time: the items left, and
  the renumbered places, are those of the item-by-item filter it replaced, wherever the holes are.
- `pool.send(..., memo=True)` (a result without items): objects shared in the worker arrive shared
  and are written once, so the message is smaller; without ``memo`` they arrive as copies.
- `nearby.killed_doc` reads the exit fields only for the signatures `killed` reads them for: its
  answers are `killed`'s for every signature.
"""

from __future__ import annotations

import io
import os
import threading
from typing import Any

import pytest

from shipper.enrich.nearby import killed, killed_doc
from shipper.event import get_path
from shipper.parallel.pool import receive, send
from shipper.parallel.work import Part


@pytest.mark.parametrize("holes", [[], [0], [9], [0, 1], [3, 4, 5], [0, 4, 5, 9], list(range(10))])
def test_split_keeps_the_items_of_the_documents_that_do_not_wait(holes: list[int]) -> None:
    items = [None if i in holes else f"item {i}".encode() for i in range(10)]
    docs = [{"n": i} for i in holes]
    part = Part({"elasticsearch": list(items)}, pending=list(zip(holes, docs)), size=10)

    plain = part.split()

    assert plain == {"elasticsearch": [item for item in items if item is not None]}
    assert part.items == {"elasticsearch": [None] * len(holes)}
    assert part.pending == list(enumerate(docs))


def _through_a_pipe(message: Any, memo: bool) -> tuple[Any, int]:
    """``message`` as `receive` reads it from a real pipe, and the bytes it took."""
    read_fd, write_fd = os.pipe()
    buffer = io.BytesIO()
    send(buffer, message, memo)

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as stream:
            send(stream, message, memo)

    thread = threading.Thread(target=writer)
    thread.start()
    with os.fdopen(read_fd, "rb") as stream:
        got = receive(stream)
        assert receive(stream) is None
    thread.join()
    return got, len(buffer.getvalue())


def test_a_memoized_message_keeps_what_its_documents_share_and_is_smaller() -> None:
    hint = "another process already listens on the port " * 20
    log = {"file": {"path": "/var/log/maillog"}}
    docs = [{"message": f"line {i}", "log": log, "rootcause": {"hint": hint}} for i in range(50)]

    shared, memo_bytes = _through_a_pipe(("ok", docs), memo=True)
    copied, fast_bytes = _through_a_pipe(("ok", docs), memo=False)

    assert shared == copied == ("ok", docs)
    assert all(doc["log"] is shared[1][0]["log"] for doc in shared[1])
    assert len({id(doc["rootcause"]["hint"]) for doc in shared[1]}) == 1
    assert len({id(doc["log"]) for doc in copied[1]}) == 50
    assert memo_bytes * 5 < fast_bytes


@pytest.mark.parametrize(("doc", "expected"), [
    ({"rootcause": {"signature": "systemd.oom_killed"}}, True),
    ({"rootcause": {"signature": "systemd.process_exited"}, "systemd": {"exit_code": "killed"}, "process": {"exit_code": 9}}, True),
    ({"rootcause": {"signature": "systemd.process_exited"}, "systemd": {"exit_code": "killed"}, "process": {"exit_code": "9"}}, True),
    ({"rootcause": {"signature": "systemd.process_exited"}, "systemd": {"exit_code": "exited"}, "process": {"exit_code": 9}}, False),
    ({"rootcause": {"signature": "systemd.unit_failed"}, "systemd": {"result": "oom-kill"}}, True),
    ({"rootcause": {"signature": "systemd.unit_failed"}, "systemd": {"result": "signal"}}, True),
    ({"rootcause": {"signature": "systemd.unit_failed"}, "systemd": {"result": "exit-code"}}, False),
    ({"rootcause": {"signature": "sendmail.bind_address_in_use"},
      "systemd": {"result": "oom-kill", "exit_code": "killed"}, "process": {"exit_code": 9}}, False),
    ({"rootcause": {}}, False),
    ({}, False),
])
def test_killed_doc_answers_as_killed_does(doc: dict[str, Any], expected: bool) -> None:
    assert killed(str(get_path(doc, "rootcause.signature")), get_path(doc, "systemd.exit_code"),
                  get_path(doc, "process.exit_code"), get_path(doc, "systemd.result")) is expected
    assert killed_doc(doc) is expected
