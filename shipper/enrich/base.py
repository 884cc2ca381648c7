"""The enricher interface. Enrichers run in order on each batch; they may add documents (one
per failed bootstrap check) and may keep state across batches (open incidents)."""

from __future__ import annotations

from typing import Protocol

from shipper.event import Doc


class Enricher(Protocol):
    name: str

    def enrich(self, docs: list[Doc]) -> list[Doc]:
        """The documents to pass on, in order (the same list, modified, or a new one)."""
        ...

    def flush(self) -> list[Doc]:
        """Documents still held at the end of the stream (none for most enrichers)."""
        ...
