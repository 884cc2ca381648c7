"""The ``shipper.gap`` event: data an input may have lost, said where it will be seen (the output).

Its id derives from the input and the time span, so a gap reported again after a crash (before
the first report was acknowledged) is stored once.
"""

from __future__ import annotations

from shipper.event import Doc
from shipper.ids import derived_id
from shipper.sources.live import Gap, iso

SIGNATURE = "shipper.gap"
HINT = (
    "shipper could not read everything this input held: see the message for the time span. Look at the "
    "host's own logs of that span if they matter; keep the journal and rotated files longer than shipper "
    "may be stopped (journald.conf SystemMaxUse=/MaxRetentionSec=, logrotate rotate N)"
)


def gap_doc(gap: Gap, input_key: str, input_label: str, host: str, now: float) -> Doc:
    since = iso(gap.since) if gap.since is not None else "unknown"
    until = iso(gap.until) if gap.until is not None else iso(now)
    return {
        "@timestamp": until if gap.until is not None else iso(now),
        "message": f"shipper.gap: {input_label}: {gap.message}",
        "event": {"id": derived_id(input_key, f"gap\x1f{since}\x1f{until}"), "dataset": "shipper", "kind": "event"},
        "host": {"name": host},
        "log": {"level": "warning"},
        "rootcause": {"signature": SIGNATURE, "hint": HINT},
        "shipper": {"gap": {"input": input_label, "since": since, "until": until}},
    }
