"""The disk buffer when its directory refuses a new segment file (a full disk, a directory shipper
may not write): an `OutputError` naming the directory and what to do, and the buffer as it was.

The tests run as root, whom permissions do not stop, so the refusal is the kernel's answer to the
``open`` that makes the file, given by a stand-in for ``os.open`` for that directory only.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from shipper.errors import ExitCode, OutputError
from shipper.state.spool import Spool

RECORD = b"r" * 1000


class Refusing:
    """``os.open``, but files made in ``directory`` are refused with ``code`` while ``on``."""

    def __init__(self, directory: Path, code: int) -> None:
        self.directory, self.code, self.on = str(directory), code, True
        self._open = os.open

    def __call__(self, path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if self.on and flags & os.O_CREAT and os.path.dirname(os.fspath(path)) == self.directory:
            raise OSError(self.code, os.strerror(self.code), os.fspath(path))
        return self._open(path, flags, *args, **kwargs)


@pytest.mark.parametrize("code, hint", [
    (errno.ENOSPC, "free space where the state directory is, or lower run.spool_max_bytes"),
    (errno.EDQUOT, "free space where the state directory is, or lower run.spool_max_bytes"),
    (errno.EACCES, "let the user shipper runs as write there"),
    (errno.EROFS, "let the user shipper runs as write there"),
])
def test_a_segment_that_cannot_be_made_is_an_output_error_naming_the_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, hint: str) -> None:
    directory = tmp_path / "spool"
    spool = Spool(directory, max_bytes=1 << 20, segment_bytes=64 * 1024)
    refusing = Refusing(directory, code)
    monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(OutputError) as raised:
        spool.put(RECORD)  # the first segment
    assert raised.value.message == f"cannot add a file to the disk buffer in {directory}: {os.strerror(code)}"
    assert raised.value.hint is not None and hint in raised.value.hint
    assert raised.value.exit_code == ExitCode.OUTPUT
    refusing.on = False
    put = [RECORD + bytes([i]) for i in range(64)]  # one segment's worth
    for record in put:
        spool.put(record)
    refusing.on = True
    with pytest.raises(OutputError, match="cannot add a file to the disk buffer"):
        spool.put(RECORD + b"next")  # the second segment
    refusing.on = False
    spool.put(RECORD + b"next")  # the buffer is as it was: once there is room, it goes on
    put.append(RECORD + b"next")
    got = []
    while (taken := spool.get()) is not None:
        got.append(taken)
    spool.close()
    assert got == put
    assert sorted(p.name for p in directory.iterdir()) == []  # read segments are deleted
