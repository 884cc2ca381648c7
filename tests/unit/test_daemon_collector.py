"""The daemon's garbage collection: off between the loop's collections, which free cycles."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from shipper.daemon.collector import Collector


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def collector() -> Iterator[Collector]:
    was = gc.isenabled()
    c = Collector(period=10.0)
    c.start(now=100.0)
    try:
        yield c
    finally:
        c.stop()
        assert gc.isenabled() == was


def test_automatic_collection_is_off_until_stopped(collector: Collector) -> None:
    assert not gc.isenabled()
    assert gc.get_freeze_count() > 0  # what existed at start is out of the collector's reach


def test_a_cycle_is_freed_at_the_first_tick_after_the_period(collector: Collector) -> None:
    node = _Node()
    ref = weakref.ref(node)
    del node
    collector.tick(now=105.0)  # too early
    assert ref() is not None and collector.collections == 0
    collector.tick(now=110.0)
    assert ref() is None and collector.collections == 1
    collector.tick(now=115.0)  # the next one is a period later
    assert collector.collections == 1


def test_stop_gives_the_collection_back() -> None:
    gc.enable()
    c = Collector()
    c.start(now=0.0)
    c.stop()
    assert gc.isenabled() and gc.get_freeze_count() == 0
