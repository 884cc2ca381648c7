"""The files of inputs no longer configured, until a configured input takes them (`shipper.sources.claims`).

A removed input's checkpoint holds content streams, each in a plain file and in the copies it
knew of (its archives), by device and inode. A file a configured input finds for the first time
is that content when it is one of those files and still begins with it (`Leftovers.take`). It is
that content too when it is another file holding it: an archive made after the removed input last
saved its checkpoint (``app.log-1`` compressed to ``app.log-1.gz`` while it ran with nothing new to
save, or while shipper was stopped: the checkpoint holds only the plain file's inode, gone now),
or a plain copy of content whose file was found emptied (a copytruncate while stopped). It
is recognised by its first bytes, as the removed input itself recognises such a file among its
own streams (`shipper.sources.tail.FileFollower._discover`): the input that takes it reads it on
from where that checkpoint left it, rather than reading the whole archive again as new content.
A plain copy is not taken for content whose file is still found: that file is read on (a copy
made with ``cp`` of a file still written to would miss what is written later).

Each content is taken once: by whichever of its files is found first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from shipper.sources.fileid import head_matches

Ident = tuple[int, int]  # (st_dev, st_ino)


@dataclass(frozen=True, slots=True)
class Left:
    """A file of an input no longer configured, as its checkpoint left it (`Claims.leave`): the
    input that takes it reads on from ``offset`` (what the output had acknowledged), or takes it
    as read (``done``)."""

    fp: str
    fp_len: int
    offset: int
    done: bool
    key: str = ""  # the checkpoint it is in (an input no longer configured, or one configured: `Claims.rivals`)
    resume: int = 0  # where that checkpoint resumes reading (before ``offset``: the ids of the lines after it)
    stream: str = ""  # the file's key in that checkpoint (its stream id there: ``<key>/<stream>``)


def furthest(lefts: Iterable[Left]) -> Left | None:
    """The entry that says the most was acknowledged (read to its end first), None without any."""
    return max(lefts, key=lambda left: (left.done, left.offset), default=None)


@dataclass(eq=False, slots=True)
class _Content:
    """One entry of a removed input's checkpoint (a content stream, or a file it finished) not taken
    yet, and those of its files no input found yet."""

    left: Left
    files: list[Ident]
    emptied: bool = False  # its plain file was found holding other content (copytruncate: its copy may be found)


class Leftovers:
    def __init__(self) -> None:
        self._by_file: dict[Ident, list[_Content]] = {}  # what the removed inputs' checkpoints say each file holds
        self._contents: list[_Content] = []  # not taken yet

    def add(self, files: Mapping[Ident, Iterable[Left]]) -> None:
        """What the checkpoints of inputs no longer configured say each file holds (one `Left`
        object for each of their entries, under each of its files)."""
        entries: dict[int, _Content] = {}  # (by the identity of its `Left`)
        for ident, lefts in files.items():
            for left in lefts:
                entry = entries.get(id(left))
                if entry is None:
                    entry = entries[id(left)] = _Content(left, [])
                    self._contents.append(entry)
                if ident not in entry.files:  # (an entry may list its own file among its copies)
                    entry.files.append(ident)
                    self._by_file.setdefault(ident, []).append(entry)

    def take(self, ident: Ident, head: bytes, compressed: bool,
             found: Callable[[Ident], bool]) -> tuple[list[Left], list[tuple[str, Ident]]]:
        """A file found for the first time (``head``: its first bytes, decompressed): the content
        it holds of those checkpoints (one content; an entry of it for each checkpoint that held
        it), by its inode or else by its first bytes (an archive; a plain copy of content whose own
        file was found emptied, a copytruncate, and none of whose files an input finds now:
        ``found``), taken; and the files of those checkpoints looked at (checkpoint key, file): to
        drop from them (`Claims.handed_over`). A plain file of another inode that begins as a
        content whose file is gone is a new file (an application that writes the same banner at
        each start), not a copy: it is read from its start."""
        asked = self._by_file.pop(ident, [])
        for entry in asked:  # (another content now, if it does not match: still taken by a copy of it)
            entry.files.remove(ident)
        handed = [(entry.left.key, ident) for entry in asked]
        same = [entry for entry in asked if _holds(entry, head)]
        for entry in asked:
            entry.emptied = entry.emptied or entry not in same
        same = same or [entry for entry in self._contents if _holds(entry, head) and (
            compressed or (entry.emptied and not any(found(f) for f in entry.files)))]
        for entry in same:
            self._contents.remove(entry)
            for other in entry.files:
                self._by_file[other].remove(entry)
                handed.append((entry.left.key, other))
        return [entry.left for entry in same], handed


def _holds(entry: _Content, head: bytes) -> bool:
    return head_matches(head, entry.left.fp, entry.left.fp_len)
