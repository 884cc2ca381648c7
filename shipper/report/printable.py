"""Log text made safe to print on a terminal (`printable`): ``shipper causes`` prints every line through it."""

from __future__ import annotations


# C0 controls, DEL and C1 controls as escapes: log text (a message, a host, a process name) could
# otherwise clear the terminal, set its title or move the cursor, and a tab or newline break a line.
# Bidirectional controls too (Unicode's Bidi_Control): U+202E would show "evil" as "live", and
# the rest of the line reversed.
BIDI_CONTROLS = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {
    ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"} | {c: f"\\u{c:04x}" for c in BIDI_CONTROLS}


def printable(text: str) -> str:
    """``text`` with its control characters shown as ``\\x1b``, ``\\t``, ``\\n``, ``\\u202e``: safe
    on a terminal, one line, in the order it was written."""
    return text.translate(_CONTROLS)
