"""What shipper reads of a journal file without sd_journal: a few fields of its header (systemd's
``journal-def.h``), and the sequence number and the time a cursor names."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SIGNATURE = b"LPKSHHRH"
_STATE_AT, _FILE_ID_AT, _SEQNUM_ID_AT, _N_ENTRIES_AT, _TAIL_SEQNUM_AT, _HEAD_SEQNUM_AT = 16, 24, 72, 152, 160, 168
_HEAD_REALTIME_AT, _TAIL_REALTIME_AT = 184, 192
_ARCHIVED = 2
HEADER_BYTES = _TAIL_REALTIME_AT + 8

_CURSOR_NUMBER = re.compile(r"(?:^|;)([si])=([0-9a-f]+)")
_CURSOR_REALTIME = re.compile(r"(?:^|;)t=([0-9a-f]+)")


@dataclass(frozen=True, slots=True)
class Header:
    archived: bool  # it will not grow
    file_id: str  # 32 hex digits: the file's own (a copy has its original's)
    seqnum_id: str  # 32 hex digits, as in cursors: the writer that numbered its entries
    n_entries: int
    head_seqnum: int
    tail_seqnum: int
    tail_realtime: int  # µs since the epoch, of its last entry (0: none)
    head_realtime: int = 0  # µs since the epoch, of its first entry (0: none)


def parse_header(data: bytes) -> Header | None:
    """The header at the start of ``data``; None if it is not a journal file's (or too short)."""
    if len(data) < HEADER_BYTES or not data.startswith(_SIGNATURE):
        return None

    def le64(at: int) -> int:
        return int.from_bytes(data[at : at + 8], "little")

    return Header(data[_STATE_AT] == _ARCHIVED, data[_FILE_ID_AT : _FILE_ID_AT + 16].hex(),
                  data[_SEQNUM_ID_AT : _SEQNUM_ID_AT + 16].hex(), le64(_N_ENTRIES_AT),
                  le64(_HEAD_SEQNUM_AT), le64(_TAIL_SEQNUM_AT), le64(_TAIL_REALTIME_AT), le64(_HEAD_REALTIME_AT))


def undated_time(files: list[tuple[Header | None, float | None]]) -> float | None:
    """The time (epoch s) of an item of a journal input that has none of its own (a read error)
    before any entry is read (after one, it takes that entry's: `journal_fields.JournalParser`), from
    its files' headers and mtimes (``files``): the earliest first entry the headers give, else the
    earliest mtime; None if neither is known. Not the time of reading, which would give the item
    another id each time (the ids hold the time)."""
    firsts = [h.head_realtime or h.tail_realtime for h, _ in files if h is not None]
    first = min((t for t in firsts if t), default=0)
    if first:
        return first / 1e6
    return min((m for _, m in files if m is not None), default=None)


def read_header(path: str) -> Header | None:
    """The header of the file at ``path``; None if it cannot be read or is not a journal file's."""
    try:
        with open(path, "rb") as f:
            return parse_header(f.read(HEADER_BYTES))
    except OSError:
        return None


def cursor_number(cursor: str) -> tuple[str, int] | None:
    """The (seqnum_id, seqnum) a cursor names; None if it names none."""
    fields = dict(_CURSOR_NUMBER.findall(cursor))
    if "s" not in fields or "i" not in fields:
        return None
    return fields["s"], int(fields["i"], 16)


def cursor_time(cursor: str) -> float | None:
    """The realtime (epoch seconds) written in a cursor (``…;t=5a3f…;…``), None if it has none."""
    m = _CURSOR_REALTIME.search(cursor)
    return int(m.group(1), 16) / 1e6 if m else None
