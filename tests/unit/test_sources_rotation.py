"""Rotated log sets: family names and the oldest-first reading order (pure functions)."""

from __future__ import annotations

import random

import pytest

from shipper.sources.rotation import DATED, LIVE, NUMBERED, family_of, order_rotated, parse_name


@pytest.mark.parametrize(
    ("name", "family", "kind"),
    [
        ("maillog", "maillog", LIVE),
        ("maillog.1", "maillog", NUMBERED),
        ("maillog.2.gz", "maillog", NUMBERED),
        ("maillog.10.bz2", "maillog", NUMBERED),
        ("maillog.3.xz", "maillog", NUMBERED),
        ("maillog.4.zst", "maillog", NUMBERED),
        ("maillog-20170830", "maillog", DATED),
        ("maillog-20170830.gz", "maillog", DATED),
        ("maillog-2017083014", "maillog", DATED),
        ("maillog-20170830-1504094400.gz", "maillog", DATED),
        ("maillog-2017-08-30", "maillog", DATED),
        ("messages", "messages", LIVE),
        ("messages.0", "messages", NUMBERED),
        ("syslog.1", "syslog", NUMBERED),
        ("app.log", "app.log", LIVE),
        ("app.1.log", "app.log", NUMBERED),
        ("app.2.log.gz", "app.log", NUMBERED),
        ("app-20170830.log.gz", "app.log", DATED),
        ("access.log.1", "access.log", NUMBERED),
        ("access.log-20170830.gz", "access.log", DATED),
        # Not rotations: versions, sizes and dates that are not dates stay names of their own.
        ("elasticsearch.624.log", "elasticsearch.624.log", LIVE),
        ("es5.0.0-alpha1-issue17430.log", "es5.0.0-alpha1-issue17430.log", LIVE),
        ("Linux_2k.log", "Linux_2k.log", LIVE),
        ("report-20171399", "report-20171399", LIVE),
        ("log-12345678", "log-12345678", LIVE),
        ("x.gz", "x", LIVE),
    ],
)
def test_parse_name(name: str, family: str, kind: str) -> None:
    parsed = parse_name(name)
    assert (parsed.family, parsed.kind) == (family, kind)
    assert family_of(name) == family


def test_numbered_descending_then_live() -> None:
    names = ["maillog", "maillog.1", "maillog.2.gz", "maillog.10.gz", "maillog.3.gz"]
    assert order_rotated(names) == ["maillog.10.gz", "maillog.3.gz", "maillog.2.gz", "maillog.1", "maillog"]


def test_dated_ascending_then_live() -> None:
    names = ["maillog-20170901.gz", "maillog", "maillog-20170825.gz", "maillog-20170830"]
    assert order_rotated(names) == ["maillog-20170825.gz", "maillog-20170830", "maillog-20170901.gz", "maillog"]


def test_dated_across_years_and_hours() -> None:
    names = ["m-2018010100", "m-2017123123", "m-2017123105", "m"]
    assert order_rotated(names) == ["m-2017123105", "m-2017123123", "m-2018010100", "m"]


def test_dated_with_epoch_suffix() -> None:
    names = ["m-20170830-1504137600", "m-20170830-1504051200", "m"]
    assert order_rotated(names) == ["m-20170830-1504051200", "m-20170830-1504137600", "m"]


def test_mixed_set_without_mtimes_reads_numbered_block_first() -> None:
    names = ["maillog", "maillog-20170830.gz", "maillog.1", "maillog.2.gz", "maillog-20170823.gz"]
    assert order_rotated(names) == [
        "maillog.2.gz",
        "maillog.1",
        "maillog-20170823.gz",
        "maillog-20170830.gz",
        "maillog",
    ]


def test_mixed_set_uses_mtimes_when_the_dated_block_is_older() -> None:
    # dateext was turned off: the dated files are the leftovers, the numbered ones are newer.
    names = ["m", "m.1", "m.2.gz", "m-20170801.gz", "m-20170808.gz"]
    mtimes = {"m": 500.0, "m.1": 400.0, "m.2.gz": 300.0, "m-20170801.gz": 100.0, "m-20170808.gz": 200.0}
    assert order_rotated(names, mtimes) == ["m-20170801.gz", "m-20170808.gz", "m.2.gz", "m.1", "m"]


def test_mixed_set_mtimes_confirming_the_default() -> None:
    names = ["m", "m.1", "m-20170808.gz"]
    mtimes = {"m": 500.0, "m.1": 100.0, "m-20170808.gz": 300.0}
    assert order_rotated(names, mtimes) == ["m.1", "m-20170808.gz", "m"]


def test_without_live_file() -> None:
    assert order_rotated(["maillog.1", "maillog.3.gz", "maillog.2.gz"]) == ["maillog.3.gz", "maillog.2.gz", "maillog.1"]


def test_same_rank_plain_and_compressed_copy_order_by_name() -> None:
    assert order_rotated(["m.1.gz", "m.1", "m"]) == ["m.1", "m.1.gz", "m"]


def test_order_does_not_depend_on_input_order() -> None:
    names = ["m", "m.1", "m.2.gz", "m.3.gz", "m.11.gz", "m-20170801.gz", "m-20170808.gz", "m-2017081512"]
    expected = order_rotated(names)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = names[:]
        rng.shuffle(shuffled)
        assert order_rotated(shuffled) == expected
    assert expected[-1] == "m"
    assert expected[:4] == ["m.11.gz", "m.3.gz", "m.2.gz", "m.1"]
