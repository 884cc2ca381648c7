"""Deterministic event ids: from what an event says, with a number among its twins.

An id hashes `content_key` (host, second, process, PID, message), plus the number of earlier
events with that same content in the same second: two identical lines in one second stay two
events. So the same line read from ``maillog.1`` and later from ``maillog.2.gz``, or from the
journal and from ``/var/log/messages`` (ForwardToSyslog), gets the same id and is stored once.

Twins are counted within the `KEEP_SECONDS` seconds most recently seen: so ``10:00:01 A``,
``10:00:02 B``, ``10:00:01 A`` is three events, and so are the twins of two writers whose clocks
differ, or of the interleaved boots of a machine without a clock. A second is forgotten once
`KEEP_SECONDS` other seconds came since it last did: a twin after that is counted afresh, and
taken for the first. The rule looks only at the lines themselves, so where reading starts again
matters little: the daemon resumes at the first line of the oldest second still counted
(`shipper.daemon.streams`), and a parallel replay counts each block afresh and joins it to the
state before it (`joined`).

Journal entries of a host's boots that share a second (a machine without a real-time clock
starts each boot at the same time; the daemon counts each journal writer apart) would be twins
counted apart, and share ids: the daemon marks those of the boot that did not take the second
first (`shipper.sources.journal_boots`), and `IdAssigner.assign` adds their ``_BOOT_ID`` to their key.
`shipper replay` marks them as it reads (the same rule in its read order): the mark reaches
`IdAssigner.assign` as a tag of the document (`TAG_APART`), which it takes off.

The key is hashed as UTF-8. Text read from bytes that are not UTF-8 (a line; a journal entry's
MESSAGE, host or process name; the message of an Elasticsearch JSON log line; tagged
``invalid_utf8``) reaches `IdAssigner.assign` with each such byte kept as surrogateescape
does (0xE9 as U+DCE9), which the key's UTF-8 encodes as such (surrogatepass): lines that differ
only in those bytes get different ids. Once its id is given, such a document's text has them
replaced with U+FFFD, as stored and sent (`settle`).
"""

from __future__ import annotations

from binascii import unhexlify
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, Collection, Iterable

from shipper.event import TAG_INVALID_UTF8, Doc

KEEP_SECONDS = 16  # a busy log (1,000 lines a second) keeps about 1.5 MB of counts
# A journal entry's mark (`shipper.sources.journal_boots`) that its key also holds its boot: taken
# off by `IdAssigner.assign` (and `settled`), never in a document written.
TAG_APART = "id_apart"

Counts = dict[str, int]  # the first occurrence's id -> occurrences


# One second's `Counts` as they travel between processes (a worker's end state, see `IdState`):
# its ids as 16 bytes each, not 32 hex digits (every key is a `_digest`), and their counts in the
# same order, a byte each (a tuple if one is over 255). A journal second of 1,000 entries is then
# two objects of 17 KB to pickle and unpickle, not 2,000 objects in 37 KB. Plain tuples: a class
# of them cost a second of a few lines three times as much to make, pickle and unpickle.
Tally = tuple[bytes, bytes | tuple[int, ...]]


def _tally(counts: Counts) -> Tally:
    return _packed(counts), _compact(counts.values())


def _packed(counts: Counts) -> bytes:
    return unhexlify("".join(counts))  # (bytes.fromhex costs a tenth more, a third more for a few)


def _compact(counts: Collection[int]) -> bytes | tuple[int, ...]:
    try:
        return bytes(counts)
    except ValueError:  # over 255 twins in a second
        return tuple(counts)


def _unpacked(tally: Tally) -> Counts:
    digests, counts = tally
    text = digests.hex()
    return dict(zip([text[i : i + 32] for i in range(0, len(text), 32)], counts))


def _then(tally: Tally, more: Tally) -> Tally:
    """The counts of both, ``tally``'s first (no id is in both: `joined`)."""
    return tally[0] + more[0], _compact([*tally[1], *more[1]])


def _ids(digests: bytes) -> set[bytes]:
    return {digests[i : i + 16] for i in range(0, len(digests), 16)}


