"""The express lane looks for recognition's gates and a process's prefilters in one pass over the
message (`Needles` in shipper/parallel/_express.c): a line with any of them is left to Python, a
line with none is taken, for processes with and without prefilters, texts that share their first
two bytes, and texts shorter than two bytes (one memmem per text)."""

from __future__ import annotations

import pytest

from shipper.parallel.express import NATIVE

if NATIVE:
    from shipper.parallel import _express

needs_lane = pytest.mark.skipif(not NATIVE, reason="the C extension is not built")

MINUTES = {"Jan  1 00:00": "2017-01-01T00:00:"}
PLAIN = b"Jan  1 00:00:00 h other[1]: nothing here\n"


def _plan() -> _express.Plan:
    gates = (b"gate1", b"SYSERR(")
    filters = ((b"alpha", (b"gax", b"zzz")), (b"beta", (b"q", b"long text")))
    return _express.Plan(gates, filters, (), (), ((None, b"{"),), b'"log":{"offset":')


def _taken(plan: _express.Plan, process: str, message: str) -> bool:
    """Whether the lane takes a line of ``process`` with ``message`` (the line after it is plain:
    a region's last line is never taken)."""
    data = f"Jan  1 00:00:00 h {process}[1]: {message}\n".encode() + PLAIN[:-1]
    return plan.scan(data, 0, len(data) + 1, 4096, MINUTES, 100) == (0, 0)


@needs_lane
@pytest.mark.parametrize("where", ["{}", "a {} b", "a {}", "{} b"])
def test_gates_count_for_every_process(where: str) -> None:
    plan = _plan()
    for process in ("alpha", "beta", "other"):
        assert _taken(plan, process, where.format("plain words"))
        assert not _taken(plan, process, where.format("gate1")), process
        assert not _taken(plan, process, where.format("SYSERR(root)")), process


@needs_lane
@pytest.mark.parametrize("where", ["{}", "a {} b", "a {}", "{} b"])
def test_prefilters_count_for_their_process_only(where: str) -> None:
    plan = _plan()
    assert not _taken(plan, "alpha", where.format("gax"))
    assert not _taken(plan, "alpha", where.format("zzz"))
    assert _taken(plan, "alpha", where.format("gaz gat gatE1"))  # the first two bytes of "gax" and "gate1", no more
    assert not _taken(plan, "beta", where.format("q"))  # a one-byte prefilter
    assert not _taken(plan, "beta", where.format("long text"))
    assert _taken(plan, "beta", where.format("long tex"))
    for message in ("gax", "zzz", "q", "long text"):
        assert _taken(plan, "other", where.format(message)), message
    assert _taken(plan, "alpha", where.format("q"))  # beta's prefilter is not alpha's
