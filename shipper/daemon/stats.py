"""The daemon's figures: per input and overall, as one status document.

The same document is written to the status file (`shipper status`), drawn as the terminal's status
line and sent as systemd's STATUS, and served as Prometheus metrics. Rates are averaged over the
last `WINDOW` seconds. Lag is the age of the oldest batch read but not yet acknowledged.

The figures count from the daemon's start, across reloads: each session's output counts afresh
(its ledger, its sink), so what a session shipped and counted is carried into the next (`end`);
an input a reload removes is no longer listed (`begin`), and what it read and shipped stays in the
totals the rates come from (a Prometheus counter never goes down, a rate is never negative).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from shipper.daemon.courier import ORPHAN_INPUT

WINDOW = 10.0
RETRY_COUNTERS = ("request_retries", "retried_items")


@dataclass
class InputStats:
    label: str
    # Entries (lines, journal entries) read, each time they are read: after a restart or reload,
    # those the output had not acknowledged are read, and shipped, again; so are those in
    # `read_again` (which are not shipped again).
    read: int = 0
    docs: int = 0  # documents made from them (and handed on)
    bytes: int = 0  # bytes of text read (files)
    gaps: int = 0  # shipper.gap events reported
    # Documents read again after a restart or reload, before what the output had acknowledged:
    # they rebuild the ids' counts and are not shipped again (`shipper.daemon.streams`).
    read_again: int = 0
    # A file input's own counts (`FileFollower.counters`): NUL bytes dropped before lines (a writer
    # not in append mode, after a copytruncate); and the files its patterns match that another input
    # reads, as this configuration's inputs share them (a reload may end the overlap: counted afresh).
    nul_bytes_skipped: int = 0
    files_read_by_another_input: int = 0


@dataclass
class Snapshot:
    """The live figures the loop gathers for one status document."""

    now: float  # monotonic
    wall: float
    shipped: dict[str, int]
    oldest: dict[str, float | None]  # input key -> read time of its oldest batch in flight
    backlog: dict[str, int | None]
    queue_events: int
    spool_bytes: int
    in_flight: int
    sink: str
    connected: bool
    sink_counters: dict[str, int]
    last_message: str | None
    stalled_seconds: float | None = None  # the output is open but has taken no batch for so long (`OutputWatch`)


class Stats:
    def __init__(self) -> None:
        self.inputs: dict[str, InputStats] = {}
        self._samples: deque[tuple[float, int, int]] = deque()
        self._shipped: Counter[str] = Counter()  # acknowledged in the sessions that ended, by input key
        self._counters: Counter[str] = Counter()  # the output's counters in the sessions that ended
        self._removed_read = self._removed_shipped = 0  # by the inputs a reload removed

    def add_input(self, key: str, label: str) -> InputStats:
        return self.inputs.setdefault(key, InputStats(label))

    def begin(self, inputs: Iterable[tuple[str, str]]) -> None:
        """A session starts with these inputs (key, label); the others are no longer listed."""
        labels = dict(inputs)
        for key in [k for k in self.inputs if k not in labels]:
            self._removed_read += self.inputs.pop(key).read
            self._removed_shipped += self._shipped.pop(key, 0)
        for key, label in labels.items():
            self.add_input(key, label).label = label

    def end(self, shipped: Mapping[str, int], counters: Mapping[str, int]) -> None:
        """A session ended: what its output acknowledged (by input key) and counted."""
        self._shipped.update(shipped)
        self._counters.update(counters)

    def status(self, snap: Snapshot, base: dict[str, Any]) -> dict[str, Any]:
        """The status document (``base`` holds pid, times, config path, state)."""
        shipped = self._shipped + Counter(snap.shipped)  # (a Counter sum keeps positive counts only)
        read = self._removed_read + sum(s.read for s in self.inputs.values())
        rate_in, rate_out = self._rates(snap.now, read, self._removed_shipped + sum(shipped.values()))
        inputs = {}
        lags = [0.0]
        for key, s in self.inputs.items():
            oldest = snap.oldest.get(key)
            lag = max(0.0, snap.now - oldest) if oldest is not None else 0.0
            lags.append(lag)
            inputs[key] = {**asdict(s), "shipped": shipped[key], "lag_seconds": round(lag, 3),
                           "backlog_bytes": snap.backlog.get(key)}
        counters = dict(self._counters + Counter(snap.sink_counters))
        stalled = None if snap.stalled_seconds is None else round(snap.stalled_seconds, 1)
        status = {
            **base,
            "rates": {"read_per_second": round(rate_in, 1), "shipped_per_second": round(rate_out, 1)},
            "lag_seconds": round(max(lags), 3),
            "queue_events": snap.queue_events,
            "spool_bytes": snap.spool_bytes,
            "in_flight_batches": snap.in_flight,
            # Events the output acknowledged: every input's (also inputs a reload removed), and those an
            # earlier run or session left in the disk buffer (no input's: `ORPHAN_INPUT`)
            "shipped": self._removed_shipped + sum(shipped.values()),
            "shipped_from_previous_run": shipped[ORPHAN_INPUT],
            "output": {"name": snap.sink, "connected": snap.connected, "stalled_seconds": stalled,
                       "counters": counters},
            "retries": sum(counters.get(k, 0) for k in RETRY_COUNTERS),
            "dead_lettered": counters.get("dead_lettered", 0),
            "last_message": snap.last_message,
            "inputs": inputs,
        }
        status["line"] = status_line(status)
        return status

    def _rates(self, now: float, read: int, shipped: int) -> tuple[float, float]:
        samples = self._samples
        samples.append((now, read, shipped))
        while len(samples) > 2 and now - samples[1][0] >= WINDOW:
            samples.popleft()
        t0, r0, s0 = samples[0]
        dt = now - t0
        return ((read - r0) / dt, (shipped - s0) / dt) if dt > 0 else (0.0, 0.0)


def status_line(status: dict[str, Any]) -> str:
    """One line: rates, lag, queue, buffer, errors."""
    out = status["output"]
    rates = status["rates"]
    state = "connected" if out["connected"] else "not connected"
    if out.get("stalled_seconds") is not None:  # (open, but stuck in a write)
        state += f" but has not taken a batch for {out['stalled_seconds']:,.0f} s"
    line = (
        f"read {rates['read_per_second']:,.0f}/s, shipped {rates['shipped_per_second']:,.0f}/s, "
        f"lag {status['lag_seconds']:.1f} s, queue {status['queue_events']:,} events, "
        f"buffer {human_bytes(status['spool_bytes'])}, {out['name'] or 'output'} {state}, "
        f"{status['retries']:,} retries, {status['dead_lettered']:,} dead-lettered"
    )
    return line


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
