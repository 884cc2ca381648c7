"""`shipper status` counts in words: one file, two files (was "1 files skipped")."""

from __future__ import annotations

from shipper.commands.status import _figures


def test_one_of_each_is_said_in_the_singular() -> None:
    text = ", ".join(_figures({"read": 1, "shipped": 1, "read_again": 1, "backlog_bytes": 1, "gaps": 1,
                               "nul_bytes_skipped": 1, "files_read_by_another_input": 1}))
    assert text == ("1 read, 1 shipped, lag 0.0 s, 1 of those read was shipped before a restart or reload (read again, "
                    "not shipped again), 1 byte not read yet, 1 gap reported, 1 NUL byte dropped before lines (a writer "
                    "not in append mode: see the log), 1 file skipped: another input reads it (see the log)")


def test_several_are_said_in_the_plural() -> None:
    text = ", ".join(_figures({"read": 2, "shipped": 0, "lag_seconds": 1.25, "backlog_bytes": 2_048, "gaps": 3,
                               "files_read_by_another_input": 2}))
    assert text == ("2 read, 0 shipped, lag 1.2 s, 2,048 bytes not read yet, 3 gaps reported, "
                    "2 files skipped: another input reads them (see the log)")