# What decides the next ids, as `IdAssigner.state` packs it: the current second, and the seconds
# counted with their counts, the least recently seen first.
IdState = tuple[str, dict[str, Tally]]
FRESH: IdState = ("", {})
# What a block counted afresh tells `joined` besides its end state (`IdAssigner.block`): its first
# `KEEP_SECONDS` seconds in the order they came, and the ids (packed as in a `Tally`) of those of
# them forgotten since (`KEEP_SECONDS` others came), as they stood then. The others are counted on
# to the block's end: their ids are in the end state, and are not sent twice.
Block = tuple[tuple[str, ...], dict[str, bytes]]


def _digest(text: str) -> str:
    """128-bit BLAKE2b of ``text`` as 32 hex digits (hexdigest is the cheapest text form in C)."""
    try:
        data = text.encode()
    except UnicodeEncodeError:  # undecodable bytes kept by surrogateescape (see the module)
        data = text.encode("utf-8", "surrogatepass")
    return blake2b(data, digest_size=16).hexdigest()


def raw_bytes(text: str) -> bytes:
    """The bytes ``text`` was read from: its UTF-8, with undecodable bytes kept by surrogateescape
    given back as they were (a lone surrogate of another kind is encoded as such)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def settle(doc: Doc) -> None:
    """Replace, in every text of a document tagged ``invalid_utf8``, the undecodable bytes kept for
    its id by U+FFFD, as decoding them with replacement does (the form stored and sent)."""
    if TAG_INVALID_UTF8 in doc.get("tags", ()):
        _settled(doc)


def settled(docs: list[Doc]) -> list[Doc]:
    """``docs``, each settled (`settle`) and without `TAG_APART`: for what reads documents that get
    no id (a parallel replay's warm-up, which must see them as the stages after `IdAssigner.assign` do)."""
    for doc in docs:
        if "tags" in doc:
            _unmark(doc, doc["tags"])
            settle(doc)
    return docs


def _unmark(doc: Doc, tags: list[str]) -> bool:
    """Take `TAG_APART` off the document (True: it had it)."""
    if TAG_APART not in tags:
        return False
    tags.remove(TAG_APART)
    if not tags:
        del doc["tags"]
    return True


def _settled(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return raw_bytes(value).decode("utf-8", "replace")
    elif isinstance(value, dict):  # keys too (a structured-data name), in their order
        items = [(_settled(key), _settled(item)) for key, item in value.items()]
        value.clear()
        value.update(items)
    elif isinstance(value, list):
        value[:] = [_settled(item) for item in value]
    return value


def content_key(doc: Doc, second: str) -> str:
    """What an event's id is made of: host, ``second`` (the @timestamp's first 19 characters),
    process name and PID, message (and the container, for console captures that name one),
    joined by \x1f."""
    host = doc.get("host")
    proc = doc.get("process")
    name = host.get("name", "") if host else ""
    if proc is not None:
        key = f"{name}\x1f{second}\x1f{proc.get('name', '')}\x1f{proc.get('pid', '')}\x1f{doc.get('message', '')}"
    else:
        key = f"{name}\x1f{second}\x1f\x1f\x1f{doc.get('message', '')}"
    container = doc.get("container")
    # Two containers logging the same text in the same second are two events.
    return f"{key}\x1f{container.get('name', '')}" if container else key


def derived_id(parent_id: str, part: str) -> str:
    """The id of an event derived from another (one event per failed bootstrap check)."""
    return _digest(f"{parent_id}\x1e{part}")


@dataclass
class IdAssigner:
    """Gives each event its id (see the module). One assigner per input stream keeps the counts.

    ``track``: note what `joined` needs of a block counted afresh (`block`)."""

    track: bool = False
    _second: str = ""
    _seen: Counts = field(default_factory=dict)  # the current second's counts
    _seconds: dict[str, Counts] = field(default_factory=dict)  # the seconds counted, see `IdState`
    _first: dict[str, Counts] = field(default_factory=dict)  # with `track`: the first seconds (`block`)

    def assign(self, docs: list[Doc], apart: Collection[int] = ()) -> None:
        """``apart``: the places of journal entries whose key also holds their boot (a second
        another boot of their host took: `shipper.sources.journal_boots`); so does that of a
        document tagged `TAG_APART` (the tag is taken off)."""
        seen = self._seen
        current = self._second
        for i, doc in enumerate(docs):
            event = doc.get("event")
            if event is None:
                event = doc["event"] = {}
            elif "id" in event:
                continue
            second = doc.get("@timestamp", "")[:19]
            if second != current:
                current, seen = second, self._turn(second)
            key = content_key(doc, second)
            tagged = "tags" in doc  # (undecodable bytes are tagged; so is a journal entry marked apart)
            if (apart and i in apart) or (tagged and _unmark(doc, doc["tags"])):
                key = f"{key}\x1e{(doc.get('journald') or {}).get('boot_id', '')}"
            first = _digest(key)
            n = seen.get(first)
            if n is None:
                seen[first] = 1
                event["id"] = first
            else:
                seen[first] = n + 1
                event["id"] = _digest(f"{key}\x1f{n}")
            if tagged:
                settle(doc)

    def _turn(self, second: str) -> Counts:
        """Move to ``second``: the most recently seen now; its counts."""
        seconds = self._seconds
        counts = seconds.pop(second, None)
        if counts is None:
            counts = {}
            if self.track and len(self._first) < KEEP_SECONDS:
                self._first[second] = counts
        seconds[second] = counts
        if len(seconds) > KEEP_SECONDS:
            del seconds[next(iter(seconds))]
        self._second, self._seen = second, counts
        return counts

    @property
    def current(self) -> str:
        return self._second

    def kept(self) -> Iterable[str]:
        """The seconds whose counts are kept."""
        return self._seconds.keys()

    def block(self) -> Block:
        """What `joined` needs besides the end state (with `track`, see `Block`)."""
        first, seconds = self._first, self._seconds
        return tuple(first), {s: _packed(c) for s, c in first.items() if seconds.get(s) is not c}

    def live(self) -> tuple[str, Counts, dict[str, Counts], int, dict[str, Counts] | None]:
        """For the express lanes, which assign ids as `assign` does (shipper/parallel/_express.c):
        the current second, its counts and the seconds counted (themselves, not copies),
        `KEEP_SECONDS`, and with `track` the first seconds (see `block`). They report back with
        `moved_to`."""
        return self._second, self._seen, self._seconds, KEEP_SECONDS, self._first if self.track else None

    def moved_to(self, moved: tuple[str, Counts]) -> None:
        self._second, self._seen = moved

    def state(self) -> IdState:
        """What decides the next ids, packed (`Tally`): all a worker sends of them."""
        return self._second, {s: _tally(c) for s, c in self._seconds.items()}

    def restore(self, state: IdState) -> None:
        self._second = state[0]
        self._seconds = {s: _unpacked(tally) for s, tally in state[1].items()}
        self._seen = self._seconds.get(self._second, {})


def joined(before: IdState, block: Block, after: IdState) -> IdState | None:
    """The state after a block whose ids were counted afresh (``block``, ending in ``after``), had
    they been counted from ``before``; None when some of them would have come out otherwise.

    A second counted before the block that comes in it before `KEEP_SECONDS` others pushed it out
    goes on being counted: its twins on both sides would have been counted together, so its
    ids on both sides must differ (a block cut inside a second, or twin lines across the cut).
    Every other count is the same either way. Only such seconds' ids are compared, and only
    those counted on to the block's end are merged: the rest of the states goes by reference."""
    came_in, forgotten = block
    if not came_in:
        return before
    kept = before[1]
    recent = list(reversed(kept))  # the most recently seen first
    went_on = []  # the seconds counted on from before the block
    for came, second in enumerate(came_in):
        if second not in kept:
            continue
        earlier = set(came_in[:came])  # moved above it, among the `came` seconds
        above = sum(1 for s in recent[: recent.index(second)] if s not in earlier)
        if came + above < KEEP_SECONDS:  # still counted when it came
            ids = forgotten[second] if second in forgotten else after[1][second][0]
            if not _ids(ids).isdisjoint(_ids(kept[second][0])):
                return None
            went_on.append(second)
    second, seconds = after
    if len(came_in) < KEEP_SECONDS:  # the seconds before the block not seen in it are still counted
        seen = set(came_in)
        seconds = {**{s: c for s, c in kept.items() if s not in seen}, **seconds}
        seconds = dict(list(seconds.items())[-KEEP_SECONDS:])
    else:
        seconds = dict(seconds)
    for s in went_on:
        if s not in forgotten:  # counted on to the block's end
            seconds[s] = _then(kept[s], seconds[s])
    return second, seconds
