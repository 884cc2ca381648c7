"""glibc's allocator, set for a process that runs for months with a few threads.

By default glibc gives each thread that allocates its own arena (the courier and the output's
request threads: each keeps what it once used) and raises its mmap threshold to the largest block
freed so far, so that the megabyte bulk bodies end up inside the heap, where freeing them rarely
gives memory back. Two arenas, a fixed mmap threshold (big blocks are mapped and unmapped) and a
low trim threshold keep the resident memory near what is in use (`bench/run.py`: 7 MB less steady,
11-15 MB less at the peak after an outage).
Elsewhere than glibc (musl) nothing is changed.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
SETTINGS = ((M_ARENA_MAX, 2), (M_MMAP_THRESHOLD, 128 * 1024), (M_TRIM_THRESHOLD, 128 * 1024))


def tune_malloc() -> bool:
    """Apply `SETTINGS`; False when the C library has no ``mallopt`` (not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in SETTINGS)
