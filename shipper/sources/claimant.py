"""One file input's side of the claims (`shipper.sources.claims`): which of the files its patterns
match are its own, what it says of those another input reads, where a file of its own is now
when its patterns no longer match it (`relocate`), and, at its first scan, from where it reads a
file other checkpoints hold too (`Claims.rivals`)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any, Callable, Iterable, Mapping

from shipper.errors import ConfigError, InputError
from shipper.sources.claims import ARCHIVE_SETTLE, COPY, FIRST, OUTSIDE, Claims, Held, Ident, Refusal
from shipper.sources.fileid import Head, fingerprint, head_matches, read_head
from shipper.sources.leftover import Left, furthest
from shipper.sources.rotation import LIVE, parse_name
from shipper.sources.tailfile import _IDENTS, Tracked, _is_count, _is_fp, _is_fp_len, open_path

Found = dict[Ident, tuple[str, os.stat_result]]  # the files an input's patterns match: path and stat


class Claimant:
    """One input's side (`shipper.sources.tail.FileFollower`): which files it found are its own."""

    def __init__(self, claims: Claims, key: str, label: str, where: str, counters: Counter[str],
                 warn: Callable[[str, str], None], read_on: Callable[[Tracked, Left], None]) -> None:
        """``label`` names the input to the others, ``where`` starts its own messages; ``warn``
        says a message once per key; ``counters`` counts the files skipped; ``read_on`` reads a
        stream on as another checkpoint left it (`FileFollower._read_on`: a rival's, `settle`)."""
        self._claims, self._key, self._label, self._where = claims, key, label, where
        self._counters, self._warn, self._take = counters, warn, read_on
        self._refused: set[Ident] = set()  # files another input reads (at the last scan)

    def keep_out(self, found: Found, now: float, lost: bool = False) -> list[Tracked]:
        """Leave out of ``found`` the files another input reads (said once each), and add the
        copies of this input's content that only other inputs match (`Claims.copies`: where it
        reads the rest of content its own file lost); returns the files another input read to its
        end, as content to track as done (never read here). ``lost``: a file of the input lost its
        content (copytruncate): the other inputs' new files are looked at now for a copy of it."""
        self._claims.matched(self._key, found, now)
        self._copies(found, now)
        if lost:
            for ident, path in self._claims.unknown_elsewhere(self._key).items():
                self._copy(ident, path)
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
        for ident, path in self._claims.copies(self._key).items():
            now_st = _stat(path)
            if now_st is not None and (now_st.st_dev, now_st.st_ino) == ident:
                found[ident] = (path, now_st)
        return done

    def relocate(self, streams: Iterable[Tracked]) -> None:
        """Content not read to its end whose file the input's patterns no longer match (renamed, a
        link removed) but another input's do: it is still this input's (`Claims.locate`), read on
        under that name (`Tracked.elsewhere`; also after a restart, when it is not open); said once a name."""
        for t in streams:
            t.elsewhere = None
            if t.present or t.ident is None or t.done or t.ended or t.archive is not None:
                continue
            where = self._claims.locate(self._key, t.ident)
            if where is None:
                t.path = open_path(t) or t.path  # (renamed where no input looks: read on through its descriptor)
                continue
            path, other = where
            if path != t.path:
                rest = ("this input reads it there to its end, as a rotated file, and the input {} then takes it as read"
                        if rotated_name(path) else "this input goes on reading it there, and the input {} skips it")
                self._warn(f"moved:{t.key}:{path}", f"shipper: {self._where}: {t.path} is now {path} (renamed, or the "
                           "link this input read it through removed), which this input's patterns do not match; "
                           + rest.format(other))
            t.path, t.elsewhere = path, other

    def settle(self, streams: Iterable[Tracked]) -> None:
        """A file this input's checkpoint and others' hold (`Claims.rivals`): read on here from the
        furthest the output acknowledged, when this input has it, or dropped from this input's
        streams (taken as read: forgotten at once, its checkpoint rewritten without it) when the
        first input to hold it reads it on. At the start of each scan, before the files are
        matched: a file that lost its content while shipper was stopped (truncated) is then still
        known by its inode, and is reported once, from the furthest any checkpoint shipped."""
        for t in streams:
            if t.ident is None:
                continue
            if self._claims.dropped(self._key, t.ident):
                t.done, t.elsewhere, t.copies = True, None, []
                continue
            rivals = [r for r in self._claims.rivals(self._key, t.ident) if self._same(t, r)]
            if rivals:
                self._claims.outran(t.ident, rivals)
                self._read_on(t, rivals)

    def catch_up(self, t: Tracked, ident: Ident, head: Head) -> None:
        """A file found holding content of this input's ``t`` (an archive of it, ``head`` its first
        bytes) that an input no longer configured held too (its checkpoint: `Claims.left`; one that
        took it over from this input and read it further, and was removed in turn): ``t`` is read
        on from the furthest of the two, as a file of `rivals` is; that checkpoint drops it."""
        left = self.left(ident, head)
        if left is not None:
            self._read_on(t, [left])

    def _read_on(self, t: Tracked, rivals: list[Left]) -> None:
        """Read ``t`` on from the furthest of its own position and its ``rivals``' (same content: as
        that checkpoint left it, `FileFollower._read_on`); say so."""
        best = furthest(rivals)
        assert best is not None
        mine = max(t.committed, t.shipped)
        if (best.done, best.offset) > (t.done, mine):
            self._take(t, best)
            mine = best.offset
        names = " and ".join(self._claims.name(r.key) for r in rivals)
        how = "takes it as read" if t.done else f"reads it on from byte {mine:,}"
        drop = "that checkpoint drops it" if len(rivals) == 1 else "those checkpoints drop it"
        self._warn(f"rivals:{t.key}", f"shipper: {self._where}: {t.path} is in the checkpoint of {names} too (shipper "
                   f"was killed while a file was handed from one input to another?); this input {how} (the furthest "
                   f"the output acknowledged, of all those checkpoints) and {drop}: its lines are shipped once")

    def _same(self, t: Tracked, rival: Left) -> bool:
        """Whether ``rival`` holds the content of ``t``: by their fingerprints, or, when they cover
        different lengths (one saved while the file was shorter), by the file's first bytes. A file
        that holds neither any more (truncated, or removed, while shipper was stopped) cannot tell
        them apart: the same (one inode in two checkpoints is what a kill -9 in a hand-over leaves),
        so that what it lost is reported once, after the furthest any of them shipped."""
        if t.fp_len == rival.fp_len:
            return t.fp == rival.fp
        elsewhere = self._claims.locate(self._key, t.ident) if t.ident is not None and not t.present else None
        head = self._head(elsewhere[0] if elsewhere is not None else t.path)
        mine, theirs = (head is not None and head_matches(head, fp, n) for fp, n in ((t.fp, t.fp_len),
                                                                                      (rival.fp, rival.fp_len)))
        return mine == theirs

    def hold(self, streams: Iterable[Tracked]) -> None:
        """The files the input's content streams are in (plain file and copies), after each change."""
        self._claims.hold(self._key, _held(streams))

    def restore(self, streams: Iterable[Tracked], finished: object) -> None:
        """What the input's checkpoint holds, before any input's first scan: its content streams,
        and ``finished`` (`finished_json`, as saved) the files it read to their end and let go of."""
        streams = list(streams)
        at = {t.ident: _left(t, self._key) for t in streams if t.ident is not None}
        self._claims.restore(self._key, _held(streams), finished_of(finished, self._where), at)

    def leave(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """The checkpoints of file inputs no longer configured (their saved states, by key), after
        every input's `restore`: their files are read on from where the output had acknowledged them
        by the input that takes them, not from their start (`Claims.leave`; `left`)."""
        files: dict[Ident, list[Left]] = {}
        for key, state in states.items():
            streams, finished = _streams_of(state.get("files")), _finished(state.get("finished"))
            for t in streams:
                content = _left(t, key)
                for ident in _idents(t):
                    files.setdefault(ident, []).append(content)
            for ident, held in finished.items():
                files.setdefault(ident, []).append(Left(held.fp, held.fp_len, 0, True, key))
            damaged = _count(state.get("files")) - len(streams) + _count(state.get("finished")) - len(finished)
            if damaged:
                self._warn(f"damaged:{key}", f"shipper: the checkpoint {key} (of an input no longer in the "
                           f"configuration: checkpoints/{key}.json in the state directory) is damaged: {damaged} of its "
                           "file entries lack a field or hold a wrong value (edited by hand?), and the files they name "
                           "are not handed over: an input whose patterns match one of them reads it from its start, "
                           "and the lines shipped before are shipped again. Fix it, or move it away to silence this")
        self._claims.leave(files)

    def handed_over(self) -> dict[str, set[Ident]]:
        """The files of inputs no longer configured that configured inputs took (`Claims.handed_over`)."""
        return self._claims.handed_over()

    def left(self, ident: Ident, head: Head) -> Left | None:
        """Where a file this input found for the first time (``head``: its first bytes) was left by
        an input no longer configured (`Claims.left`: also an archive of a file it held)."""
        return self._claims.left(ident, head.data, head.compressed)

    def finished_json(self) -> list[list[object]]:
        """The files the input read to their end and let go of, for its checkpoint (`restore`)."""
        return [[dev, ino, held.fp, held.fp_len] for (dev, ino), held in self._claims.finished_by(self._key).items()]

    def _copies(self, found: Found, now: float) -> None:
        """Files in ``found`` that no input claimed yet: a copy of content an input reads or read
        (an archive, or copytruncate's copy) is that input's (`Claims.copy_of`); an archive of no
        known content modified in the last `ARCHIVE_SETTLE` seconds is left out until it settles
        (it may still be being written: its first bytes too)."""
        for ident, (path, st) in list(found.items()):
            if self._claims.known(ident):
                continue
            compressed = self._copy(ident, path)
            if compressed and now - st.st_mtime < ARCHIVE_SETTLE:
                del found[ident]

    def _copy(self, ident: Ident, path: str) -> bool:
        """Claim the file for the input whose content it copies (`Claims.copy_of`); True when it
        is an archive of no known content."""
        try:
            head = read_head(path)
        except InputError:
            return False
        return not self._claims.copy_of(self._key, ident, head.data, path, head.compressed) and head.compressed

    @staticmethod
    def _head(path: str) -> bytes | None:
        try:
            return read_head(path).data
        except InputError:
            return None

    def _say(self, path: str, refusal: Refusal) -> None:
        if refusal.owner == self._label:
            return  # (a file this input read to its end, found again under a name it matches)
        skips = "this input skips it, so that its lines are not shipped twice"
        if refusal.how == COPY:
            self._warn(f"copy:{path}", f"shipper: {self._where}: {path} holds the content of a file the input "
                       f"{refusal.owner} reads or read (a copy or an archive of it, made by rotation); this input "
                       "takes it as read and does not read it")
        elif refusal.finished:
            self._warn(f"finished:{path}", f"shipper: {self._where}: {path} was read to its end by the input "
                       f"{refusal.owner}, which matched it before; this input does not read it again")
        elif refusal.how == OUTSIDE:
            self._warn(f"outside:{path}", f"shipper: {self._where}: {path} is read by the input {refusal.owner}, "
                       "which started reading it under a name its patterns match (before a rename, or through a link "
                       f"since removed) and goes on reading it here; {skips}")
        else:
            why = (" (the first input in the configuration that matched it)" if refusal.how == FIRST else
                   ", which was reading it first (a file stays with the input that started reading it, also across "
                   "restarts and configuration changes)")
            self._warn(f"claimed:{path}", f"shipper: {self._where}: {path} is read by the input {refusal.owner}{why}; "
                       f"{skips} (add it to this input's exclude: to silence this)")


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _left(t: Tracked, key: str) -> Left:
    """A content stream of checkpoint ``key``, for the input that reads its file on (`Left`)."""
    return Left(t.fp, t.fp_len, max(t.committed, t.shipped), t.done, key, t.committed, t.key)


def finished_of(finished: object, label: str) -> dict[Ident, Held]:
    """The files a configured input's checkpoint (of the input reading ``label``) says it read to
    their end and let go of (`finished_json`). A `ConfigError` when an entry is damaged, as for a
    damaged file entry (`shipper.sources.tail`): that file would be claimed afresh, and read again
    from its start by an input whose patterns match it (`Session.check_checkpoints` asks at a reload)."""
    let_go = _finished(finished)
    if len(let_go) != _count(finished):
        raise ConfigError(f"the checkpoint of the input reading {label} is damaged (an entry of the files it read to "
                          "their end, \"finished\", is not [dev, ino, fingerprint, length]: edited by hand?)",
                          hint="move that input's file in STATE_DIR/checkpoints/ away to start it afresh: the events it "
                               "already shipped are recognised by id and not stored twice (or remove that entry: "
                               "an input whose patterns match that file then reads it again from its start)")
    return let_go


def _finished(finished: object) -> dict[Ident, Held]:
    """The undamaged entries of a checkpoint's ``finished`` (`finished_json`; None: there is none)."""
    return dict(held for entry in finished if (held := _finished_entry(entry)) is not None) \
        if isinstance(finished, list) else {}


def _finished_entry(entry: object) -> tuple[Ident, Held] | None:
    """One entry of a checkpoint's ``finished``; None when it is not one (a hand edit)."""
    if not isinstance(entry, list) or len(entry) != 4:
        return None
    dev, ino, fp, fp_len = entry
    if not (_is_count(dev, _IDENTS) and _is_count(ino, _IDENTS) and _is_fp(fp) and _is_fp_len(fp_len)):
        return None
    return (dev, ino), Held(fp, fp_len, True)


def _count(entries: object) -> int:
    """How many entries a checkpoint's list holds (``files``, ``finished``): 1 for a value that is no list."""
    return len(entries) if isinstance(entries, list) else int(entries is not None)


def _streams_of(files: object) -> list[Tracked]:
    """The content streams of a checkpoint's ``files`` (those a hand edit spoiled left out)."""
    streams: list[Tracked] = []
    for entry in files if isinstance(files, list) else []:
        try:
            streams.append(Tracked.from_json(entry))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return streams


def without(state: Mapping[str, Any], taken: set[Ident]) -> dict[str, Any] | None:
    """The saved state of an input no longer configured without the files other inputs took
    (`Claimant.handed_over`): its content streams in any of them, and those it finished. None when
    it holds nothing else: the input, added back, starts afresh."""
    files = [f for f in state.get("files") or [] if not _in(f, taken)]
    finished = [f for f in state.get("finished") or [] if (held := _finished_entry(f)) is None or held[0] not in taken]
    if not files and not finished:
        return None
    return {**{k: v for k, v in state.items() if k != "finished"}, "files": files,
            **({"finished": finished} if finished else {})}


def _in(entry: object, taken: set[Ident]) -> bool:
    """Whether a saved content stream is in one of the files ``taken`` (a spoiled one: kept as it is)."""
    streams = _streams_of([entry])
    return bool(streams) and not set(_idents(streams[0])).isdisjoint(taken)


def _idents(t: Tracked) -> list[Ident]:
    """The files a content stream is in: its plain file and its copies."""
    return ([t.ident] if t.ident is not None else []) + [(c[0], c[1]) for c in t.copies]


def _held(streams: Iterable[Tracked]) -> dict[Ident, Held]:
    """The files content streams are in (plain file and copies), and what each holds."""
    held: dict[Ident, Held] = {}
    for t in streams:
        content = Held(t.fp, t.fp_len, t.done or t.ended)  # (ended: read to its end, acknowledged soon)
        for ident in _idents(t):
            held[ident] = content
    return held


def _done(ident: Ident, path: str, st: os.stat_result, head: bytes, now: float) -> Tracked:
    """The content of a file another input read to its end, as this input tracks it: read."""
    fp = fingerprint(head)
    return Tracked(key=f"{ident[1]:x}-{fp[:12]}", fp=fp, fp_len=len(head), path=path, first_path=path, dev=ident[0],
                   ino=ident[1], updated=now, disk=st.st_size, size=st.st_size, done=True)


def rotated_name(path: str) -> bool:
    """Whether a file's name is a rotated file's (``maillog.1``, ``maillog-20170830``), not a live one's."""
    return parse_name(os.path.basename(path)).kind != LIVE
