"""Entries out of an ``sd_journal`` reader (systemd-python's low-level ``_Reader``), as field dicts.

The converters of ``systemd.journal.Reader`` decode every value through a Python call and make
reading three times slower, so the low-level reader is used. Values are decoded as UTF-8
(``bytes`` when not valid; a field with several values gives a list), and each entry gets
``__REALTIME_TIMESTAMP`` (µs since the epoch, as ``str``) and ``__CURSOR``.

Entries are read in batches by a small C extension (``_journalread.c``) on the reader's own
``sd_journal``: 1.5 µs an entry against 3.2 µs through systemd-python's calls (`read_in_python`,
used where the extension was not built). Both give the same entries; a test compares them on real
journal files. The C reader packs a batch into one bytes object (`read_packed`), which a replay
worker's express lane turns into bulk items without a dict per entry; `read_entries` unpacks it.
"""

from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass
from typing import Any, Generator

from shipper.errors import InputError
from shipper.event import TAG_DAMAGED
from shipper.sources import journal_faults
from shipper.sources.export import Fields, Tags, as_value

CHUNK_ENTRIES = 2000
_INCOMPLETE = "read without some of their fields"
_FIELD_LEFT_OUT = "shipper: a damaged field of the journal entry "


class Entries(list[Fields]):
    """A chunk of entries (`read_entries`), with the places (from 0) of those sd_journal gave
    without some of their fields: data objects of a damaged file that it passed over without a
    word (the C reader checks each entry's fields against the hash in its cursor: _journalhash.h)."""

    def __init__(self, items: list[Fields], incomplete: tuple[int, ...] = ()) -> None:
        super().__init__(items)
        self.incomplete = incomplete


def damaged_tags(items: list[Fields]) -> dict[int, Tags]:
    """The tags of the entries of a chunk (`read_entries`) read without some of their fields
    (`TAG_DAMAGED`: see `Entries`)."""
    return dict.fromkeys(getattr(items, "incomplete", ()), (TAG_DAMAGED,))


def incomplete_message(count: int) -> str:
    """The read error of ``count`` entries read without some of their fields (see `Entries`)."""
    entries = "journal entry was" if count == 1 else "journal entries were"
    return (f"shipper: {count} {entries} {_INCOMPLETE} (data objects of a damaged journal file, which sd_journal passed "
            f"over): they are tagged {TAG_DAMAGED}; journalctl --verify --file FILE says which file is damaged")


def incomplete_count(message: str) -> int:
    """How many entries an `incomplete_message` counts (0: the message is another one)."""
    count, _, rest = message.removeprefix("shipper: ").partition(" ")
    said = rest.removeprefix("journal entry was ").removeprefix("journal entries were ")
    return int(count) if said.startswith(_INCOMPLETE) and count.isdigit() else 0


def about_entries_read(message: str) -> bool:
    """Whether a read error speaks of entries of its own chunk (some read without some of their
    fields, a field left out): read again before what the output acknowledged, it was shipped with them."""
    return message.startswith(_FIELD_LEFT_OUT) or incomplete_count(message) > 0


def journal_module() -> Any:
    """``systemd.journal``, imported on first use: text replay works without systemd-python. Every
    reader is opened through it, after the SIGBUS handler is installed (`journal_faults`)."""
    journal_faults.install()
    try:
        from systemd import journal  # noqa: PLC0415 - optional dependency, needed only here
    except ImportError:
        raise InputError(
            "reading binary journal files needs systemd-python, which is not installed",
            hint="pip install 'shipper[journal]' (it builds against libsystemd-dev), "
            "or read an export instead: journalctl -o export > dump.export",
        ) from None
    return journal


def read_entries(
    reader: Any, errors: list[str], limit: int | None = None, chunk: int = CHUNK_ENTRIES
) -> Generator[tuple[list[Fields], str | None], None, None]:
    """Chunks of ``chunk`` entries from the reader's position on (at most ``limit`` in all), and
    the cursor of each chunk's last entry. A read failure (a file damaged after it was opened) ends
    the reading and is added to ``errors``. Stopping early loses nothing: the reader stays after the
    last entry yielded. Read by the C reader when it is there, else by `read_in_python`.

    A field that cannot be read (no ``=``, or a name that is not UTF-8: a damaged file) is left out
    of its entry by the C reader, which goes on, and said in ``errors``; systemd-python raises
    there, so `read_in_python` ends the reading at that entry (and says so in ``errors``). The
    entries read without some of their fields (data objects sd_journal passed over) are in each
    chunk's `Entries.incomplete`, and counted in ``errors`` (`incomplete_message`)."""
    native = native_reader()
    if native is None:
        yield from read_in_python(reader, errors, limit, chunk)
        return
    for packed in read_packed(reader, errors, limit, chunk):
        yield Entries(native.unpack(packed.data, 0, len(packed.data)), packed.incomplete), packed.cursor


@dataclass(frozen=True, slots=True)
class Packed:
    """Entries packed into bytes by the C reader (``_journalpack.h``): how many, the last one's
    cursor, and the places of those read without some of their fields (see `Entries`)."""

    data: bytes
    count: int
    cursor: str | None
    incomplete: tuple[int, ...] = ()


def read_packed(
    reader: Any, errors: list[str], limit: int | None = None, chunk: int = CHUNK_ENTRIES
) -> Generator[Packed, None, None]:
    """`read_entries`, packed: only with the C reader (`native_reader`)."""
    native = native_reader()
    left = -1 if limit is None else limit
    last: str | None = None
    while left:
        want = chunk if left < 0 else min(chunk, left)
        faults = journal_faults.count()
        data, count, cursor, err, damaged, incomplete = native.pack(reader, want)
        if count:
            left -= count
            last = cursor
        errors += [f"{_FIELD_LEFT_OUT}{at} was left out (a file is damaged)"
                   for at in damaged]
        if incomplete:
            errors.append(incomplete_message(len(incomplete)))
        if journal_faults.count() != faults:  # (pack stopped there: err is set)
            errors.append(journal_faults.changed_message(faults, last))
        elif err:
            errors.append(stopped_message(last, OSError(err, os.strerror(err))))
        if count:
            yield Packed(data, count, last, tuple(incomplete))
        if err or count < want:
            return


