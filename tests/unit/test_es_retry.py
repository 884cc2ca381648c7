"""Retry decisions and backoff of the Elasticsearch sink."""

from __future__ import annotations

import random

import pytest

from shipper.sinks.retry import Backoff, Verdict, item_verdict


@pytest.mark.parametrize(("status", "verdict"), [
    (201, Verdict.DELIVERED), (200, Verdict.DELIVERED), (409, Verdict.DUPLICATE),
    (429, Verdict.RETRY), (500, Verdict.RETRY), (503, Verdict.RETRY),
    (400, Verdict.DEAD), (413, Verdict.DEAD), (422, Verdict.DEAD),
    (401, Verdict.STOP), (403, Verdict.STOP), (404, Verdict.STOP),
])
def test_item_verdicts(status: int, verdict: Verdict) -> None:
    assert item_verdict(status) is verdict


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    b = Backoff(initial=0.5, cap=30.0, rng=random.Random(7))
    for attempt in range(40):
        ceiling = min(30.0, 0.5 * 2**attempt)
        delays = [b.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered: shippers do not retry in lockstep
    assert max(b.delay(100) for _ in range(100)) <= 30.0
