"""Progress on stderr for long operations: a bar (bytes done, rate, ETA) when stderr is a terminal."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from typing import Iterator, Protocol

from shipper.env import Env


class Progress(Protocol):
    """What the pipeline reports to: ``update(n)`` adds n bytes done."""

    def update(self, n: int) -> object: ...


class Silent:
    def update(self, n: int) -> None:
        pass


@contextmanager
def progress_bar(total: int, env: Env, *, enabled: bool = True) -> Iterator[Progress]:
    if not enabled or not env.stderr_isatty:
        yield Silent()
        return
    from tqdm import tqdm

    # No monitor thread (tqdm's documented switch): this bar is updated often enough without it,
    # and worker processes are forked only while the process runs no other thread.
    tqdm.monitor_interval = 0
    # A terminal that reports no width (a bare pty) would get an invisible bar: assume 80 columns.
    width = shutil.get_terminal_size(fallback=(80, 24)).columns
    bar = tqdm(total=total or None, unit="B", unit_scale=True, unit_divisor=1024, file=env.stderr, ncols=width,
               desc="replay", mininterval=0.2)
    try:
        yield bar
    finally:
        bar.close()
