"""The daemon's loop waits on its inputs' descriptors with poll: a journal follower's can be above
1023 (the unit allows 65536 open files), which select cannot watch."""

from __future__ import annotations

import os
import resource
import select
from typing import Iterator

import pytest

from shipper.daemon.loop import _ready

HIGH = 1500


@pytest.fixture
def high_pipe() -> Iterator[tuple[int, int]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= HIGH:
        pytest.skip(f"the open-file limit ({hard}) does not allow descriptor {HIGH}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, HIGH + 1), hard))
    r, w = os.pipe()
    high = os.dup2(r, HIGH)
    os.close(r)
    try:
        yield high, w
    finally:
        os.close(high)
        os.close(w)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_descriptor_above_1023_is_waited_for(high_pipe: tuple[int, int]) -> None:
    high, w = high_pipe
    with pytest.raises(ValueError):  # what the loop used before
        select.select([high], [], [], 0)
    assert _ready([high], 0.05) == set()  # nothing to read: the timeout
    os.write(w, b"x")
    assert _ready([high], 1.0) == {high}


def test_a_hung_up_descriptor_wakes_the_wait() -> None:
    r, w = os.pipe()
    os.close(w)  # the writer is gone: poll says POLLHUP, and the loop must not sleep through it
    try:
        assert _ready([r], 5.0) == {r}
    finally:
        os.close(r)
