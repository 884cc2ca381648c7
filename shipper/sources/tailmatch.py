"""Which files a file input's patterns match now (`shipper.sources.tail`).

Each of its ``paths`` globs is matched (``~`` expanded), less what an ``exclude`` pattern names;
what is left counts if it is a regular file, one file per device+inode however many names it has.
The files the daemon writes itself (`Sink.files`) are never followed: every line read from them
would be written to them again.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from pathlib import Path
from typing import Callable, Sequence

from shipper.config.model import FileInput

Found = dict[tuple[int, int], tuple[str, os.stat_result]]  # (device, inode) -> (its first path matched, its stat)


def excluded(spec: FileInput, path: str) -> bool:
    """Whether an ``exclude`` pattern of ``spec`` matches the file's name or its whole path."""
    name = os.path.basename(path)
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in spec.exclude)


def matched(cfg: FileInput, own: Sequence[Path], label: str, warn: Callable[[str, str], None]) -> Found:
    """The files ``cfg`` (the input named ``label``) matches; a path of ``own`` that it matches is
    left out, and said once (``warn``: the path, then the message)."""
    found: Found = {}
    mine = _own_files(own)  # (they may appear at any time: the local store's -wal file)
    for pattern in cfg.paths:
        for path in sorted(glob.glob(os.path.expanduser(pattern))):
            if excluded(cfg, path):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in mine:
                warn(path, f"shipper: {path} matches {label} but is shipper's own output; "
                           "it is not read (add it to the input's exclude: to silence this)")
            elif stat.S_ISREG(st.st_mode):
                found.setdefault(ident, (path, st))
    return found


def _own_files(own: Sequence[Path]) -> set[tuple[int, int]]:
    idents: set[tuple[int, int]] = set()
    for path in own:
        try:
            st = os.stat(path)
        except OSError:
            continue
        idents.add((st.st_dev, st.st_ino))
    return idents
