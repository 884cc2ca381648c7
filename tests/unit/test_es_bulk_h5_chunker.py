"""`Chunker.add` takes a batch's items in slices (a whole batch without copying it); the chunks it
fills are those of the plain rule, item by item: an item that does not fit in the open chunk's
bytes closes it first (an item larger than the limit goes alone), and a chunk closes once it holds
``max_docs`` items or ``max_bytes`` bytes."""

from __future__ import annotations

import random

import pytest

from shipper.sinks.bulk import Chunker


def _by_item(batches: list[tuple[list[bytes], int]], max_docs: int, max_bytes: int) -> list[list[tuple[list[bytes], list[int]]]]:
    """Per batch added, the chunks that became full, each as (items, seqs)."""
    out = []
    items: list[bytes] = []
    seqs: list[int] = []
    for batch, seq in batches:
        full = []
        for item in batch:
            if items and sum(map(len, items)) + len(item) > max_bytes:
                full.append((items, seqs))
                items, seqs = [], []
            items.append(item)
            seqs.append(seq)
            if len(items) >= max_docs or sum(map(len, items)) >= max_bytes:
                full.append((items, seqs))
                items, seqs = [], []
        out.append(full)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_chunks_of_the_rule_item_by_item(seed: int) -> None:
    rng = random.Random(seed)
    max_docs, max_bytes = rng.choice([1, 2, 3, 7, 50]), rng.choice([1, 10, 64, 300, 10_000])
    batches = [([bytes(rng.randrange(1, 40)) * rng.choice([1, 1, 1, 20]) for _ in range(rng.randrange(0, 60))], seq)
               for seq in range(rng.randrange(1, 12))]
    chunker = Chunker(max_docs, max_bytes)
    got = []
    for batch, seq in batches:
        full = chunker.add(batch, seq)
        assert all(chunk.nbytes == sum(map(len, chunk.items)) for chunk in full)
        got.append([(chunk.items, chunk.seqs) for chunk in full])
    assert got == _by_item(batches, max_docs, max_bytes)


def test_a_whole_batch_is_taken_as_it_is() -> None:
    chunker = Chunker(10, 1000)
    items = [b"a" * 10, b"b" * 20]
    assert chunker.add(items, 1) == []
    chunk = chunker.take()
    assert chunk is not None and chunk.items == items and chunk.seqs == [1, 1] and chunk.nbytes == 30
    assert items == [b"a" * 10, b"b" * 20]  # the caller's list is left as it was
