"""A worker sends its ids' end state packed (`shipper.ids.Tally`), and the main process checks and
chains the packed states (`shipper.ids.joined`) or does a block again from one (`IdAssigner.restore`):
the ids are those of one process wherever the cuts fall. The inputs are made for what packing could
get wrong: a second counted on across a cut (its counts merged), twins of it after the cut and
later (a block done again from the merged state), over 255 twins in a second (counts that do not
fit a byte), and a writer whose seconds lag behind."""

from __future__ import annotations

import io
import pickle
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper import ids as ids_module
from shipper.config.model import RecogniseConfig
from shipper.enrich.chain import default_enrichers
from shipper.ids import KEEP_SECONDS, IdAssigner, joined
from shipper.parallel import replay as parallel_replay
from shipper.parallel.replay import ParallelReplay
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.pipeline import Pipeline, Summary
from shipper.sinks.ndjson import NdjsonSink
from shipper.sources.files import TextSource
from shipper.sources.open import open_inputs
from tests.helpers.journal import export_entry, make_journal

CTX = ParseContext(timezone="UTC", year=2017)


def _groups(path: Path, block_size: int) -> list:
    groups = open_inputs([str(path)], fmt="auto", max_line_bytes=4096)
    for source in (s for g in groups for s in g.sources):
        if isinstance(source, TextSource):
            source.block_size = block_size
    return groups


def _replay(path: Path, block_size: int, workers: int) -> tuple[bytes, Summary]:
    out = io.BytesIO()
    groups = _groups(path, block_size)
    if workers:
        summary = ParallelReplay(groups, CTX, default_enrichers(RecogniseConfig())[-1], [NdjsonSink(out)], workers).run()
    else:
        summary = Pipeline(groups, CTX, make_parser, default_enrichers(RecogniseConfig()), [NdjsonSink(out)]).run()
    return out.getvalue(), summary


@pytest.fixture
def merges(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """The seconds `joined` merged (counted on across a cut), as (before, after the cut)."""
    seen: list[tuple[Any, Any]] = []
    then = ids_module._then

    def noted(tally: Any, more: Any) -> Any:
        seen.append((tally, more))
        return then(tally, more)

    monkeypatch.setattr(ids_module, "_then", noted)
    return seen


def _seconds(rng: random.Random) -> list[tuple[int, str]]:
    """(second, message): 30 seconds of about 40 lines, some twice in a row, now and then a twin
    apart ("A"); a burst of 300 twins in second 12; a second writer 3 seconds behind now and then."""
    out: list[tuple[int, str]] = []
    for second in range(30):
        for k in range(rng.randint(20, 60)):
            late = second > 3 and rng.random() < 0.1
            line = (second - 3, f"late {k}") if late else (second, "A" if rng.random() < 0.02 else f"line {k}")
            out += [line, line] if rng.random() < 0.1 else [line]
        if second == 12:
            out += [(12, "burst")] * 300
    return out


def _ids(ndjson: bytes) -> list[str]:
    return [orjson.loads(line)["event"]["id"] for line in ndjson.splitlines()]


@pytest.mark.parametrize("block_size", [700, 3000])
def test_syslog_lines_across_cuts_get_the_ids_of_one_process(tmp_path: Path, block_size: int,
                                                             merges: list[tuple[Any, Any]]) -> None:
    lines = [f"Aug 30 14:55:{s:02d} gorp app[7]: {m}" for s, m in _seconds(random.Random(block_size))]
    path = tmp_path / "messages"
    path.write_text("\n".join(lines) + "\n")
    expected, _ = _replay(path, block_size, 0)
    got, par = _replay(path, block_size, 2)
    assert got == expected
    assert len(set(_ids(got))) == len(lines)  # every line its own event (no second forgotten)
    assert par.counters["reruns"] >= 1  # twins across a cut: done again from a packed state
    assert merges and any(max(more[1]) > 1 for _, more in merges)  # counts carried on over a cut


def test_a_journal_across_segments_gets_the_ids_of_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               merges: list[tuple[Any, Any]]) -> None:
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", 120)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)
    seconds = _seconds(random.Random(5))
    export = b"".join(
        export_entry({"MESSAGE": m, "_PID": "7", "SYSLOG_IDENTIFIER": "app",
                      "__REALTIME_TIMESTAMP": str(1_504_104_900_000_000 + s * 1_000_000 + i)}, seq=i)
        for i, (s, m) in enumerate(seconds)
    )
    make_journal(tmp_path / "journal", export)
    expected, _ = _replay(tmp_path / "journal", 0, 0)
    got, par = _replay(tmp_path / "journal", 0, 2)
    assert got == expected
    assert len(set(_ids(got))) == len(seconds)
    assert par.counters["reruns"] >= 1
    assert merges