def packed_upto(packed: Packed, cursor: str) -> int | None:
    """How many of the entries in ``packed`` come up to the one whose cursor is ``cursor``, that one
    included; None if none has it. An entry's last field is its ``__CURSOR`` (``_journalpack.h``)."""
    field = b"__CURSOR=" + cursor.encode()
    field = struct.pack("=I", len(field)) + field
    data = packed.data
    if field not in data:  # (searched in C: the entries are walked only where it may be)
        return None
    end = 0
    for n in range(1, packed.count + 1):
        end += 4 + struct.unpack_from("=I", data, end)[0]
        if data.endswith(field, 0, end):
            return n
    return None


@functools.cache
def _whole() -> Any:
    """The C reader's check that an entry's fields are all there, bound or not (None: not built)."""
    try:
        from shipper.sources import _journalread  # noqa: PLC0415 - an extension, built where it can be
    except ImportError:
        return None
    return _journalread.whole


@functools.cache
def native_reader() -> Any:
    """The C reader of entries (``shipper.sources._journalread``, ~2x faster), bound to
    systemd-python's ``_Reader``; None when it was not built (no compiler or libsystemd-dev at
    install time) or does not know this systemd-python's reader."""
    try:
        from shipper.sources import _journalread  # noqa: PLC0415 - an extension, built where it can be
    except ImportError:
        return None
    return _journalread if _journalread.bind(journal_module()._Reader) else None


def skip(reader: Any, n: int) -> int:
    """Move ``reader`` ``n`` (≥ 1) entries on; how many it moved: fewer at the end of the journal.
    systemd-python's ``_next(n)`` says only whether it moved, which cannot tell a full step from
    one the end cut short. Without the C reader, one entry at a time."""
    native = native_reader()
    if native is not None:
        return int(native.skip(reader, n))
    moved = 0
    while moved < n and reader._next():
        moved += 1
    return moved


def read_in_python(
    reader: Any, errors: list[str], limit: int | None = None, chunk: int = CHUNK_ENTRIES
) -> Generator[tuple[list[Fields], str | None], None, None]:
    """`read_entries` through systemd-python's calls: what the C reader does, in Python."""
    next_entry, get_all = reader._next, reader._get_all
    realtime, cursor, monotonic = reader._get_realtime, reader._get_cursor, reader._get_monotonic
    items = Entries([])
    last: str | None = None
    left = -1 if limit is None else limit
    faults = journal_faults.count()  # (the handler is there where the C reader is built but not bound)
    whole = _whole()
    try:
        while left and next_entry():
            left -= 1
            entry = get_all()
            fields = _payloads(entry)
            try:  # in place: ~12% faster than building a new dict
                for key, value in entry.items():
                    entry[key] = value.decode()
            except (UnicodeDecodeError, AttributeError):  # binary or multi-valued fields
                _decode_rest(entry)
            if "_BOOT_ID" not in entry:  # an entry without fields still has its boot (as in export)
                entry["_BOOT_ID"] = monotonic()[1].hex()
            entry["__REALTIME_TIMESTAMP"] = str(realtime())
            entry["__CURSOR"] = at = cursor()
            if journal_faults.count() != faults:
                break  # a file changed under the reader: this entry may hold zeros (said below)
            last = at
            if whole is not None and not whole(at, fields):
                items.incomplete += (len(items),)
            items.append(entry)
            if len(items) == chunk:
                yield _said(items, errors), last
                items = Entries([])
    except (OSError, UnicodeDecodeError) as exc:  # a damaged field: no '=', or a name that is not UTF-8
        if journal_faults.count() == faults:
            errors.append(stopped_message(last, exc))
    if journal_faults.count() != faults:
        errors.append(journal_faults.changed_message(faults, last))
    if items:
        yield _said(items, errors), last


def _said(items: Entries, errors: list[str]) -> Entries:
    """``items``, once their entries read without some of their fields are said in ``errors``."""
    if items.incomplete:
        errors.append(incomplete_message(len(items.incomplete)))
    return items


def _payloads(entry: dict[str, Any]) -> list[bytes]:
    """The fields of an entry as systemd-python's ``_get_all`` gives them, as sd_journal gave them."""
    out: list[bytes] = []
    for key, value in entry.items():
        name = key.encode() + b"="
        out += [name + v for v in value] if isinstance(value, list) else [name + value]
    return out


def place_after(reader: Any, cursor: str) -> bool:
    """Place ``reader`` after the entry ``cursor`` (or, if that entry is gone, where it was):
    ``seek_cursor`` then ``next`` lands *on* the cursor's entry when it still exists. Whether it did."""
    reader.seek_cursor(cursor)
    if reader._next() and reader.test_cursor(cursor):
        return True
    reader.seek_cursor(cursor)
    return False


def stopped_message(cursor: str | None, exc: Exception) -> str:
    return f"shipper: reading the journal stopped after cursor {cursor}: {exc}; a file is damaged"


def _decode_rest(entry: dict[str, Any]) -> None:
    """Finish decoding an entry whose fast decoding stopped at a binary or multi-valued field."""
    for key, value in entry.items():
        if isinstance(value, bytes):
            entry[key] = as_value(value)
        elif isinstance(value, list):
            entry[key] = [as_value(v) for v in value]
