"""The allocator settings the daemon applies at start (glibc: this machine's C library)."""

from __future__ import annotations

import platform

import pytest

from shipper.daemon.malloc import tune_malloc


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_every_setting() -> None:
    assert tune_malloc() is True
