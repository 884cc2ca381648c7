"""How the output is doing, as the loop sees it once a turn (`shipper.daemon.loop`).

* An output that could not be opened (`Courier.failing`: "cannot reach Elasticsearch ...; retrying
  in the background") and is open now is said once, in a line of the log that also supersedes that
  message as the last one `shipper status` shows. (An output open but failing says itself when it
  answers again: `shipper.sinks.es_outage`.)
* An output that is open but has not returned from a write for `STALLED_AFTER` seconds (an NDJSON
  file on a full or hung disk, a pipe nobody reads) is "connected" all the same: `stalled_for` says
  for how long it has taken no batch, for the status. The courier tells only whether it still
  delivers (`Courier.delivering`), so the stall is timed from when the loop first saw it, plus
  `STALLED_AFTER`.
"""

from __future__ import annotations

from shipper.daemon.courier import STALLED_AFTER, Courier


class OutputWatch:
    def __init__(self) -> None:
        self._courier: Courier | None = None  # the session's courier that is watched
        self._down = False  # its output could not be opened, and has not been since
        self._stalled_at: float | None = None  # when the loop first saw it stalled (monotonic)

    def back(self, courier: Courier, now: float) -> bool:
        """Whether ``courier``'s output, which could not be opened, is open now (once)."""
        if courier is not self._courier:  # a new session: what the old output did is not this one's
            self._courier, self._down, self._stalled_at = courier, False, None
        connected = courier.connected
        self._stalled_at = (self._stalled_at or now) if connected and not courier.delivering(now) else None
        if courier.failing:
            self._down = True
        elif self._down and connected:
            self._down = False
            return True
        return False

    def stalled_for(self, now: float) -> float | None:
        """Seconds the connected output has taken no batch, when that is `STALLED_AFTER` or more."""
        return None if self._stalled_at is None else now - self._stalled_at + STALLED_AFTER
