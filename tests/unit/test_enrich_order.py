"""`Order`: failures and causes of several inputs are linked in @timestamp order (the daemon's
settings: `shipper.daemon.session`).

The documents are the field report's own lines (tests/data/seed/messages-sendmail.log), parsed and
recognised as the daemon does, with the sendmail lines in one input (maillog) and systemd's in
another (messages).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from shipper.config.model import RecogniseConfig
from shipper.daemon.session import CAUSE_WAIT as MAX_WAIT
from shipper.daemon.session import CAUSES_WAITING as MAX_WAITING
from shipper.enrich.chain import default_enrichers
from shipper.enrich.incidents import Incidents, epoch
from shipper.enrich.order import Order, Waiting, roles_of
from shipper.event import Doc
from shipper.ids import IdAssigner
from tests.helpers.samples import parse_lines

SEED = Path(__file__).resolve().parents[1] / "data" / "seed" / "messages-sendmail.log"


def _inputs() -> tuple[list[Doc], list[Doc], Incidents]:
    """The report's lines recognised: sendmail's (causes) and systemd's (failures), and a linker."""
    recognise, incidents = default_enrichers(RecogniseConfig())
    lines = SEED.read_text().splitlines()
    docs = parse_lines(lines)
    IdAssigner().assign(docs)
    docs = recognise.enrich(docs)
    causes = [d for d in docs if d["process"]["name"] == "sendmail"]
    failures = [d for d in docs if d["process"]["name"] == "systemd"]
    assert isinstance(incidents, Incidents) and roles_of(causes) and len(roles_of(failures)) == 3
    return causes, failures, incidents


class _Recorder:
    """A linker that notes the order of the documents it is given."""

    name = "recorder"

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def enrich(self, docs: list[Doc]) -> list[Doc]:
        self.seen.extend(d["message"] for d in docs)
        return docs

    def flush(self) -> list[Doc]:
        return []


def _doc(ts: str, message: str) -> Doc:
    return {"@timestamp": f"2017-08-30T{ts}.000000Z", "message": message, "rootcause": {"role": "cause"}}


class _Finished:
    def __init__(self) -> None:
        self.names: list[str] = []

    def waiting(self, name: str, docs: list[Doc], since: float = 0.0) -> Waiting:
        return Waiting(name, roles_of(docs), lambda: self.names.append(name), since)


def _release(order: Order, watermark: float, now: float = 0.0, held: dict[str, float] | None = None) -> list[str]:
    done = order.release(watermark, now, held)
    for waiting in done:
        waiting.finish()
    return [w.source_id for w in done]


def _cause_of(doc: Doc) -> Any:
    return doc["rootcause"].get("cause", {}).get("signature")


def test_a_failure_read_before_its_cause_waits_for_it_and_learns_it() -> None:
    """At a first start, messages (the failure, 14:56:07) is read before maillog (the SYSERRs,
    14:55:47-14:56:02): the failure's batch waits while an input may still give earlier events,
    then both are linked in time order, and the failure carries its cause."""
    causes, failures, incidents = _inputs()
    order = Order(incidents, MAX_WAIT, MAX_WAITING)
    order.add(Waiting("messages", roles_of(failures), lambda: None, 0.0))
    failed_at = epoch(failures[0]["@timestamp"])
    assert order.release(epoch(causes[0]["@timestamp"]), 1.0) == []  # maillog has not been read
    assert order.release(failed_at, 1.0) == []  # not past it: an event of that same second may come
    order.add(Waiting("maillog", roles_of(causes), lambda: None, 1.0))
    assert sorted(w.source_id for w in order.release(failed_at + 1, 2.0)) == ["maillog", "messages"]
    assert [_cause_of(f) for f in failures] == ["sendmail.bind_address_in_use"] * 3
    assert "DaemonPortOptions" in failures[0]["rootcause"]["hint"]
    assert {d["rootcause"]["incident"] for d in roles_of(causes + failures)} == {failures[0]["rootcause"]["incident"]}


def test_linked_as_they_come_the_failure_would_miss_its_cause() -> None:
    """What `Order` prevents: the same two batches linked one after the other, failure first."""
    causes, failures, incidents = _inputs()
    incidents.enrich(failures)
    incidents.enrich(causes)
    assert [_cause_of(f) for f in failures] == [None] * 3
    assert "no recognised error" in failures[0]["rootcause"]["hint"]


