"""The parser interface. One parser instance per input stream (it may keep state: the year of
the last RFC 3164 stamp, a multi-line record not yet complete)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shipper.event import Doc
from shipper.sources.base import RawChunk


@dataclass(frozen=True)
class ParseContext:
    timezone: str  # a zone `load_zone` reads; RFC 3164 and zone-less ISO stamps are read in it
    year: int | None = None  # forced year for RFC 3164 stamps (else inferred from the file's mtime)
    max_line_bytes: int = 64 * 1024


class Parser(Protocol):
    def parse(self, chunk: RawChunk) -> list[Doc]:
        """Documents for the chunk's items. Every item yields at least one document (an entry
        that does not parse becomes one tagged ``unparsed``), except continuation lines of a
        multi-line record, which are folded into the record they continue."""
        ...

    def flush(self) -> list[Doc]:
        """Documents held back (a multi-line record still open) at the end of the stream."""
        ...

    def held(self) -> Doc | None:
        """The record held back, if any: the next items may continue it (`flush` gives it)."""
        ...

    def state(self) -> tuple[Any, ...]:
        """What decides how the next items are parsed (a copy; caches left out), for the
        parallel replay to compare between worker processes and to `restore`."""
        ...

    def restore(self, state: tuple[Any, ...]) -> None: ...
