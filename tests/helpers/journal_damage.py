"""Real journal files damaged in known places, for the tests of what a replay does where sd_journal
stops reading (`shipper.sources.journal_resume`).

The files are made by systemd-journal-remote (`tests.helpers.journal`); each entry has a field
``SEQ`` (its index, 5 digits) and is numbered ``index + 1``. The damage is written where
systemd's ``journal-def.h`` puts things: the header gives the offset of the first object of the
chain of entry arrays that lists every entry (``entry_array_offset``, at 176); each entry array
object is a 16-byte object header, the offset of the next array, and the entries' offsets (4 bytes
each in a compact file, 8 otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tests.helpers.journal import export_entry, make_journal

_ENTRY_ARRAY_OFFSET_AT = 176
_INCOMPATIBLE_FLAGS_AT = 12
_COMPACT = 1 << 4


def numbered_journal(directory: Path, n: int, fields: Callable[[int], dict[str, str]] | None = None) -> Path:
    """``n`` entries, one second apart, each with ``SEQ`` (and ``fields(i)``, by default a message)."""
    made = fields or (lambda i: {"MESSAGE": f"line {i}", "SYSLOG_IDENTIFIER": "app"})
    return make_journal(directory, b"".join(export_entry({**made(i), "SEQ": f"{i:05}"}, seq=i) for i in range(n)))


def _le(data: bytes | bytearray, at: int, size: int = 8) -> int:
    return int.from_bytes(data[at:at + size], "little")


def _item(data: bytes | bytearray, index: int) -> tuple[int, int]:
    """Where the offset of the entry ``index`` is in the chain of entry arrays, and its size."""
    size = 4 if _le(data, _INCOMPATIBLE_FLAGS_AT, 4) & _COMPACT else 8
    at, first = _le(data, _ENTRY_ARRAY_OFFSET_AT), 0
    while at:
        items = (_le(data, at + 8) - 24) // size
        if first <= index < first + items:
            return at + 24 + (index - first) * size, size
        first, at = first + items, _le(data, at + 16)
    raise ValueError(f"no entry {index}")


def damage_entry_array(path: Path, index: int, count: int) -> None:
    """Overwrite the offsets of the entries ``index`` … ``index + count - 1`` in the file's chain of
    entry arrays: sd_journal passes over those entries, then finds the chain out of order and gives up
    on the file (systemd 252: "Can't iterate through …, ignoring"), without saying so."""
    data = bytearray(path.read_bytes())
    first, _ = _item(data, index)
    end, size = _item(data, index + count - 1)
    data[first:end + size] = b"\xaa" * (end + size - first)
    path.write_bytes(bytes(data))


def damage_field(path: Path, index: int) -> None:
    """Take the ``=`` out of the entry ``index``'s ``SEQ`` field: systemd-python's reader raises at
    that entry; the C reader leaves the field out."""
    data = path.read_bytes()
    field = f"SEQ={index:05}".encode()
    assert data.count(field) == 1
    path.write_bytes(data.replace(field, field.replace(b"=", b"_")))


def damage_seqnum(path: Path, index: int) -> None:
    """Overwrite the sequence number of the entry ``index`` (in its object, after the 16-byte object
    header): sd_journal orders the entries after it before it, and ends the reading at it."""
    data = bytearray(path.read_bytes())
    at, size = _item(data, index)
    entry = _le(data, at, size)
    data[entry + 16:entry + 24] = b"\xff" * 8
    path.write_bytes(bytes(data))
