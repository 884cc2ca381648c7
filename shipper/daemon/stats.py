"""The daemon's figures: per input and overall, as one status document.

The same document is written to the status file (`shipper status`), drawn as the terminal's status
line and sent as systemd's STATUS, and served as Prometheus metrics. Rates are averaged over the
last `WINDOW` seconds. Lag is the age of the oldest batch read but not yet acknowledged.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

WINDOW = 10.0
RETRY_COUNTERS = ("request_retries", "retried_items")


@dataclass
class InputStats:
    label: str
    read: int = 0  # entries (lines, journal entries) read
    docs: int = 0  # documents made from them (and handed on)
    bytes: int = 0  # bytes of text read (files)
    gaps: int = 0  # shipper.gap events reported


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


class Stats:
    def __init__(self) -> None:
        self.inputs: dict[str, InputStats] = {}
        self._samples: deque[tuple[float, int, int]] = deque()

    def add_input(self, key: str, label: str) -> InputStats:
        return self.inputs.setdefault(key, InputStats(label))

    def status(self, snap: Snapshot, base: dict[str, Any]) -> dict[str, Any]:
        """The status document (``base`` holds pid, times, config path, state)."""
        read = sum(s.read for s in self.inputs.values())
        shipped = sum(snap.shipped.values())
        rate_in, rate_out = self._rates(snap.now, read, shipped)
        inputs = {}
        lags = [0.0]
        for key, s in self.inputs.items():
            oldest = snap.oldest.get(key)
            lag = max(0.0, snap.now - oldest) if oldest is not None else 0.0
            lags.append(lag)
            inputs[key] = {**asdict(s), "shipped": snap.shipped.get(key, 0), "lag_seconds": round(lag, 3),
                           "backlog_bytes": snap.backlog.get(key)}
        counters = snap.sink_counters
        status = {
            **base,
            "rates": {"read_per_second": round(rate_in, 1), "shipped_per_second": round(rate_out, 1)},
            "lag_seconds": round(max(lags), 3),
            "queue_events": snap.queue_events,
            "spool_bytes": snap.spool_bytes,
            "in_flight_batches": snap.in_flight,
            "output": {"name": snap.sink, "connected": snap.connected, "counters": counters},
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
