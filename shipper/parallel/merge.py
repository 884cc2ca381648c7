"""NDJSON of several groups in one time order, as one process writes it.

One process merges its groups' documents by ``@timestamp`` (`shipper.pipeline.merged`: a k-way
merge, ties to the group given first). A parallel replay takes each group's results in that
group's order, so for NDJSON, one stream in time order, the main process merges the groups'
lines the same way before writing them: a line leaves once every group that may still give a line
has one waiting (a group's next line could be earlier), the earliest first. Its key is the
line's ``@timestamp``, the first member of every document. A part still being linked
(`shipper.enrich.order`) holds back the lines that come after its first one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Callable

import orjson


HEAD = b'{"@timestamp":"'  # how every document line starts: its stamp is its first member


def stamp_of(line: bytes) -> bytes:
    """The ``@timestamp`` of an NDJSON document line."""
    if line.startswith(HEAD):
        return line[15 : line.index(b'"', 15)]
    return str(orjson.loads(line).get("@timestamp", "")).encode()


_HEAD, _STAMP, _END = itemgetter(slice(0, 15)), itemgetter(slice(15, 42)), itemgetter(slice(41, 43))


def stamps(lines: list[bytes]) -> list[bytes]:
    """`stamp_of` each line. Where every line has the common stamp (27 characters:
    ``2017-08-30T14:56:07.000000Z``), the stamps are cut out and checked in C loops (``map``)."""
    n = len(lines)
    if list(map(_HEAD, lines)).count(HEAD) == n and list(map(_END, lines)).count(b'Z"') == n:
        return list(map(_STAMP, lines))
    return list(map(stamp_of, lines))


@dataclass(eq=False)
class Slot:
    """A part's place in its group's order; its lines come once it is linked."""

    first: bytes  # the key of its first line, known before the lines are
    lines: list[bytes] | None = None
    keys: list[bytes] = field(default_factory=list)
    pos: int = 0  # the lines before it are written


class Merge:
    def __init__(self, groups: int, write: Callable[[list[bytes]], None]) -> None:
        self._queues: list[deque[Slot]] = [deque() for _ in range(groups)]
        self._open = set(range(groups))  # groups that may still give lines
        self._write = write

    def slot(self, group: int, first: bytes) -> Slot:
        """The next place in ``group``'s order, for lines the first of which has the key ``first``."""
        slot = Slot(first)
        self._queues[group].append(slot)
        return slot

    def fill(self, slot: Slot, lines: list[bytes]) -> None:
        slot.lines, slot.keys = lines, stamps(lines)
        self._emit()

    def close(self, group: int) -> None:
        """``group`` gives no more slots."""
        self._open.discard(group)
        self._emit()

    def _emit(self) -> None:
        out: list[bytes] = []
        while (heads := self._heads()) is not None:
            (_, group, slot), limit = heads
            if slot.lines is None:  # the next line is this part's, still being linked
                break
            stop = _run(slot, limit, group)
            out += slot.lines[slot.pos : stop]
            slot.pos = stop
        if out:
            self._write(out)

    def _heads(self) -> tuple[tuple[bytes, int, Slot], tuple[bytes, int] | None] | None:
        """The earliest group's next line (key, group, slot) and the next line of the group after it
        (key, group; None if no other group has one); None while a group that may still give a
        line has none waiting."""
        best: tuple[bytes, int, Slot] | None = None
        second: tuple[bytes, int] | None = None
        for group, queue in enumerate(self._queues):
            while queue and queue[0].lines is not None and queue[0].pos >= len(queue[0].keys):
                queue.popleft()
            if not queue:
                if group in self._open:
                    return None
                continue
            slot = queue[0]
            key = slot.keys[slot.pos] if slot.lines is not None else slot.first
            if best is None or key < best[0]:  # (groups come in order: a tie stays with the first)
                second = best[:2] if best is not None else second
                best = (key, group, slot)
            elif second is None or key < second[0]:
                second = (key, group)
        return None if best is None else (best, second)


def _run(slot: Slot, limit: tuple[bytes, int] | None, group: int) -> int:
    """Where ``slot``'s run of lines ends: at its first line that another group's head (``limit``:
    key, group) goes before, as a k-way merge takes them (ties to the lower group)."""
    keys, i = slot.keys, slot.pos + 1
    if limit is None:
        return len(keys)
    key, other = limit
    if group < other:
        while i < len(keys) and keys[i] <= key:
            i += 1
    else:
        while i < len(keys) and keys[i] < key:
            i += 1
    return i
