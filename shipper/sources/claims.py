"""Which file input reads a file that several inputs' patterns match, at run time.

The daemon's plan refuses what it can tell from the configuration (`shipper.daemon.plan`); two
globs that overlap only in the files there are (``/var/log/mail*``, ``/var/log/*.log``), a symlink
(``maillog -> mail.log``) or a hard link are only seen when the patterns are matched. Every file
(device and inode, as the followers identify files: `shipper.sources.fileid`) is claimed by one
input, and another input that finds it skips it (`FileFollower` says so once, through its
`shipper.sources.claimant.Claimant`). All file inputs of one daemon share one `Claims`.

Which input: a file found for the first time goes to the first input, in configuration order,
whose patterns match it (asked at once, so it does not depend on whose scan came first; that input
reads it from its next scan). A file keeps its input while that input holds it: as the content
it reads (also after a rename: the claim follows the inode) or as a copy of it (an archive). An
input lets go of a file once it no longer tracks it; a file it read to its end that is still there
(renamed to a name only another input matches) is remembered as *finished* (`FINISHED`), so that
the other input takes it as read rather than reading it again, as long as it holds the same
content (its first bytes: not an inode reused by a new file).

A file the input reading it no longer matches (renamed, or the link it read it through removed)
stays that input's while another input matches it: `locate` tells it where the file is now, and it
goes on reading it there (`shipper.sources.tail`); the other input skips it. An archive made of
content an input reads or read (``a.log.1`` -> ``a.log.1.gz``), found by another input whose
patterns match archives, is taken by that one as read (`copy_of`: by the fingerprint of its first
bytes, as one input recognises its own compressed rotations). A plain copy of content an input has
not read to its end (copytruncate's ``a.log.1``) that only another input matches is the first input's: it goes on reading there if its own file
loses the content (`copies`; the file truncated, it looks for one at once: `unknown_elsewhere`), and
the other input skips it, rather than reading again what the first one shipped. Finished files are forgotten once no
input has matched them for a while (`gone_after`): the claims hold only files that are there.

The claims outlive a restart: before any input matches its patterns, each input `restore`s what its
checkpoint holds (the files of its content streams, and those it finished and let go: saved with its
state, `finished_by`), so that the restart gives each file to the input that had it; found afresh, it
could go to another input (the first in the configuration that matches it: one added since), which
would read it again, and the input that read it would report it removed before it was read to its end.
The checkpoints of inputs no longer in the configuration (removed, or renamed) are read too (`leave`):
a file one of them held that another input takes is read by that one from where the output had
acknowledged it (`left`), or taken as read when it was read to its end, not read again from its start;
so is an archive made of it after that checkpoint was last saved (recognised by its first bytes, as
that input recognised it: `shipper.sources.leftover`).
Such a file, once another input took it (or when one held it already), is no longer the removed
input's (`handed_over`): its checkpoint is rewritten without it, so that the input, added back,
does not take it back from where it left it and ship again what the other input shipped since.
A file several checkpoints hold (a kill -9 between the save of the input that took it and the
rewrite of the one that handed it over; two removed inputs') is read once, from the furthest any of
them says the output acknowledged: a removed input's file by the input that takes it (`left`), a
configured input's by the first in the configuration whose checkpoint holds it (`rivals`), and
the other configured inputs' checkpoints drop it (`dropped`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from shipper.sources.fileid import head_matches
from shipper.sources.leftover import Left, Leftovers, furthest
from shipper.sources.rotation import LIVE, family_of, parse_name

Ident = tuple[int, int]  # (st_dev, st_ino)
Matched = Mapping[Ident, tuple[str, Any]]  # the files an input's patterns match: path (and stat)
FINISHED = 4096  # finished files remembered at most (the oldest are forgotten first)
GONE_AFTER = 60.0  # a finished file no input matched for this long (at least) is forgotten
ARCHIVE_SETTLE = 5.0  # an archive modified more recently may still be being written
# Why a file is another input's (`Refusal.how`): that input comes first in the configuration; it
# comes later but was reading the file before; its patterns no longer match the file (it reads it
# under this input's name); the file is a copy (an archive) of content that input reads or read.
FIRST, KEPT, OUTSIDE, COPY = "first", "kept", "outside", "copy"


@dataclass(frozen=True, slots=True)
class Held:
    """What an input holds of a file: the fingerprint of its content, and whether it is read to its end."""

    fp: str
    fp_len: int
    done: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    owner: str  # the label of the input that reads the file
    finished: bool  # that input read it to its end and no longer follows it (or it is an archive of it)
    how: str = FIRST  # why it is that input's (FIRST, KEPT, OUTSIDE, COPY)


@dataclass(slots=True)
class _Finished:
    key: str  # the input that read it
    content: Held
    copy: bool  # an archive of that content, found by another input
    seen: float | None = None  # when an input last matched it (None: not since it was restored)


@dataclass
class _Input:
    key: str
    label: str
    match: Callable[[], Matched]  # the files its patterns match now
    wake: Callable[[], None]  # match again at its next poll
    scan_interval: float


class Claims:
    def __init__(self) -> None:
        self._inputs: list[_Input] = []  # in configuration order
        self._owner: dict[Ident, str] = {}  # file -> input key
        self._held: dict[str, dict[Ident, Held | None]] = {}  # input key -> its files (None: claimed, not read yet)
        self._finished: OrderedDict[Ident, _Finished] = OrderedDict()
        self._matched: dict[str, Matched] = {}  # input key -> what its patterns matched last
        self._left = Leftovers()  # files of inputs no longer configured, not taken yet
        self._rivals: dict[Ident, list[Left]] = {}  # other checkpoints' entries of a file a configured input's holds
        self._dropped: dict[str, set[Ident]] = {}  # configured input -> its checkpoint's files another reads
        self._copies: dict[Ident, str] = {}  # copies claimed for an input whose patterns do not match them
        self._handed: dict[str, set[Ident]] = {}  # checkpoint of an input no longer configured -> files taken

    def register(self, key: str, label: str, match: Callable[[], Matched], wake: Callable[[], None],
                 scan_interval: float = 0.0) -> None:
        """An input, in configuration order."""
        self._inputs.append(_Input(key, label, match, wake, scan_interval))
        self._held[key] = {}

    @property
    def gone_after(self) -> float:
        """How long a finished file no input matches is remembered: long enough for every input to
        have matched its patterns twice (an archive made of it may be found only then)."""
        return max([GONE_AFTER] + [2 * i.scan_interval + ARCHIVE_SETTLE for i in self._inputs])

    def matched(self, key: str, found: Matched, now: float) -> None:
        """What input ``key``'s patterns match now (at each of its scans, before `take`)."""
        self._matched[key] = dict(found)
        for ident in found:
            if (entry := self._finished.get(ident)) is not None:
                entry.seen = now
        gone_after = self.gone_after
        for ident, entry in list(self._finished.items()):
            if entry.seen is None:
                entry.seen = now
            elif now - entry.seen > gone_after:
                del self._finished[ident]

    def known(self, ident: Ident) -> bool:
        """Whether the file is claimed, or remembered as finished."""
        return ident in self._owner or ident in self._finished

    def copy_of(self, key: str, ident: Ident, head: bytes, path: str, compressed: bool = True) -> bool:
        """Whether a file no input claimed yet, an archive (``compressed``) or a plain copy
        (copytruncate's) whose first (decompressed) bytes are ``head``, holds content an input reads
        or read. If so it is that input's: claimed for it when it is ``key`` or its patterns match
        the file too (it knows its own copies), or when it is a plain copy of content it has not
        read to its end (where it reads the rest from if its own file loses it: `copies`); else
        finished (`take` refuses it, and ``key`` takes it as read). A plain copy must be named as a
        rotation of the file whose content it holds (`_rotation_of`): two live files that begin alike
        (a header line) are two files."""
        match = self._content(head, None if compressed else path)
        if match is None:
            return False
        owner, content = self._input(match[0]), match[1]
        if owner.key == key or ident in self._matches(owner) or not (compressed or content.done):
            self._owner[ident] = owner.key
            self._held[owner.key].setdefault(ident, None)
            if ident not in self._matches(owner):
                self._copies[ident] = owner.key
            if owner.key != key:
                owner.wake()
        else:
            self._finish(owner.key, ident, Held(content.fp, content.fp_len, True), copy=True)
        return True

    def _content(self, head: bytes, plain: str | None) -> tuple[str, Held] | None:
        """The input and the content that a file beginning with ``head`` copies: any held or
        finished content for an archive; for a plain file (at path ``plain``), held content only,
        of a file ``plain`` is a rotated name of."""
        for k, files in self._held.items():
            for held_ident, h in files.items():
                if h is not None and head_matches(head, h.fp, h.fp_len) and (
                        plain is None or self._rotation_of(plain, k, held_ident)):
                    return k, h
        if plain is not None:
            return None
        return next(((e.key, e.content) for e in self._finished.values()
                     if not e.copy and head_matches(head, e.content.fp, e.content.fp_len)), None)

    def _rotation_of(self, path: str, key: str, ident: Ident) -> bool:
        """Whether ``path`` is a rotated name (``a.log.1``, ``a.log-20240101``) of the family of
        the file ``ident`` as input ``key`` last matched it (``a.log``)."""
        where = self._matches(self._input(key)).get(ident)  # (matched now if it has not scanned yet: a restart)
        copy = parse_name(os.path.basename(path))
        return where is not None and copy.kind != LIVE and copy.family == family_of(os.path.basename(where[0]))

    def unknown_elsewhere(self, key: str) -> dict[Ident, str]:
        """The files the other inputs' patterns match now that no input claimed yet (their paths):
        where input ``key`` looks for a copy of content its own file lost (`copy_of`)."""
        return {ident: str(where[0]) for i in self._inputs if i.key != key
                for ident, where in self._match(i).items() if not self.known(ident)}

    def copies(self, key: str) -> dict[Ident, str]:
        """The copies of input ``key``'s content claimed for it that only other inputs' patterns
        match (`copy_of`), where those last matched them: files it matches too, for what it reads."""
        matched = [self._matches(i) for i in self._inputs if i.key != key]
        found = {ident: next((str(m[ident][0]) for m in matched if ident in m), None)
                 for ident, owner in self._copies.items() if owner == key}
        return {ident: path for ident, path in found.items() if path is not None}

    def take(self, key: str, found: Iterable[Ident]) -> dict[Ident, Refusal]:
        """Claim for input ``key`` the files it found that no input holds; returns those it must
        skip: held by another input, or finished (`finished` tells whether it is the same content)."""
        refused: dict[Ident, Refusal] = {}
        earlier: list[tuple[_Input, Matched]] | None = None  # matched once per call, when needed
        for ident in found:
            owner = self._owner.get(ident)
            if owner is None and ident in self._finished:
                entry = self._finished[ident]
                refused[ident] = Refusal(self._label(entry.key), True, COPY if entry.copy else FIRST)
                continue
            if owner is None:
                if earlier is None:
                    earlier = [(i, self._match(i)) for i in self._inputs[: self._index(key)]]
                first = next((i for i, matched in earlier if ident in matched), None)
                owner = first.key if first is not None else key
                self._owner[ident] = owner
                self._held[owner].setdefault(ident, None)
                if first is not None:
                    first.wake()
            if owner != key:
                refused[ident] = Refusal(self._label(owner), False, self._how(key, owner, ident))
        return refused

    def locate(self, key: str, ident: Ident) -> tuple[str, str] | None:
        """Where another input's patterns match a file of input ``key`` that its own no longer
        match (renamed, a link removed): the path, and the label of that input."""
        for i in self._inputs:
            matched = self._matches(i) if i.key != key else {}
            if ident in matched:
                return str(matched[ident][0]), i.label
        return None

    def finished(self, ident: Ident, head: bytes) -> bool:
        """Whether a file refused as finished still holds the content that was read (``head``: its
        first bytes); if not (an inode reused by a new file), it is forgotten as finished."""
        entry = self._finished.get(ident)
        if entry is not None and head_matches(head, entry.content.fp, entry.content.fp_len):
            return True
        self._finished.pop(ident, None)
        return False

    def hold(self, key: str, files: Mapping[Ident, Held]) -> None:
        """The files input ``key`` holds now (after each of its scans, and when it drops one);
        those it held before and holds no more are let go (`FINISHED` when read to their end)."""
        mine = self._held[key]
        for ident, before in list(mine.items()):
            if ident in files:
                continue
            del mine[ident]
            if self._owner.get(ident) == key:
                del self._owner[ident]
                self._copies.pop(ident, None)
            if before is not None and before.done:
                self._finish(key, ident, before)
        for ident, held in files.items():
            if self._owner.setdefault(ident, key) == key:
                mine[ident] = held

    def restore(self, key: str, files: Mapping[Ident, Held], finished: Mapping[Ident, Held],
                at: Mapping[Ident, Left] | None = None) -> None:
        """What input ``key``'s checkpoint holds, before any input matches its patterns (inputs in
        configuration order: a file two checkpoints hold goes to the first); ``at``: how far the
        output acknowledged its plain files, for the input a file goes to (`rivals`)."""
        for ident, left in (at or {}).items():
            if self._owner.get(ident, key) != key:
                self._rivals.setdefault(ident, []).append(left)
        for ident, content in finished.items():
            if ident not in files:
                self._finish(key, ident, content)
        self.hold(key, files)

    def leave(self, files: Mapping[Ident, Iterable[Left]]) -> None:
        """The files the checkpoints of inputs no longer configured hold (after every input's
        `restore`: a file a configured input holds stays its own, read on from the furthest of
        its checkpoint and theirs: `rivals`)."""
        self._left.add({ident: lefts for ident, lefts in files.items() if not self.known(ident)})
        for ident, lefts in files.items():
            if not self.known(ident):
                continue
            for left in lefts:
                self._handed.setdefault(left.key, set()).add(ident)
            if ident in self._owner:
                self._rivals.setdefault(ident, []).extend(lefts)

    def left(self, ident: Ident, head: bytes, compressed: bool = False) -> Left | None:
        """Where to read a file found for the first time from, when inputs no longer configured
        read it (`leave`) and it still holds that content (``head``: its first bytes), or it is
        another file holding content of theirs (an archive made of it since; ``compressed``:
        `Leftovers.take`): the furthest of their checkpoints, once (for a file holding content an
        input reads, an archive of it: read on from there if further, `Claimant.catch_up`)."""
        lefts, handed = self._left.take(ident, head, compressed, self._found)
        for key, file in handed:
            self._handed.setdefault(key, set()).add(file)
        return furthest(lefts)

    def _found(self, ident: Ident) -> bool:
        """Whether an input's patterns match the file (at their last scan)."""
        return any(ident in self._matches(i) for i in self._inputs)

    def rivals(self, key: str, ident: Ident) -> list[Left]:
        """The entries other checkpoints (configured inputs' that come later, removed inputs') hold
        of a file input ``key``'s checkpoint holds, asked once, at its first scan: it reads the file
        on from the furthest of them and its own of the same content, and the configured inputs
        among them drop it (`outran`)."""
        return self._rivals.pop(ident, []) if self._owner.get(ident) == key else []

    def outran(self, ident: Ident, rivals: Iterable[Left]) -> None:
        """The configured inputs among ``rivals`` drop their entry of the file (`dropped`)."""
        for rival in rivals:
            if rival.key in self._held:
                self._dropped.setdefault(rival.key, set()).add(ident)

    def dropped(self, key: str, ident: Ident) -> bool:
        """Whether input ``key``'s checkpoint held a file that another input reads on (`rivals`):
        its entry is dropped (once)."""
        mine = self._dropped.get(key, set())
        if ident not in mine:
            return False
        mine.discard(ident)
        return True

    def name(self, key: str) -> str:
        """How the log names the input of checkpoint ``key``."""
        if key in self._held:
            return f"the input {self._label(key)}"
        return f"{key} (an input no longer in the configuration)"

    def handed_over(self) -> dict[str, set[Ident]]:
        """The files of inputs no longer configured (by checkpoint) that configured inputs took
        since the last call: to drop from those checkpoints, once the checkpoints of the inputs
        that took them hold them."""
        handed, self._handed = self._handed, {}
        return handed

    def finished_by(self, key: str) -> dict[Ident, Held]:
        """The files input ``key`` read to their end and let go of, as remembered (for its checkpoint)."""
        return {ident: e.content for ident, e in self._finished.items() if e.key == key}

    def _finish(self, key: str, ident: Ident, content: Held, copy: bool = False) -> None:
        self._finished[ident] = _Finished(key, content, copy)
        self._finished.move_to_end(ident)
        while len(self._finished) > FINISHED:
            self._finished.popitem(last=False)

    def _match(self, i: _Input) -> Matched:
        """What input ``i``'s patterns match now."""
        matched = self._matched[i.key] = dict(i.match())
        return matched

    def _matches(self, i: _Input) -> Matched:
        """What input ``i``'s patterns matched at its last scan (now, if it has not scanned yet)."""
        matched = self._matched.get(i.key)
        return matched if matched is not None else self._match(i)

    def _how(self, key: str, owner: str, ident: Ident) -> str:
        """Why a file ``owner`` holds is not ``key``'s (`Refusal.how`)."""
        if self._copies.get(ident) == owner:
            return COPY
        if ident not in self._matches(self._input(owner)):
            return OUTSIDE
        return FIRST if self._index(owner) < self._index(key) else KEPT

    def _index(self, key: str) -> int:
        return next(n for n, i in enumerate(self._inputs) if i.key == key)

    def _input(self, key: str) -> _Input:
        return self._inputs[self._index(key)]

    def _label(self, key: str) -> str:
        return self._input(key).label
