"""Switching outputs at a reload (SIGHUP, `shipper.daemon.loop`), for `shipper.daemon.session`.

The new session's output is opened before the old session ends (`open_output`), and judged
against the old one's (`output_works`): a reload must not stop shipping. An old courier still at
work when ``run.stop_timeout`` ran out is let go of, and what it had not delivered goes to the
disk buffer for the new session's output (`give_back`).
"""

from __future__ import annotations

from typing import Callable

from shipper.daemon.courier import Courier, check_writable
from shipper.daemon.outbox import Outbox
from shipper.daemon.plan import Plan
from shipper.errors import ShipperError, UnavailableError
from shipper.sinks.base import Ack, Sink


def open_output(plan: Plan, ack: Ack, old_works: Callable[[], bool] | None) -> Sink | None:
    """The output, opened before the session starts (None: not reachable now); a `ShipperError`
    when it cannot be written to. At a start, one that cannot be reached or refuses shipper now is
    no such error: the courier retries it, meanwhile batches wait in the disk buffer. At a reload
    (``old_works``: whether the output of the session that would end works) it is, while the old
    output works: switching would stop shipping. While the old one fails too (an outage), the new
    one is taken: it may be the fix. One that opens but says it would refuse what it is sent
    (`courier.check_writable`: credentials without the privileges to write) is that error at a
    start (the daemon stops before it reads anything), and is refused at a reload, the old one
    working or not: it cannot be the fix, and each of its requests would fail."""
    sink = plan.make_sink()
    try:
        sink.open(ack)
    except BaseException as exc:
        sink.close()
        if not isinstance(exc, UnavailableError):
            raise
        if old_works is not None and old_works():
            raise _cannot_be_used(exc, "check output.elasticsearch") from None
        return None
    try:
        check_writable(sink)
    except BaseException as exc:
        sink.close()
        if old_works is None or not isinstance(exc, ShipperError):
            raise
        raise _cannot_be_used(exc, None) from None
    return sink


def _cannot_be_used(exc: ShipperError, hint: str | None) -> UnavailableError:
    """Why a reload does not take the new output (``hint`` when ``exc`` has none)."""
    return UnavailableError(f"the new output cannot be used: {exc.message}", hint=exc.hint or hint)


def output_works(plan: Plan, courier: Courier | None) -> bool:
    """Whether a session's output takes batches now: its ``courier`` opened it and did not fail,
    and it opens again (an outage after the courier opened it shows only so)."""
    if courier is None or courier.error is not None or courier.failing or not courier.connected:
        return False
    probe = plan.make_sink()
    try:
        probe.open(_no_ack)
    except ShipperError:
        return False
    finally:
        probe.close()
    return True


def give_back(courier: Courier, outbox: Outbox, timeout: float) -> int | None:
    """Abandon the courier (`Courier.abandon`), which would otherwise deliver what its output
    holds to the old configuration's destination once it answers, and read this disk buffer
    beside the next session's: what the output did not deliver, and the batches waiting in
    memory, go to the disk buffer, and the next session sends them where its configuration says
    (`shipper.daemon.retarget`). Their lines are read again too (their checkpoints did not
    move), unless gone meanwhile (a file rotated out of the input's paths, a journal file
    vacuumed, an input removed); Elasticsearch keeps one copy of each event, by its id.
    How many batches were put back; None when the courier could not let go (`Courier.abandon`)."""
    left = courier.abandon(timeout)
    if left is None:
        return None
    while outbox.events and (batch := outbox.get(0)) is not None:  # (memory comes first)
        left.append(batch)
    for batch in left:
        outbox.put(batch)
    return len(left)


def _no_ack(seq: int) -> None:
    """The acknowledgements of `output_works`'s probe, which writes nothing."""
