"""The courier tries to open an unreachable output again after the output's own `retry_initial`,
doubling up to its `retry_max` (was: 0.5 s doubling to 30 s whatever the configuration said, so an
output back after a long outage at a start could wait 30 s to be noticed)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from shipper.daemon.courier import Courier
from shipper.daemon.ledger import Ledger
from shipper.daemon.outbox import Outbox
from shipper.errors import UnavailableError
from shipper.state.spool import Spool
from tests.unit.test_daemon_outbox import RecordingSink


class _Away(RecordingSink):
    """An output that cannot be opened until ``back`` is set; each attempt is timed."""

    def __init__(self, attempts: list[float]) -> None:
        super().__init__()
        self.attempts, self.back = attempts, False

    def open(self, ack: Callable[[int], None]) -> None:
        self.attempts.append(time.monotonic())
        if not self.back:
            raise UnavailableError("Elasticsearch at http://127.0.0.1:1 is unreachable")
        super().open(ack)


def _attempts(tmp_path: Path, retry: tuple[float, float], wait: float) -> list[float]:
    attempts: list[float] = []
    outbox = Outbox(Spool(tmp_path / "spool", max_bytes=1 << 20), max_events=100)
    courier = Courier(lambda: _Away(attempts), outbox, Ledger(), linger=0.05, log=lambda _: None, retry=retry)
    courier.start()
    time.sleep(wait)
    assert courier.finish(10) and courier.error is None
    return attempts


def test_an_unreachable_output_is_tried_again_as_often_as_its_retry_settings_say(tmp_path: Path) -> None:
    attempts = _attempts(tmp_path, (0.05, 0.1), 1.0)
    assert len(attempts) >= 4, attempts  # (0, 0.05, 0.15, 0.25, ... : about 10 in a second)
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert max(gaps) < 0.5, gaps  # (never the 0.5 s and more of the default)


def test_by_default_the_waits_double_from_half_a_second(tmp_path: Path) -> None:
    attempts = _attempts(tmp_path, (0.5, 30.0), 1.2)
    assert 1 <= len(attempts) <= 2, attempts  # (at 0 and 0.5 s: the next at 1.5 s)
    assert all(b - a >= 0.45 for a, b in zip(attempts, attempts[1:])), attempts