def _doc(second: int, message: str) -> dict[str, Any]:
    return {"@timestamp": f"2017-08-30T14:{second // 60:02d}:{second % 60:02d}.000000Z", "message": message,
            "host": {"name": "gorp"}, "process": {"name": "app", "pid": 7}}


def _assigned(assigner: IdAssigner, lines: list[tuple[int, str]]) -> list[str]:
    docs = [_doc(s, m) for s, m in lines]
    assigner.assign(docs)
    return [d["event"]["id"] for d in docs]


def test_a_state_sent_and_restored_goes_on_as_the_assigner_would() -> None:
    """Through a pickle, as from a worker: the counts (300 twins too: over a byte) and the order of
    the seconds (the least recently seen is forgotten first) are those of the assigner."""
    lines = [(s, "A") for s in range(KEEP_SECONDS)] + [(3, "burst")] * 300 + [(0, "A")]
    one = IdAssigner()
    _assigned(one, lines)
    again = IdAssigner()
    again.restore(pickle.loads(pickle.dumps(one.state())))
    more = [(3, "burst"), (0, "A"), (KEEP_SECONDS, "B"), (1, "A"), (2, "A")]
    assert _assigned(again, more) == _assigned(one, more)
    assert again.state() == one.state()


def test_a_second_counted_on_across_a_cut_is_merged_with_its_counts() -> None:
    """A second with twins on both sides of a cut, different lines on each: the block joins, and
    the merged counts give the next twins of both sides their ids; so do over 255 twins."""
    before_lines = [(0, "x")] + [(1, "A")] * 3 + [(1, "burst")] * 260
    after_lines = [(1, "B")] * 2 + [(1, "more")] * 300 + [(2, "y")]
    one = IdAssigner()
    _assigned(one, before_lines)
    before = one.state()
    expected = _assigned(one, after_lines)
    fresh = IdAssigner(track=True)
    got = _assigned(fresh, after_lines)
    state = joined(before, fresh.block(), fresh.state())
    assert got == expected and state == one.state()
    assert state is not None
    chained = IdAssigner()
    chained.restore(state)
    later = [(1, "A"), (1, "B"), (1, "burst"), (1, "more")]
    assert _assigned(chained, later) == _assigned(one, later)


def test_twins_across_a_cut_are_refused_and_a_forgotten_second_compared_as_it_stood() -> None:
    """The block's first second repeats a line of the state before: refused (done again). A
    second forgotten inside the block is compared by the ids it had when forgotten."""
    one = IdAssigner()
    _assigned(one, [(0, "A"), (1, "B")])
    before = one.state()
    fresh = IdAssigner(track=True)
    _assigned(fresh, [(1, "B")])
    assert joined(before, fresh.block(), fresh.state()) is None
    fresh = IdAssigner(track=True)
    _assigned(fresh, [(1, "C"), *[(s, "t") for s in range(100, 100 + KEEP_SECONDS)], (1, "B")])
    assert joined(before, fresh.block(), fresh.state()) is not None  # (1, B) came after second 1 was forgotten
    fresh = IdAssigner(track=True)
    _assigned(fresh, [(1, "B"), *[(s, "t") for s in range(100, 100 + KEEP_SECONDS)], (1, "C")])
    assert joined(before, fresh.block(), fresh.state()) is None


def test_a_busy_second_is_sent_in_about_17_bytes_an_entry() -> None:
    """1,000 entries in a second: the end state pickles to about 17 KB (it was 37 KB of
    1,000 strings and counts), and the block adds nothing for a second still counted."""
    assigner = IdAssigner(track=True)
    _assigned(assigner, [(1, f"entry {k}") for k in range(1000)])
    assert len(pickle.dumps((assigner.block(), assigner.state()), pickle.HIGHEST_PROTOCOL)) < 17_500
