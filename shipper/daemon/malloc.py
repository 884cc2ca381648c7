"""glibc's allocator, set for a process that runs for months with a few threads.

By default glibc gives each thread that allocates its own arena (the courier and the output's
request threads: each keeps what it once used) and raises its mmap threshold to the largest block
freed so far, with no bound. Two arenas keep the resident memory near what is in use
(`bench/run.py`: 7 MB less steady, 11-15 MB less at the peak after an outage). The thresholds are
fixed at 4 MiB: the megabyte bulk bodies are taken from the heap and reused there, and the heap
is trimmed once 4 MiB at its top are free. (At 128 KiB every body was a new mapping, faulted in
page by page and unmapped after its request: the sink alone took 0.65 instead of 0.4 µs an
event, the daemon 6-9% more CPU, for 2-4 MB less resident memory; 93 against 101 MB during a
60 s outage.)
Elsewhere than glibc (musl) nothing is changed.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
SETTINGS = ((M_ARENA_MAX, 2), (M_MMAP_THRESHOLD, 4 << 20), (M_TRIM_THRESHOLD, 4 << 20))


def tune_malloc() -> bool:
    """Apply `SETTINGS`; False when the C library has no ``mallopt`` (not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in SETTINGS)
