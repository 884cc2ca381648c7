"""What followers (inputs read while they grow: `tail`, `follow`) hand to the daemon.

A follower is polled; it never blocks. Besides chunks of entries it reports:

* `Gap`: data may be missing (a journal vacuumed while shipper was down, a file truncated with
  no copy left to read). The daemon turns it into a ``shipper.gap`` event.
* `Idle`: a stream has not grown for a while; records its parser holds back (a multi-line record
  that more lines could continue) may now be shipped.
* `End`: a stream is finished for good (a rotated file read to its end); its parser is flushed
  and dropped. ``checkpoint`` is committed once everything before it is acknowledged.

Checkpoints are per stream (``RawChunk.origin.source_id``): the daemon tells the follower, through
`Follower.commit`, which position of which stream is acknowledged, and saves `Follower.state`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Union

from shipper.sources.base import RawChunk

Log = Callable[[str], None]


def iso(epoch: float) -> str:
    """Epoch seconds in the ``@timestamp`` form (UTC, microseconds)."""
    whole, micros = divmod(round(epoch * 1_000_000), 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


@dataclass(frozen=True, slots=True)
class Gap:
    since: float | None  # epoch seconds: the newest data known to be shipped (None: unknown)
    until: float | None  # the oldest data available again
    message: str  # for the operator: what happened, where, and what may be missing


@dataclass(frozen=True, slots=True)
class TextMark:
    """A position in a text stream: ``resume`` is where reading starts again (the first line of
    the oldest second whose twins are still counted, so that ids come out the same, see
    `shipper.ids`), ``shipped`` the offset everything before which is known to be shipped (the
    lines read again between the two are not shipped again: `shipper.daemon.streams`)."""

    resume: int
    shipped: int
    done: bool = False  # the stream is finished: nothing after ``shipped`` will ever be read


@dataclass(frozen=True, slots=True)
class JournalMark:
    """A position in the journal: reading resumes *after* the entry ``cursor`` (None: at the
    configured start); ``time`` is that entry's ``@timestamp``. ``shipped``: the cursor of the last
    entry known to be shipped, at or after the position (None: unknown); not part of the position
    (marks that resume at the same place are equal)."""

    cursor: str | None
    time: str | None = None
    shipped: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Idle:
    source_id: str
    shipped: int  # once the held records are flushed, everything before this offset is shipped


@dataclass(frozen=True, slots=True)
class End:
    source_id: str
    checkpoint: TextMark | None  # None: the stream is abandoned (its data is gone; a Gap says so)


Polled = Union[RawChunk, Gap, Idle, End]


class Follower(Protocol):
    key: str  # the checkpoint's name (`shipper.state.checkpoints.input_key`)
    label: str  # what the operator calls this input ("journal", "/var/log/maillog*")

    def open(self, saved: dict[str, Any] | None) -> list[Polled]:
        """Start from the saved state (None: first run); may report gaps found on the way."""
        ...

    def poll(self, now: float) -> list[Polled]:
        """What is readable now (a bounded amount); never blocks."""
        ...

    def fds(self) -> list[int]:
        """File descriptors that become readable when there is news (may be none: then poll)."""
        ...

    def commit(self, source_id: str, checkpoint: object) -> None:
        """Everything of ``source_id`` up to ``checkpoint`` is acknowledged by the output."""
        ...

    def state(self) -> dict[str, Any]:
        """The JSON-able state to save: positions committed so far."""
        ...

    def backlog(self) -> int | None:
        """Bytes known to be waiting to be read (None: unknown)."""
        ...

    def close(self) -> None: ...
