"""A real small filesystem for tests of what a full disk does: a tmpfs mounted on a directory
(the tests run as root; where mounting is not allowed, the test is skipped, saying why)."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


@contextmanager
def small_disk(directory: Path, size: str) -> Iterator[Path]:
    """``directory`` (made here) as a filesystem of ``size`` (``mount -o size=``: "256k", "1m")."""
    directory.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "--lazy", str(directory)], check=True)  # (lazy: files a failure left open)
