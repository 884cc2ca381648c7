"""The courier: the one thread that hands batches to the sink, so the loop never waits for it.

It opens the sink, unless it was given one open already (retrying while the output is
unreachable: meanwhile batches wait in the disk buffer, those queued in memory before it was found
unreachable too: `Outbox.keep` at each failed attempt), writes batches in order,
and flushes when no batch came for `QUIET` seconds or the oldest unflushed one has waited
``linger`` seconds (so a trickle of live events is not held back until a bulk request is full).
The sink acknowledges on this thread, into the `Ledger`. A failure that retrying cannot fix
(credentials refused, a bug) stops the courier; the loop then stops the daemon with that error.
So do credentials that Elasticsearch says may not write (`check_writable`), asked as soon as the
courier opened the output: an output unreachable at the start (or at a reload while the old one
failed too) is checked so once it answers.

An output that is open but does not take documents now (the Elasticsearch sink retrying requests or
items: `Sink.failing`) counts as unreachable: not `connected`, not `delivering`, so what is read
meanwhile goes to the disk buffer, and reading pauses when that is full.

At a reload whose ``run.stop_timeout`` ran out, the courier is `abandon`ed: it takes no more batches,
and a sink that can let go (`Abandonable`) gives back what it did not deliver, for the disk buffer.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from shipper.daemon.ledger import Ledger
from shipper.daemon.outbox import Outbox
from shipper.errors import ShipperError, UnavailableError
from shipper.event import Batch
from shipper.sinks.base import Abandonable, Probed, Sink
from shipper.sources.live import Log

RETRY_OPEN_FIRST, RETRY_OPEN_MAX = 0.5, 30.0  # seconds between attempts to open an output, unless it says
STALLED_AFTER = 5.0  # a sink call taking longer than this means the output is not keeping up
# Unflushed events are flushed once no batch came for this long: while the inputs are busy, batches
# follow each other closer than that and the sink fills whole bulk requests (flushing whenever the
# outbox was empty for a moment sent bulks of ~460 events at 80k events/s: 2.5x the requests).
QUIET = 0.01
ORPHAN_INPUT = "(disk buffer of a previous run)"


class Courier:
    def __init__(self, make_sink: Callable[[], Sink], outbox: Outbox, ledger: Ledger, *, linger: float, log: Log,
                 quiet: float = QUIET, opened: Sink | None = None,
                 retry: tuple[float, float] = (RETRY_OPEN_FIRST, RETRY_OPEN_MAX)) -> None:
        """``opened``: the sink, already opened with ``ledger.ack``; ``retry``: the first and the
        longest wait between two attempts to open it (the output's own retry settings, if it has any)."""
        self._make_sink = make_sink
        self._retry = retry
        self._opened = opened
        self._outbox = outbox
        self._ledger = ledger
        self._linger = linger
        self._quiet = quiet
        self._log = log
        self._finish = threading.Event()
        self._abandoned = threading.Event()
        self._given_back: list[Batch] = []  # what the sink did not deliver, once abandoned
        self._thread = threading.Thread(target=self._run, name="shipper-courier", daemon=True)
        self.error: BaseException | None = None  # what stopped it, when it was not asked to
        self.failing = False  # the output could not be opened: batches go to the disk buffer
        self._sink: Sink | None = None  # the output, while it is open
        self.sink_name = ""
        self.counters: dict[str, int] = {}  # the sink's counters, copied after each call
        self._busy_since: float | None = None  # when the sink call in progress began

    def start(self) -> None:
        self._thread.start()

    def finish(self, timeout: float) -> bool:
        """Deliver what is waiting, then stop; False if that took longer than ``timeout``."""
        self._finish.set()
        self._outbox.close()
        self._thread.join(timeout)
        return not self.running

    def abandon(self, timeout: float) -> list[Batch] | None:
        """After a `finish` that timed out: stop now, with what the sink holds undelivered (the
        sink's ``abandon``). The batches it did not deliver, once the courier ended (within
        ``timeout``: it lets requests in flight finish); None when its sink cannot let go or it
        did not end in time (it sends nothing more then either)."""
        sink = self._sink
        if not isinstance(sink, Abandonable):
            return None
        self._abandoned.set()
        sink.abandon()
        self._thread.join(timeout)
        return None if self.running else self._given_back

    @property
    def running(self) -> bool:
        """Still at work: a `finish` whose timeout expired first."""
        return self._thread.is_alive()

    def delivering(self, now: float) -> bool:
        """The output takes batches (maybe slower than they are read: then reading waits, rather
        than filling the disk buffer, which is for when it does not take them at all)."""
        busy_since, sink = self._busy_since, self._sink
        return (not self.failing and not (sink is not None and sink.failing)
                and (busy_since is None or now - busy_since < STALLED_AFTER))

    @property
    def busy_since(self) -> float | None:
        """When the sink call in progress (a write or a flush) began (monotonic), None between calls:
        the output has taken no batch since then."""
        return self._busy_since

    @property
    def connected(self) -> bool:
        """The output is open and takes documents (read on the loop's thread)."""
        sink = self._sink
        return sink is not None and not sink.failing

    def _run(self) -> None:
        try:
            sink = self._open()
            if sink is None:
                return
            self._sink = sink
            try:
                self._deliver(sink)
            finally:
                self._sink = None
                sink.close()
            if self._abandoned.is_set() and isinstance(sink, Abandonable):
                self._given_back = sink.give_back()
        except BaseException as exc:  # handed to the loop, which stops the daemon with it
            self.error = exc

    def _open(self) -> Sink | None:
        if self._opened is not None:
            sink, self._opened = self._opened, None
            self.sink_name = sink.name
            return sink
        (delay, longest), said = self._retry, 0.0
        while True:
            sink = self._make_sink()
            self.sink_name = sink.name
            try:
                sink.open(self._ledger.ack)
            except UnavailableError as exc:
                self._outbox.keep()  # (what the loop queued in memory, taking the output for one that answers...)
                self.failing = True  # (... goes to the disk buffer first, in order, and what it reads next after it)
                sink.close()
                if time.monotonic() - said > 60:
                    said = time.monotonic()
                    self._log(f"shipper: {exc}; retrying in the background, events wait in the buffer")
            else:
                try:
                    check_writable(sink)  # (not retried: credentials that may not write stop the daemon)
                except BaseException:
                    sink.close()
                    raise
                self.failing = False
                return sink
            if self._finish.wait(delay):
                return None
            delay = min(delay * 2, longest)

    def _deliver(self, sink: Sink) -> None:
        outbox, pending_since = self._outbox, None
        while not self._abandoned.is_set():
            if pending_since is None:
                batch = outbox.get(0.5)
            else:  # None after a quiet moment, or once the oldest unflushed batch waited ``linger``
                batch = outbox.get(min(self._quiet, max(0.0, pending_since + self._linger - time.monotonic())))
            now = time.monotonic()
            if batch is not None:
                self._busy_since = now
                sink.write(batch)
                pending_since = pending_since or now
                self._publish(sink)
            if pending_since is not None and (batch is None or now - pending_since >= self._linger):
                self._busy_since = now
                sink.flush()
                pending_since = None
                self._publish(sink)
            if self._finish.is_set() and pending_since is None and outbox.empty:
                return

    def _publish(self, sink: Sink) -> None:
        self._busy_since = None
        self.counters = dict(sink.counters)


def check_writable(sink: Sink) -> None:
    """After ``sink`` opened: a `ShipperError` when its output says that it would refuse what it is
    sent (`Probed`: Elasticsearch credentials without the privileges to write)."""
    if isinstance(sink, Probed):
        sink.check_writable()


def describe(error: BaseException) -> str:
    if isinstance(error, ShipperError):
        return str(error)
    return f"unexpected error in the output thread: {type(error).__name__}: {error}"
