"""Which file input reads a file that several inputs' patterns match, at run time.

The daemon's plan refuses what it can tell from the configuration (`shipper.daemon.plan`); two
globs that overlap only in the files there are (``/var/log/mail*``, ``/var/log/*.log``), a symlink
(``maillog -> mail.log``) or a hard link are only seen when the patterns are matched. Every file
(device and inode, as the followers identify files: `shipper.sources.fileid`) is claimed by one
input, and another input that finds it skips it (`FileFollower` says so once). All file inputs of
one daemon share one `Claims`.

Which input: a file found for the first time goes to the first input, in configuration order,
whose patterns match it (asked at once, so it does not depend on whose scan came first; that input
reads it from its next scan). A file keeps its input while that input holds it: as the content
it reads (also after a rename: the claim follows the inode) or as a copy of it (an archive). An
input lets go of a file once it no longer tracks it; a file it read to its end that is still there
(renamed to a name only another input matches) is remembered as *finished* (`FINISHED`), so that
the other input takes it as read rather than reading it again, as long as it holds the same
content (its first bytes: not an inode reused by a new file).

The claims outlive a restart: before any input matches its patterns, each input `restore`s what its
checkpoint holds (the files of its content streams, and those it finished and let go: saved with its
state, `finished_by`), so that the restart gives each file to the input that had it; found afresh, it
could go to another input (the first in the configuration that matches it: one added since), which
would read it again, and the input that read it would report it removed before it was read to its end.
"""

from __future__ import annotations

import os
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from shipper.errors import InputError
from shipper.sources.fileid import fingerprint, head_matches, read_head
from shipper.sources.tailfile import Tracked

Ident = tuple[int, int]  # (st_dev, st_ino)
FINISHED = 4096  # finished files remembered at most (the oldest are forgotten first)


@dataclass(frozen=True, slots=True)
class Held:
    """What an input holds of a file: the fingerprint of its content, and whether it is read to its end."""

    fp: str
    fp_len: int
    done: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    owner: str  # the label of the input that reads the file
    finished: bool  # that input read it to its end and no longer follows it


@dataclass
class _Input:
    key: str
    label: str
    match: Callable[[], Iterable[Ident]]  # the files its patterns match now
    wake: Callable[[], None]  # match again at its next poll


class Claims:
    def __init__(self) -> None:
        self._inputs: list[_Input] = []  # in configuration order
        self._owner: dict[Ident, str] = {}  # file -> input key
        self._held: dict[str, dict[Ident, Held | None]] = {}  # input key -> its files (None: claimed, not read yet)
        self._finished: OrderedDict[Ident, tuple[str, Held]] = OrderedDict()  # file -> (input key, content)

    def register(self, key: str, label: str, match: Callable[[], Iterable[Ident]], wake: Callable[[], None]) -> None:
        """An input, in configuration order."""
        self._inputs.append(_Input(key, label, match, wake))
        self._held[key] = {}

    def take(self, key: str, found: Iterable[Ident]) -> dict[Ident, Refusal]:
        """Claim for input ``key`` the files it found that no input holds; returns those it must
        skip: held by another input, or finished (`finished` tells whether it is the same content)."""
        refused: dict[Ident, Refusal] = {}
        earlier: list[tuple[_Input, set[Ident]]] | None = None  # matched once per call, when needed
        for ident in found:
            owner = self._owner.get(ident)
            if owner is None and ident in self._finished:
                refused[ident] = Refusal(self._label(self._finished[ident][0]), True)
                continue
            if owner is None:
                if earlier is None:
                    earlier = [(i, set(i.match())) for i in self._inputs[: self._index(key)]]
                first = next((i for i, matched in earlier if ident in matched), None)
                owner = first.key if first is not None else key
                self._owner[ident] = owner
                self._held[owner].setdefault(ident, None)
                if first is not None:
                    first.wake()
            if owner != key:
                refused[ident] = Refusal(self._label(owner), False)
        return refused

    def finished(self, ident: Ident, head: bytes) -> bool:
        """Whether a file refused as finished still holds the content that was read (``head``: its
        first bytes); if not (an inode reused by a new file), it is forgotten as finished."""
        entry = self._finished.get(ident)
        if entry is not None and head_matches(head, entry[1].fp, entry[1].fp_len):
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
            if before is not None and before.done:
                self._finish(key, ident, before)
        for ident, held in files.items():
            if self._owner.setdefault(ident, key) == key:
                mine[ident] = held

    def restore(self, key: str, files: Mapping[Ident, Held], finished: Mapping[Ident, Held]) -> None:
        """What input ``key``'s checkpoint holds, before any input matches its patterns (inputs in
        configuration order: a file two checkpoints hold goes to the first)."""
        for ident, content in finished.items():
            if ident not in files:
                self._finish(key, ident, content)
        self.hold(key, files)

    def finished_by(self, key: str) -> dict[Ident, Held]:
        """The files input ``key`` read to their end and let go of, as remembered (for its checkpoint)."""
        return {ident: held for ident, (owner, held) in self._finished.items() if owner == key}

    def _finish(self, key: str, ident: Ident, content: Held) -> None:
        self._finished[ident] = (key, content)
        self._finished.move_to_end(ident)
        while len(self._finished) > FINISHED:
            self._finished.popitem(last=False)

    def _index(self, key: str) -> int:
        return next(n for n, i in enumerate(self._inputs) if i.key == key)

    def _label(self, key: str) -> str:
        return next(i.label for i in self._inputs if i.key == key)


