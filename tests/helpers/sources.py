"""Reading a whole source in tests: every item with its offset and tags, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipper.sources.base import RawChunk, Source


@dataclass
class ReadResult:
    items: list[Any] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    tags: dict[int, tuple[str, ...]] = field(default_factory=dict)  # by index in `items`
    chunks: list[RawChunk] = field(default_factory=list)

    def tagged(self, tag: str) -> list[int]:
        return sorted(i for i, t in self.tags.items() if tag in t)


def read_all(source: Source) -> ReadResult:
    """Everything ``source`` yields (then closes it)."""
    out = ReadResult()
    try:
        for chunk in source.chunks():
            base = len(out.items)
            out.chunks.append(chunk)
            out.items.extend(chunk.items)
            if chunk.offsets is not None:
                assert len(chunk.offsets) == len(chunk.items)
                out.offsets.extend(chunk.offsets)
            for i, tags in chunk.tags.items():
                assert 0 <= i < len(chunk.items)
                out.tags[base + i] = tags
    finally:
        source.close()
    return out


def read_group_items(sources: list[Source]) -> list[Any]:
    return [item for source in sources for item in read_all(source).items]
