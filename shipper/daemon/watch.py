"""How the output is doing, as the loop sees it once a turn (`shipper.daemon.loop`).

* An output that could not be opened (`Courier.failing`: "cannot reach Elasticsearch ...; retrying
  in the background") and is open now is said once, in a line of the log that also supersedes that
  message as the last one `shipper status` shows. (An output open but failing says itself when it
  answers again: `shipper.sinks.es_outage`.)
* An output that is open but has not returned from a write for `STALLED_AFTER` seconds (an NDJSON
  file on a full or hung disk, a pipe nobody reads) is "connected" all the same: `stalled_for` says
  for how long it has taken no batch (since the sink call in progress began: `Courier.busy_since`),
  for the status.
"""

from __future__ import annotations

from shipper.daemon.courier import STALLED_AFTER, Courier


class OutputWatch:
    def __init__(self) -> None:
        self._courier: Courier | None = None  # the session's courier that is watched
        self._down = False  # its output could not be opened, and has not been since

    def back(self, courier: Courier) -> bool:
        """Whether ``courier``'s output, which could not be opened, is open now (once)."""
        if courier is not self._courier:  # a new session: what the old output did is not this one's
            self._courier, self._down = courier, False
        if courier.failing:
            self._down = True
        elif self._down and courier.connected:
            self._down = False
            return True
        return False

    def stalled_for(self, now: float) -> float | None:
        """Seconds the connected output has taken no batch, when that is `STALLED_AFTER` or more."""
        courier = self._courier
        since = courier.busy_since if courier is not None and courier.connected else None
        if since is None or now - since < STALLED_AFTER:
            return None
        return now - since
