"""The source interface: every backend (text files, archives, journal files, dumps) yields
`RawChunk`s. Backends are small classes imported lazily by `open_inputs` (systemd-python is
needed only when a journal is actually read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Protocol

from shipper.event import TAG_READ_ERROR

# What the parser gets: "text" chunks carry lines (str, without the line terminator);
# "fields" chunks carry journal entries as dicts of field name -> str (or bytes for binary values).
ChunkKind = Literal["text", "fields"]

# Formats a parser is chosen for. "auto" is resolved by sniffing before parsing starts.
Format = Literal["syslog", "elasticsearch", "journal"]
# What `replay --format` (and `open_inputs`) accept: "auto" detects (`shipper.sources.sniff`).
INPUT_FORMATS = ("auto", "syslog", "elasticsearch", "journal-export", "journal-json", "journal-verbose")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a stream of entries comes from."""

    source_id: str  # stable identity of the input (used for checkpoints and counters)
    format: Format
    path: str | None = None  # goes to log.file.path (None for the journal or stdin)
    mtime: float | None = None  # modification time, for inferring the year of RFC 3164 stamps


@dataclass(slots=True)
class RawChunk:
    origin: Origin
    kind: ChunkKind
    items: list[Any]  # list[str] for text, list[dict[str, str | bytes]] for fields
    offsets: list[int] | None = None  # byte offset of each text line in the decompressed stream
    tags: dict[int, tuple[str, ...]] = field(default_factory=dict)  # sparse per-item flags
    checkpoint: object | None = None  # position after the last item
    progress: int = 0  # input bytes (or entries) consumed so far, for progress reporting


def read_errors(chunk: RawChunk) -> int:
    """How many items of the chunk report a read error (an input broke there)."""
    return sum(1 for tags in chunk.tags.values() if TAG_READ_ERROR in tags) if chunk.tags else 0


def pieces(chunk: RawChunk, size: int) -> Iterator[RawChunk]:
    """The chunk in consecutive pieces of at most ``size`` items (the chunk itself if it is no
    larger)."""
    n = len(chunk.items)
    for start in range(0, max(n, 1), size):
        yield part_of(chunk, start, min(start + size, n))


def part_of(chunk: RawChunk, start: int, stop: int) -> RawChunk:
    """Items ``start:stop`` of a chunk, with their offsets and tags (the chunk itself if that is
    all of it). The checkpoint goes with the last item: it is the position after the chunk."""
    n = len(chunk.items)
    if start == 0 and stop == n:
        return chunk
    return RawChunk(
        chunk.origin,
        chunk.kind,
        chunk.items[start:stop],
        offsets=chunk.offsets[start:stop] if chunk.offsets is not None else None,
        tags={i - start: t for i, t in chunk.tags.items() if start <= i < stop},
        checkpoint=chunk.checkpoint if stop == n else None,
        progress=chunk.progress,
    )


class Source(Protocol):
    """One readable input. ``total`` is the size for the progress bar (bytes of the file as it
    is on disk, or entries), None when unknown (stdin, a live journal)."""

    source_id: str

    def total(self) -> int | None: ...

    def chunks(self) -> Iterator[RawChunk]: ...

    def close(self) -> None: ...
