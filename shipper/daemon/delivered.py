"""How far the output acknowledged each stream, kept beside each input's checkpoint (a batch in the
disk buffer's files counts as acknowledged: `shipper.daemon.ledger`).

A checkpoint resumes reading before what was shipped (`shipper.daemon.streams`: the lines read
again rebuild the ids' counts); the acknowledged position (``shipped`` of the `TextMark` or
`JournalMark` the output released: a text offset, a journal cursor) says which of the lines read
again are not to be shipped again. It is saved under `KEY` in the input's checkpoint file, with
the follower's state of the same acknowledgement, in one atomic write: after a crash both are
those of one moment, and only what is before the position is left out.

Only the streams the follower's state still holds are kept (`held_streams`): one it no longer holds
is never read again from a saved position (a vacuumed journal writer, a file gone or read to its
end), so its position would only make the file grow with every host that came and went, or,
worse, hold back the lines of a new file that gets the same stream id (a text file's id is its
inode and the hash of its first bytes: a new file in a reused inode may start with the same line).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from shipper.state.checkpoints import CheckpointStore

from shipper.errors import ConfigError
from shipper.sources.claimant import without
from shipper.sources.journal_header import cursor_number
from shipper.sources.live import JournalMark, TextMark

KEY = "delivered"
Position = int | str  # a text offset, a journal cursor


class Delivered:
    def __init__(self) -> None:
        self._inputs: dict[str, dict[str, Position]] = {}  # input key -> source id -> position
        self._abandoned: set[str] = set()  # source ids whose data is gone (`End` without a checkpoint)

    def load(self, key: str, saved: dict[str, Any] | None) -> None:
        """Take input ``key``'s positions out of its saved checkpoint (the rest is the follower's)."""
        positions = saved.pop(KEY, None) if saved is not None else None
        self._inputs[key] = _upgraded(key, {
            str(sid): pos for sid, pos in positions.items() if isinstance(pos, (int, str)) and not isinstance(pos, bool)
        }) if isinstance(positions, Mapping) else {}

    def of(self, key: str, sid: str) -> Position | None:
        return self._inputs[key].get(sid)

    def acknowledged(self, key: str, sid: str, checkpoint: object) -> None:
        """The output acknowledged everything of ``sid`` up to ``checkpoint``."""
        positions = self._inputs[key]
        if isinstance(checkpoint, TextMark) and checkpoint.done:
            positions.pop(sid, None)  # nothing more will be read
        elif isinstance(checkpoint, (TextMark, JournalMark)) and checkpoint.shipped is not None:
            if sid not in self._abandoned:
                positions[sid] = checkpoint.shipped

    def abandon(self, key: str, sid: str) -> None:
        """``sid`` ended without a checkpoint (its data is gone, or its journal writer's files are,
        read and acknowledged): forget it, and the acknowledgements of it still to come."""
        self._abandoned.add(sid)
        self._inputs[key].pop(sid, None)

    def started(self, sid: str) -> None:
        """A stream of ``sid`` starts again (a journal writer whose files are back): its
        acknowledgements count again."""
        self._abandoned.discard(sid)

    def saved(self, key: str, state: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint to save: the follower's ``state`` and the positions of the streams it holds
        (the others are forgotten here too)."""
        streams = held_streams(key, state)
        positions = self._inputs[key]
        for sid in [sid for sid in positions if sid not in streams]:
            del positions[sid]
        return {**state, KEY: dict(positions)}


def held_streams(key: str, state: dict[str, Any]) -> set[str]:
    """The source ids of the streams a follower's ``state`` holds a position of: a file input's
    contents (``files``, `shipper.sources.tail`: ``<key>/<file key>``), a journal input's writers
    (``writers``, `shipper.sources.follow`: ``<key>/<seqnum_id>``)."""
    files = state.get("files")
    writers = state.get("writers")
    names = [f.get("key") for f in files if isinstance(f, Mapping)] if isinstance(files, list) else []
    names += list(writers) if isinstance(writers, Mapping) else []
    return {f"{key}/{name}" for name in names if isinstance(name, str)}


_WHERE = ("key", "path", "dev", "ino", "done", "copies")  # what `held_files` compares of a file entry


def held_files(state: Mapping[str, Any]) -> object:
    """Where a file input's ``state`` (`shipper.sources.tail`) says its content is: each stream's
    file, copies, whether read to its end, and the files it finished; not how far it was read (what
    changes with what the output acknowledges): `shipper.daemon.session.Session._moved`."""
    files = state.get("files")
    entries = [{k: f.get(k) for k in _WHERE} for f in files if isinstance(f, Mapping)] if isinstance(files, list) else []
    return entries, state.get("finished")


def left_out(exc: ConfigError, log: Callable[[str], None]) -> None:
    """Say that the checkpoint of an input no longer configured cannot be read (`exc`, from
    `CheckpointStore.load`), when the files of the removed inputs are handed over at a start: the
    files it held are not, and an input that matches one reads it as a file never seen."""
    log(f"shipper: {exc.message}; it is the checkpoint of an input no longer in the configuration, so the files it "
        "held are not handed over: an input whose patterns match one of them reads it from its start, and the lines "
        "it shipped before are shipped again (Elasticsearch stores them once, by id; a file output holds them twice). "
        "Fix it, or move it away to let the other inputs read those files afresh and silence this")


def _upgraded(key: str, positions: dict[str, Position]) -> dict[str, Position]:
    """Positions saved by an earlier version, under the current source ids. Before the journal
    was read per writer, a journal input's one stream was the input ``key`` itself; its position
    (the last cursor shipped, of whichever writer) is now that of the cursor's writer, whose
    stream resumes at or before it (`shipper.sources.follow.positions` reads the old checkpoint)."""
    old = positions.pop(key, None)
    if isinstance(old, str) and (number := cursor_number(old)) is not None:
        positions.setdefault(f"{key}/{number[0]}", old)
    return positions


def drop_taken(store: CheckpointStore, key: str, taken: set[tuple[int, int]], log: Callable[[str], None]) -> None:
    """Rewrite the checkpoint ``key`` of an input no longer configured without the files ``taken``
    (removed when nothing else is left in it: `shipper.daemon.session.Session._hand_over`)."""
    try:
        state = store.load(key)
    except ConfigError as exc:  # (damaged, or unreadable, since the start: damaged then, it handed nothing over)
        files = "file" if len(taken) == 1 else f"{len(taken)} files"
        log(f"shipper: {exc.message}; it is the checkpoint of an input no longer in the configuration, and the "
            f"{files} of it that other inputs now read could not be dropped from it: move it away, or that input, if "
            "added back, takes them back from where it left them and ships again what the other inputs shipped since")
        return
    rest = without(state, taken) if state is not None else None
    path = store.path(key)
    if rest is None:
        store.remove(key)
    else:
        positions = Delivered()
        positions.load(key, rest)
        store.save(key, positions.saved(key, rest))
    log(f"shipper: {path} is the checkpoint of an input no longer in the configuration; the files of it "
        "that other inputs now read are dropped from it" + (" (nothing else was in it: removed)" if rest is None
        else "") + ": that input, if added back, does not read them again")