Found = dict[Ident, tuple[str, os.stat_result]]  # the files an input's patterns match: path and stat


class Claimant:
    """One input's side (`shipper.sources.tail.FileFollower`): which files it found are its own."""

    def __init__(self, claims: Claims, key: str, label: str, where: str, counters: Counter[str],
                 warn: Callable[[str, str], None]) -> None:
        """``label`` names the input to the others, ``where`` starts its own messages; ``warn``
        says a message once per key; ``counters`` counts the files skipped."""
        self._claims, self._key, self._label, self._where = claims, key, label, where
        self._counters, self._warn = counters, warn
        self._refused: set[Ident] = set()  # files another input reads (at the last scan)

    def keep_out(self, found: Found, now: float) -> list[Tracked]:
        """Leave out of ``found`` the files another input reads (said once each); returns the
        files another input read to its end, as content to track as done (never read here)."""
        refused = self._claims.take(self._key, found)
        done: list[Tracked] = []
        for ident, refusal in refused.items():
            path, st = found[ident]
            if refusal.finished:  # tracked as done (it stays in ``found``): unless an inode reused by a new file
                head = self._head(path)
                if head is None:
                    del found[ident]  # looked at again at the next scan
                elif self._claims.finished(ident, head):
                    done.append(_done(ident, path, st, head, now))
                    self._say(path, refusal)
                continue
            del found[ident]
            if ident not in self._refused:
                self._counters["files_read_by_another_input"] += 1
            self._say(path, refusal)
        self._refused = {i for i, r in refused.items() if not r.finished}
        return done

    def hold(self, streams: Iterable[Tracked]) -> None:
        """The files the input's content streams are in (plain file and copies), after each change."""
        self._claims.hold(self._key, _held(streams))

    def restore(self, streams: Iterable[Tracked], finished: object) -> None:
        """What the input's checkpoint holds, before any input's first scan: its content streams,
        and ``finished`` (`finished_json`, as saved) the files it read to their end and let go of."""
        let_go: dict[Ident, Held] = {}
        for entry in finished if isinstance(finished, list) else []:
            try:
                dev, ino, fp, fp_len = entry
                let_go[(int(dev), int(ino))] = Held(str(fp), int(fp_len), True)
            except (TypeError, ValueError):
                continue  # (a hand edit: that file is claimed afresh)
        self._claims.restore(self._key, _held(streams), let_go)

    def finished_json(self) -> list[list[object]]:
        """The files the input read to their end and let go of, for its checkpoint (`restore`)."""
        return [[dev, ino, held.fp, held.fp_len] for (dev, ino), held in self._claims.finished_by(self._key).items()]

    @staticmethod
    def _head(path: str) -> bytes | None:
        try:
            return read_head(path).data
        except InputError:
            return None

    def _say(self, path: str, refusal: Refusal) -> None:
        if refusal.owner == self._label:
            return  # (a file this input read to its end, found again under a name it matches)
        if refusal.finished:
            self._warn(f"finished:{path}", f"shipper: {self._where}: {path} was read to its end by the input "
                       f"{refusal.owner}, which matched it before; this input does not read it again")
        else:
            self._warn(f"claimed:{path}", f"shipper: {self._where}: {path} is read by the input {refusal.owner} "
                       "(the first input in the configuration that matched it); this input skips it, so that its "
                       "lines are not shipped twice (add it to this input's exclude: to silence this)")


def _held(streams: Iterable[Tracked]) -> dict[Ident, Held]:
    """The files content streams are in (plain file and copies), and what each holds."""
    held: dict[Ident, Held] = {}
    for t in streams:
        content = Held(t.fp, t.fp_len, t.done or t.ended)  # (ended: read to its end, acknowledged soon)
        for ident in ([t.ident] if t.ident is not None else []) + [(c[0], c[1]) for c in t.copies]:
            held[ident] = content
    return held


def _done(ident: Ident, path: str, st: os.stat_result, head: bytes, now: float) -> Tracked:
    """The content of a file another input read to its end, as this input tracks it: read."""
    fp = fingerprint(head)
    return Tracked(key=f"{ident[1]:x}-{fp[:12]}", fp=fp, fp_len=len(head), path=path, first_path=path, dev=ident[0],
                   ino=ident[1], updated=now, disk=st.st_size, size=st.st_size, done=True)
