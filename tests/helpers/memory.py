"""Leak checks for C code: what Python's allocator holds after many calls (tracemalloc sees every
allocation made through it: objects, and the C buffers of PyMem_*)."""

from __future__ import annotations

import tracemalloc
from typing import Callable


def grown_after(once: Callable[[], object], warm: int, rounds: int) -> int:
    """Bytes held more after ``rounds`` calls of ``once`` than after ``warm`` calls (caches filled)."""
    tracemalloc.start()
    try:
        for _ in range(warm):
            once()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            once()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