def test_documents_are_linked_in_time_order_up_to_the_watermark_each_inputs_in_its_own_order() -> None:
    """The documents given to the linker are the inputs' merged by @timestamp (a line written
    late stays where its input has it), up to the watermark; a batch leaves once its own are
    linked, the rest of another batch still waiting."""
    seen: list[str] = []
    order = Order(_Recorder(seen), MAX_WAIT, MAX_WAITING)
    finished = _Finished()
    order.add(finished.waiting("a", [_doc("10:00:05", "a1"), _doc("10:00:01", "a2 (written late)"), _doc("10:00:09", "a3")]))
    order.add(finished.waiting("b", [_doc("10:00:02", "b1"), _doc("10:00:06", "b2")]))
    assert _release(order, epoch("2017-08-30T10:00:02Z")) == []
    assert _release(order, epoch("2017-08-30T10:00:08Z")) == ["b"]
    assert seen == ["b1", "a1", "a2 (written late)", "b2"] and len(order) == 1
    assert _release(order, math.inf) == ["a"]
    assert finished.names == ["b", "a"] and seen[-1] == "a3" and len(order) == 0


def test_the_inputs_order_decides_between_documents_of_the_same_second() -> None:
    seen: list[str] = []
    order = Order(_Recorder(seen), MAX_WAIT, MAX_WAITING, inputs=["first", "second"])
    finished = _Finished()
    order.add(finished.waiting("second", [_doc("10:00:00", "from the second")]))
    order.add(finished.waiting("first", [_doc("10:00:00", "from the first")]))
    assert _release(order, math.inf) == ["second", "first"]
    assert seen == ["from the first", "from the second"]


def test_a_batch_waits_at_most_max_wait_and_only_so_many_wait() -> None:
    """An input whose clock is off (its events an hour behind) must not hold the others for good."""
    causes, failures, incidents = _inputs()
    behind = epoch(causes[0]["@timestamp"]) - 3600
    order = Order(incidents, MAX_WAIT, MAX_WAITING)
    finished = _Finished()
    order.add(finished.waiting("messages", failures, since=100.0))
    assert _release(order, behind, now=100.0 + MAX_WAIT - 0.5) == []
    assert _release(order, behind, now=100.0 + MAX_WAIT) == ["messages"]
    seen: list[str] = []
    order = Order(_Recorder(seen), MAX_WAIT, MAX_WAITING)
    for n in range(MAX_WAITING + 3):
        order.add(finished.waiting(f"m{n}", [_doc(f"15:{n // 60:02d}:{n % 60:02d}", f"m{n}")], since=200.0))
    assert _release(order, behind, now=200.0) == ["m0", "m1", "m2"]
    assert seen == ["m0", "m1", "m2"] and len(order) == MAX_WAITING


def test_the_record_another_input_holds_back_is_waited_for_within_the_window() -> None:
    """A parser holds a file's last line until the next comes or the file is idle (it may
    continue): maillog's last SYSERR (10:00:02) came a second after messages' verdicts (10:00:07),
    and the failure was linked without it. Another input's documents from the held record's time
    on wait for it; earlier ones, and the holding input's own, do not; nor do those more than the
    incident window after it (an input whose clock is hours behind holds nobody back)."""
    seen: list[str] = []
    order = Order(_Recorder(seen), MAX_WAIT, MAX_WAITING, window=600.0)
    finished = _Finished()
    order.add(finished.waiting("maillog", [_doc("10:00:01", "m1"), _doc("10:00:02", "m2 (after the held one)")]))
    order.add(finished.waiting("messages", [_doc("09:59:59", "s0"), _doc("10:00:07", "s1")]))
    held = {"maillog": epoch("2017-08-30T10:00:02Z")}
    assert _release(order, math.inf, held=held) == ["maillog"] and seen == ["s0", "m1", "m2 (after the held one)"]
    order.add(finished.waiting("maillog", [_doc("10:00:02", "m3 (the held one, flushed)")]))
    assert _release(order, math.inf) == ["messages", "maillog"]
    assert seen[3:] == ["m3 (the held one, flushed)", "s1"]
    order.add(finished.waiting("maillog", [_doc("12:00:00", "two hours on")]))
    assert _release(order, math.inf, held={"messages": epoch("2017-08-30T10:00:08Z")}) == ["maillog"]
