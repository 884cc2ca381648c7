"""How the daemon's loop waits between turns with nothing to read (`Daemon._wait`)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Iterator

import pytest

from shipper.daemon import loop


@pytest.fixture
def daemon() -> Iterator[loop.Daemon]:
    none: Any = None  # _wait needs none of the daemon's collaborators
    d = loop.Daemon(none, none, None, none, none)
    yield d
    os.close(d._wake_r)
    os.close(d._wake_w)


@pytest.fixture
def news() -> Iterator[int]:
    """An input descriptor that is readable, as a journal's inotify is when entries were written."""
    r, w = os.pipe()
    os.write(w, b"x")
    yield r
    os.close(r)
    os.close(w)


def test_an_input_that_wakes_the_loop_is_left_to_gather(daemon: loop.Daemon, news: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Polled at once, a journal being written gives a few entries a poll, at several times the cost.
    monkeypatch.setattr(loop, "GATHER", 0.3)
    start = time.monotonic()
    daemon._wait([news], 20.0)
    assert time.monotonic() - start >= 0.3


def test_a_signal_ends_the_wait_at_once_even_with_news(daemon: loop.Daemon, news: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "GATHER", 60.0)
    daemon._on_stop(signal.SIGTERM, None)  # what the SIGTERM handler does: the self-pipe
    start = time.monotonic()
    daemon._wait([news], 60.0)
    assert time.monotonic() - start < 30


def test_nothing_to_read_waits_for_the_timeout(daemon: loop.Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "GATHER", 60.0)
    r, w = os.pipe()
    try:
        start = time.monotonic()
        daemon._wait([r], 0.2)
        assert 0.2 <= time.monotonic() - start < 30
    finally:
        os.close(r)
        os.close(w)
