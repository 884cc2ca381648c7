"""`Merge`: NDJSON lines of several groups in the order one process's k-way merge gives them."""

from __future__ import annotations

import heapq
import random

import orjson
import pytest

from shipper.parallel.merge import Merge, Slot, stamp_of, stamps


def _line(ts: str, n: int) -> bytes:
    return orjson.dumps({"@timestamp": ts, "message": f"line {n}"}) + b"\n"


def _streams(rng: random.Random, groups: int) -> list[list[bytes]]:
    """Each group's lines, mostly in time order, with ties across groups and a few lines out of
    order (a clock stepped back, a late write)."""
    out = []
    for g in range(groups):
        t, lines = 0, []
        for n in range(rng.randint(0, 120)):
            t += rng.choice([0, 0, 1, 2, 5]) if rng.random() > 0.05 else -3
            lines.append(_line(f"2017-08-30T14:{max(t, 0) // 60 % 60:02d}:{max(t, 0) % 60:02d}.000000Z", g * 1000 + n))
        out.append(lines)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_lines_come_out_as_a_k_way_merge_of_the_groups_gives_them(seed: int) -> None:
    """Whatever the order in which parts are filled and groups end (as results come back from
    workers and parts are linked), the output is `heapq.merge` by @timestamp, ties to the lower
    group, which is what one process writes."""
    rng = random.Random(seed)
    streams = _streams(rng, rng.randint(2, 4))
    written: list[bytes] = []
    merge = Merge(len(streams), written.extend)
    events: list[list[tuple[str, int, list[bytes]]]] = []
    for g, lines in enumerate(streams):
        cuts = sorted(rng.sample(range(1, len(lines)), min(len(lines) - 1, rng.randint(0, 6)))) if len(lines) > 1 else []
        parts = [lines[a:b] for a, b in zip([0, *cuts], [*cuts, len(lines)])]
        events.append([("part", g, part) for part in parts] + [("close", g, [])])
    todo = []  # the groups' events interleaved at random, each group's in its order
    while any(events):
        todo.append(rng.choice([e for e in events if e]).pop(0))
    # Slots are made in each group's order, but filled late and out of order (linking).
    slots: list[tuple[Slot, list[bytes]]] = []
    for kind, g, part in todo:
        if kind == "part":
            slots.append((merge.slot(g, stamp_of(part[0]) if part else b""), part))
        elif rng.random() < 0.5:  # (else at the end)
            merge.close(g)
        if slots and rng.random() < 0.6:
            slot, lines = slots.pop(rng.randrange(len(slots)))
            merge.fill(slot, lines)
    for slot, lines in slots:
        merge.fill(slot, lines)
    for g in range(len(streams)):
        merge.close(g)
    assert written == list(heapq.merge(*streams, key=stamp_of))


def test_nothing_leaves_while_a_group_that_may_give_an_earlier_line_has_none_waiting() -> None:
    written: list[bytes] = []
    merge = Merge(2, written.extend)
    lines = [_line("2017-08-30T14:00:02.000000Z", 1), _line("2017-08-30T14:00:09.000000Z", 2)]
    merge.fill(merge.slot(0, stamp_of(lines[0])), lines)
    assert written == []  # group 1 may still give a line of 14:00:00
    later = [_line("2017-08-30T14:00:05.000000Z", 3)]
    merge.fill(merge.slot(1, stamp_of(later[0])), later)
    assert [stamp_of(line)[11:19] for line in written] == [b"14:00:02", b"14:00:05"]  # 14:00:09 waits for group 1's next
    merge.close(1)
    assert [stamp_of(line)[11:19] for line in written] == [b"14:00:02", b"14:00:05", b"14:00:09"]


def test_the_stamp_is_read_where_it_is() -> None:
    lines = [_line("2017-08-30T14:00:02.000000Z", 1), b'{"message":"x","@timestamp":"2017-08-30T14:00:02Z"}\n',
             b'{"@timestamp":"2017-08-30T14:00:02.1234Z","message":"a quote at 42"}\n', _line("2017-08-30T14:00:02.123Z", 2)]
    assert stamps(lines) == [stamp_of(line) for line in lines] == [
        b"2017-08-30T14:00:02.000000Z", b"2017-08-30T14:00:02Z", b"2017-08-30T14:00:02.1234Z", b"2017-08-30T14:00:02.123Z"]
