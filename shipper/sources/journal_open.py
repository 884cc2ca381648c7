"""Opening sd_journal readers over a journal input's files, and again while it is read.

A reader over several files fails as a whole when sd_journal refuses one of them. Before reading,
`openable` sorts out the files it refuses (damaged, or not journal files). While reading, a file can
change under the reader: systemd 252 refuses to open a file truncated since (ENODATA), and every new
reader (`reopen_after`, or one that reads on past a stop: `journal_resume`) would then fail with
it. `still_open` leaves such a file out, says so, and the others are read on.

Memory: sd_journal maps the files and keeps what it has read mapped, so resident memory grows
with the part of the files read (clean page-cache pages, but they count in RSS: 60 MB for 100k
entries). A new reader every `REOPEN_ENTRIES` entries (read, stepped over, or passed by the
searches that cut a parallel replay's segments) starts small again; it maps anew only the older
pages that the next entries refer to (values stored once per file, such as a host name). Readers
read it here when they need it (``journal_open.REOPEN_ENTRIES``): one setting for them all.
"""

from __future__ import annotations

import os
from typing import Any

from shipper.sources import journal_faults
from shipper.sources.journal_entries import journal_module, place_after, stopped_message

# A new reader this often (see the module doc): ~0.3 ms each, 1% of reading the entries.
REOPEN_ENTRIES = 10_000


def openable(paths: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The files sd_journal opens, and those it does not with the reason."""
    if not paths:
        return [], []
    journal = journal_module()
    try:
        journal._Reader(0, None, paths).close()
        return paths, []
    except (OSError, ValueError):
        pass
    good: list[str] = []
    bad: list[tuple[str, str]] = []
    for path in paths:
        try:
            journal._Reader(0, None, [path]).close()
            good.append(path)
        except (OSError, ValueError) as exc:
            bad.append((path, str(exc)))
    return good, bad


def still_open(paths: list[str], after: str | None, errors: list[str], said: bool = False) -> list[str]:
    """The files of ``paths`` that sd_journal still opens, read on after the entry ``after``; each
    that it no longer opens is said in ``errors``, but a file truncated under the reading if the
    reading that met the cut said so (``said``, or in ``errors``: `journal_faults.changed`)."""
    good, bad = openable(paths)
    for path, why in bad:
        real = os.path.realpath(path)  # (the file a replay's link in its private directory is to)
        if journal_faults.cut(path):
            if not said and not any(real in message and journal_faults.CHANGED in message for message in errors):
                errors.append(journal_faults.changed(after, [real]))
        else:
            errors.append(f"shipper: reading the journal after cursor {after}: sd_journal no longer opens the journal "
                          f"file {real} ({why}); it is left out, the other files are read on (journalctl --verify "
                          "--file FILE says whether it is damaged)")
    return good


def reopen_after(paths: list[str], cursor: str) -> Any:
    """A new reader over ``paths`` placed after the entry ``cursor`` (see `place_after`)."""
    reader = journal_module()._Reader(0, None, paths)
    place_after(reader, cursor)
    return reader


def unopened_message(paths: list[str], after: str | None, exc: OSError) -> str:
    """The read error of a reader over ``paths`` that could not be opened again, to read on after the
    entry ``after``: a file truncated since it was opened first is named."""
    short = [os.path.realpath(path) for path in paths if journal_faults.cut(path)]
    return journal_faults.changed(after, short) if short else stopped_message(after, exc)
