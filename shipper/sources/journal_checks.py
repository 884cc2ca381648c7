"""What a replay checks once it has read a journal input: whether it read as many entries as the
files' headers give, and the read errors it reports at the end (`finished`).

sd_journal passes over what it cannot read in a damaged file without a word (systemd 252: entries
whose objects fail its checks, the rest of an entry array it cannot follow, data objects: see
`journal_entries.Entries`), and a replay reads on past where it stops (`journal_resume`); so a
damaged file can be read short with no read error. The headers give each file's ``n_entries``,
taken when the reading starts (`Counted`): a file still being written only grows. If fewer entries
were read than they add up to, each file that a reader of its own steps over short of its count is
named. The entries of two files that hold the same entries (a copy) are read once: not named then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from shipper.sources import journal_faults, journal_open
from shipper.sources.journal_entries import incomplete_count, incomplete_message, journal_module, skip
from shipper.sources.journal_header import HEADER_BYTES, parse_header

_STOPPED = "shipper: reading the journal "  # (where it stopped, went on, or left a file out)


@dataclass(frozen=True, slots=True)
class Counted:
    """A file of the input and the entries its header gives (when the reading started)."""

    path: str
    given: str  # as the user named it
    entries: int


def counted(paths: list[str], given: Callable[[str], str]) -> list[Counted]:
    """The files of ``paths`` with their entry counts, each file once (copies have one file id)."""
    files: dict[str, Counted] = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                header = parse_header(f.read(HEADER_BYTES))
        except OSError:
            continue
        if header is not None:
            files.setdefault(header.file_id, Counted(path, given(path), header.n_entries))
    return list(files.values())


def finished(errors: list[str], files: list[Counted], read: int) -> list[str]:
    """The read errors of an input that is read (``read`` entries): ``errors`` as they came, but
    the counts of entries read without some fields added up into one; then, if none of them says
    where the reading stopped or went on (`journal_resume`: they say what was not read), the
    files read short."""
    incomplete = sum(map(incomplete_count, errors))
    out = [message for message in errors if not incomplete_count(message)]
    if incomplete:
        out.append(incomplete_message(incomplete))
    said = any(message.startswith(_STOPPED) for message in out)
    return out if said else out + unread(files, read)


def unread(files: list[Counted], read: int) -> list[str]:
    """The read error of the files read short, if fewer than their entries were read."""
    total = sum(f.entries for f in files)
    if read >= total:
        return []
    short = [f for f in files if _reads_short(f)]
    if not short:
        return []
    if len(short) == 1 and len(files) == 1:
        name = short[0].given
        return [f"shipper: {total - read} of the {total} entries of the journal file {name} (as its header gives them) "
                f"could not be read: it is damaged; journalctl --verify --file {name} says where"]
    names = ", ".join(f.given for f in short)
    return [f"shipper: {total - read} of the {total} entries of the journal files of this input (as their headers give "
            f"them) could not be read: {names} {'is' if len(short) == 1 else 'are'} damaged; journalctl --verify --file "
            "FILE says where"]


def _reads_short(f: Counted) -> bool:
    """Whether a reader over the file alone steps over fewer entries than its header gave; a file
    truncated under the reading is not (said already: `journal_faults.changed`), nor one that no
    longer opens (`journal_open.still_open` says so)."""
    if journal_faults.cut(f.path):
        return False
    try:
        reader = journal_module()._Reader(0, None, [f.path])
    except OSError:
        return False
    try:
        reader.seek_head()
        stepped = 0
        while stepped < f.entries:
            step = min(journal_open.REOPEN_ENTRIES, f.entries - stepped)
            moved = skip(reader, step)
            stepped += moved
            if moved < step:
                break
        return stepped < f.entries
    except OSError:
        return True
    finally:
        reader.close()
