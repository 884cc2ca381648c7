"""The k-way merge and the time window, on their own (pure functions of their inputs)."""

from typing import Iterator

from shipper.pipeline import Window, merged


def stream(*stamps: str, size: int = 2) -> Iterator[list[dict]]:
    docs = [{"@timestamp": s, "message": s} for s in stamps]
    for i in range(0, len(docs), size):
        yield docs[i : i + size]


def test_merge_orders_by_time_across_streams_and_rebatches() -> None:
    maillog = stream("2017-08-30T14:55:47.000000Z", "2017-08-30T14:55:52.000000Z", "2017-08-30T14:56:02.000000Z")
    messages = stream("2017-08-30T14:56:07.000000Z", "2017-08-30T14:56:07.000000Z")
    batches = list(merged([messages, maillog], size=4))
    stamps = [d["@timestamp"] for b in batches for d in b]
    assert stamps == sorted(stamps)
    assert [len(b) for b in batches] == [5]


def test_merge_is_stable_for_equal_times() -> None:
    a = iter([[{"@timestamp": "t", "message": "a1"}, {"@timestamp": "t", "message": "a2"}]])
    b = iter([[{"@timestamp": "t", "message": "b1"}]])
    assert [d["message"] for batch in merged([a, b]) for d in batch] == ["a1", "a2", "b1"]


def test_single_stream_passes_through_unchanged() -> None:
    batches = [[{"@timestamp": "2", "message": ""}], [{"@timestamp": "1", "message": ""}]]
    assert list(merged([iter(batches)])) == batches


def test_window_keeps_since_inclusive_until_exclusive() -> None:
    docs = [{"@timestamp": f"2017-08-30T14:5{i}:00.000000Z"} for i in range(5)]
    w = Window(since="2017-08-30T14:51:00.000000Z", until="2017-08-30T14:53:00.000000Z")
    assert [d["@timestamp"][14:16] for d in w.apply(docs)] == ["51", "52"]
    assert Window().apply(docs) is docs
