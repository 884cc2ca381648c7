"""Ids count twins within the seconds most recently seen (`shipper.ids`), and a block whose ids
were counted afresh is joined to the state before it only where that gives the ids of one pass
(`joined`)."""

from __future__ import annotations

import random
import time

import pytest

from shipper.ids import KEEP_SECONDS, IdAssigner, joined


def doc(second: int, msg: str) -> dict:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(1_504_104_900 + second))
    return {"@timestamp": stamp, "message": msg, "host": {"name": "gorp"}, "process": {"name": "sendmail", "pid": 1}}


def ids_of(docs: list[dict], assigner: IdAssigner | None = None) -> list[str]:
    (assigner or IdAssigner()).assign(docs)
    return [d["event"]["id"] for d in docs]


def test_a_second_that_comes_back_keeps_its_count() -> None:
    """Two writers, one a second behind: the second A is another event, not A again."""
    ids = ids_of([doc(1, "A"), doc(2, "B"), doc(1, "A")])
    assert len(set(ids)) == 3


def test_twins_in_one_second_and_in_one_call_or_many_get_the_same_ids() -> None:
    seconds = [1, 2, 1, 3, 1, 2, 2]
    whole = ids_of([doc(s, "A") for s in seconds])
    assigner = IdAssigner()
    one_by_one = [ids_of([doc(s, "A")], assigner)[0] for s in seconds]
    assert whole == one_by_one and len(set(whole)) == len(seconds)


def test_a_second_forgotten_starts_its_count_afresh() -> None:
    """The limit: once `KEEP_SECONDS` other seconds came since a second was last seen, its count
    starts afresh, and the next twin is taken for the first."""
    ticks = [doc(s, "tick") for s in range(100, 100 + KEEP_SECONDS)]
    ids = ids_of([doc(0, "A"), *ticks, doc(0, "A"), doc(0, "A")])
    assert ids[-2] == ids[0] and ids[-1] != ids[0]
    one_less = ids_of([doc(0, "A"), *[dict(t) for t in ticks[1:]], doc(0, "A")])
    assert one_less[-1] != one_less[0]


def test_a_second_seen_again_is_counted_on() -> None:
    """Seen again before it is forgotten, a second stays counted, however long ago it began:
    the boots of a machine whose clock jumps back and forth, a line stamped an hour ahead."""
    docs = [doc(0, "A")]
    for k in range(3 * KEEP_SECONDS):
        docs += [doc(1000 + k, "B"), doc(0, "A")] if k % 8 == 0 else [doc(1000 + k, "B")]
    docs += [doc(3600, "C"), doc(1000 + 3 * KEEP_SECONDS, "B"), doc(3600, "C")]
    ids = ids_of(docs)
    assert len(set(ids)) == len(ids)


def test_the_interleaved_boots_of_a_machine_without_a_clock() -> None:
    """Two boots that both start at second 0, their entries merged by time: every entry is one."""
    boots = [[doc(s, f"boot line {k}") for k, s in enumerate(range(0, 60, 2))] for _ in range(2)]
    merged = [d for pair in zip(*boots) for d in pair]
    assert len(set(ids_of(merged))) == len(merged)


def test_the_state_restored_gives_the_same_ids() -> None:
    docs = [doc(s % 20, "A") for s in range(0, 60, 7)] + [doc(3, "A"), doc(50, "B"), doc(3, "A")]
    expected = ids_of([dict(d) for d in docs])
    first = IdAssigner()
    got = ids_of([dict(d) for d in docs[:5]], first)
    second = IdAssigner()
    second.restore(first.state())
    got += ids_of([dict(d) for d in docs[5:]], second)
    assert got == expected


def _sequence(rng: random.Random, n: int, back: int) -> list[tuple[int, str]]:
    """Lines of a log whose seconds advance, off by up to ``back`` seconds now and then."""
    out, now = [], 0
    for _ in range(n):
        now += rng.choice([0, 0, 1, 1, 2])
        second = now + rng.randint(-back, back) if rng.random() < 0.2 else now
        out.append((second, rng.choice("ABC")))
    return out


@pytest.mark.parametrize("back", [0, 3, 30, 100_000])
def test_a_block_counted_afresh_joins_only_where_its_ids_are_one_passs(back: int) -> None:
    """What the parallel replay does (`shipper.parallel.replay._check`): each block's ids are
    counted by a fresh assigner; where `joined` accepts it, the ids and the state after it are
    those of one pass, whatever the cut; where it refuses, the block is done again from the state."""
    rng = random.Random(back)
    accepted = refused = 0
    for _ in range(300):
        lines = _sequence(rng, rng.randint(2, 60), back)
        cut = rng.randint(1, len(lines) - 1)
        one = IdAssigner()
        before_ids = ids_of([doc(s, m) for s, m in lines[:cut]], one)
        before = one.state()
        expected = ids_of([doc(s, m) for s, m in lines[cut:]], one)
        fresh = IdAssigner(track=True)
        got = ids_of([doc(s, m) for s, m in lines[cut:]], fresh)
        state = joined(before, fresh.block(), fresh.state())
        if state is None:
            refused += 1
            continue
        accepted += 1
        assert got == expected, (lines, cut)
        assert state == one.state(), (lines, cut)
        if back <= 3:  # no second is forgotten: no twin taken for another
            assert len(set(before_ids + got)) == len(lines)
    assert accepted > 200 and refused > 0
