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
    # A terminal that reports no size (a bare pty: `script`, some CI runners) would get an invisible
    # bar (tqdm hides a bar below the last of 0 rows): assume 80 columns and 24 rows.
    size = shutil.get_terminal_size(fallback=(80, 24))
    bar = tqdm(total=total or None, unit="B", unit_scale=True, unit_divisor=1024, file=env.stderr, ncols=size.columns,
               nrows=size.lines, desc="replay", mininterval=0.2)
    try:
        yield bar
    finally:
        bar.close()
