"""Linking's state across a restart and a reload (`shipper.state.linkstate`).

Recognition (`Nearby`'s facts, the contexts open on a stream) runs when a batch is handed on,
linking (`Incidents`) once no input can give an earlier event (`shipper.enrich.order`): in
between, the facts know of documents linking has not seen. So the state is taken when they
agree: nothing waits to be linked (`Order` empty) and every stream's documents recognised so far
end at the checkpoint of its last batch handed on (its *fence*; documents read again, which have
none, hold taking it back until the stream's next batch). A state taken so waits until the output
acknowledged every fence, and is saved with the checkpoints: these first (`Session._commit`), held
back so that reading resumes at or before the fence of the state on disk and of the one written
after them (a crash in between leaves a state whose fences reading still reaches).

At a start the state saved is restored; of the documents read again (before what the output
acknowledged: `shipper.daemon.streams`), those at or before their stream's fence are in it
already and are neither recognised nor linked again (a cause counted twice), the others are. A
file an input no longer configured read, taken by another input, takes its fence along
(`Linking.handed`), as it takes its checkpoint.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

from shipper.enrich.base import Enricher
from shipper.enrich.incidents import Incidents
from shipper.enrich.recognise import Recognise
from shipper.event import Doc
from shipper.sources.journal_header import cursor_number
from shipper.sources.live import JournalMark, TextMark
from shipper.state.linkstate import LinkStore, Mark, fingerprint, state_body

TAKE_EVERY = 0.5  # seconds between two states taken (they are written at most once a second)
TAKE_SHARE = 20  # and at least this many times what taking the last one cost (many open incidents)
LAG_MAX = 60.0  # seconds a state may not be taken for before the saved one is given up (`_behind`)
WAITING = 8  # states kept until acknowledged: the oldest ones and the newest


class Linking:
    def __init__(self, state_dir: Path, enrichers: list[Enricher], log: Callable[[str], None]) -> None:
        recognise, incidents = enrichers  # (`shipper.enrich.chain.default_enrichers`)
        assert isinstance(recognise, Recognise) and isinstance(incidents, Incidents)
        self._store = LinkStore(state_dir)
        self._rules = fingerprint(recognise.rules, incidents.window)
        self._recognise, self._incidents, self._log = recognise, incidents, log
        self._fences: dict[str, Mark] = {}  # restored: what is read again up to them is in the state
        self._marks: dict[str, Mark] = {}  # source id -> the checkpoint of its last batch recognised
        self._unmarked: set[str] = set()  # sources with documents recognised after their mark
        self._changed = False  # documents recognised since the last state taken
        self._taken_at = -math.inf
        self._take_every = TAKE_EVERY
        self._caught_up_at = time.monotonic()  # when a state was last taken (or this session began)
        self._stale = False  # no state could be taken for LAG_MAX: none is on disk, nothing is held back
        self._waiting: list[tuple[dict[str, Mark], bytes]] = []  # states taken, not saved yet
        self._acked: dict[str, object] = {}  # source id -> the last checkpoint the output released
        self._disk: dict[str, Mark] = {}  # the fences of the state on disk
        self._body: bytes | None = None  # and its linking part (`state_body`)
        self._committed: dict[str, object] = {}  # source id -> what was last given to commit
        self._picked: tuple[dict[str, Mark], bytes] | None = None  # to write after the checkpoints

    def restore(self) -> None:
        """Go on from the saved state, if there is one for these signatures and window (else say why not)."""
        saved, why = self._store.load(self._rules)
        contexts = None
        if saved is not None:
            try:
                contexts = self._recognise.contexts_from(saved.contexts)
                self._incidents.restore(saved.incidents)
            except (KeyError, TypeError, ValueError, IndexError):
                saved, why = None, "is damaged"
        if saved is None or contexts is None:
            if why is not None:
                self._log(f"shipper: {self._store.path} (linking's state) {why}: not used; a failure in the next "
                          f"{self._incidents.window:g} s of the logs may miss a cause logged before this start (its "
                          "hint says \"no recognised error\"; `shipper relink` over that span links it again); the "
                          "file is written anew with the next checkpoints")
            return
        self._recognise.restore((*contexts, saved.facts))
        self._fences, self._marks, self._disk = dict(saved.fences), dict(saved.fences), dict(saved.fences)
        self._body = saved.body

    def unseen(self, sid: str, docs: list[Doc]) -> list[Doc]:
        """Of documents read again, those to recognise and link: after the restored state's fence
        (the others are in it already)."""
        fence = self._fences.get(sid)
        out = docs if fence is None else [doc for doc in docs if not _within(doc, fence)]
        if out:
            self._unmarked.add(sid)
            self._changed = True
        return out

    def handed(self, old: str, new: str) -> None:
        """The file of stream ``old`` (an input no longer configured read it) is read on as ``new``
        by the input that took it (`shipper.sources.claims`): as its checkpoint, its fence follows
        it, so that what ``new`` reads again up to the fence is not linked twice. ``old``'s stays
        (a crash before that input's checkpoint drops the file hands it over again; `pick` drops
        it once that checkpoint is gone), and the state on disk is written again with both now:
        before the checkpoint that holds ``new`` is saved."""
        for fences in (self._fences, self._marks, self._disk, *(fences for fences, _ in self._waiting)):
            if old in fences and new not in fences:
                fences[new] = fences[old]
        if new in self._disk and self._body is not None:
            self._store.save(self._rules, self._disk, self._body)

    def recognised(self, sid: str, checkpoint: object | None, docs: bool) -> None:
        """A batch of ``sid`` was recognised (``docs``: it had documents) and registered."""
        if isinstance(checkpoint, (TextMark, JournalMark)):
            self._marks[sid] = checkpoint
            self._unmarked.discard(sid)
        elif docs:
            self._unmarked.add(sid)
        self._changed = True

    def gone(self, sid: str) -> None:
        """``sid``'s data is gone (never read again): its fence does not matter any more."""
        self._marks.pop(sid, None)
        self._committed.pop(sid, None)
        self._unmarked.discard(sid)
        for fences, _ in self._waiting:
            fences.pop(sid, None)

    def moment(self, mono: float, linked: bool, force: bool = False) -> None:
        """Take the state now if everything recognised is ``linked`` and something changed (taking
        it costs in proportion to the open incidents: with many, it is taken less often)."""
        if not self._changed:
            return
        if not linked or self._unmarked:
            self._behind(mono)
            return
        if not (force or mono - self._taken_at >= self._take_every):
            return
        started = time.monotonic()
        body = state_body(self._incidents.state(), self._recognise.nearby.facts(), self._recognise.contexts_json())
        if len(self._waiting) >= WAITING:
            del self._waiting[-1]
        self._waiting.append((dict(self._marks), body))
        self._changed, self._taken_at, self._caught_up_at = False, mono, mono
        self._take_every = max(TAKE_EVERY, TAKE_SHARE * (time.monotonic() - started))

    def _behind(self, mono: float) -> None:
        """No state could be taken for `LAG_MAX` (failures or causes on several inputs without a
        pause: one always waits for another's): the state on disk is given up (removed), so that
        the checkpoints, held back to it, move on (a restart would read all since it again); a
        restart until the next state is saved links without one."""
        if self._stale or mono - self._caught_up_at < LAG_MAX:
            return
        self._stale = True
        self._disk, self._body, self._waiting = {}, None, []
        self._store.remove()
        self._log(f"shipper: linking's state could not be saved for {LAG_MAX:g} s (failures or causes come on several "
                  f"inputs without a pause): {self._store.path} is removed until it can be; a restart meanwhile "
                  "links without it (a failure may miss a cause logged before the restart: `shipper relink` over "
                  "that span links it again)")

    def released(self, sid: str, checkpoint: object) -> object | None:
        """The output acknowledged ``sid`` up to ``checkpoint``: what to commit, held back to the
        fence on disk; None while no state on disk holds the stream (a new file, a first start):
        where its reading resumes stays until one does (`pick`), or a crash would resume after
        lines no state saved has linked."""
        self._acked[sid] = checkpoint
        disk = self._disk.get(sid)
        if disk is None and not self._stale and not (isinstance(checkpoint, TextMark) and checkpoint.done):
            return None
        held = self._committed[sid] = _held(checkpoint, disk)
        return held

    def pick(self, kept: Callable[[str], bool]) -> list[tuple[str, object]]:
        """Before the checkpoints are saved: pick the newest state acknowledged (its fences only of
        the streams ``kept`` holds: those the inputs hold, and those of a removed input whose
        checkpoint is still there, which an input added back reads again) for `save`; the
        checkpoints to commit again, held back to its fences too."""
        ready = self._acknowledged()
        if not ready:
            return []
        self._picked = self._waiting[ready[-1]]
        fences = self._picked[0]
        del self._waiting[:ready[-1] + 1]
        for sid in [sid for sid in fences if not kept(sid)]:
            del fences[sid]
        again = []
        for sid, fence in fences.items():
            acked = self._acked.get(sid)
            if acked is not None and (held := _held(_held(acked, fence), self._disk.get(sid))) != self._committed.get(sid):
                again.append((sid, held))
                self._committed[sid] = held
        return again

    def ready(self) -> bool:
        """Whether a state taken is acknowledged, to be saved (with the checkpoints)."""
        return bool(self._waiting) and self._covered_all(self._waiting[0][0])

    def _acknowledged(self) -> list[int]:
        return [n for n, (fences, _) in enumerate(self._waiting) if self._covered_all(fences)]

    def _covered_all(self, fences: dict[str, Mark]) -> bool:
        return all(self._covered(sid, fence) for sid, fence in fences.items())

    def save(self) -> None:
        """After the checkpoints: write the state `pick` picked."""
        if self._picked is not None:
            fences, body = self._picked
            self._store.save(self._rules, fences, body)
            self._disk, self._body, self._picked, self._stale = fences, body, None, False

    def _covered(self, sid: str, fence: Mark) -> bool:
        """Whether the output acknowledged ``sid`` up to ``fence``."""
        if self._fences.get(sid) is fence:
            return True
        acked = self._acked.get(sid)
        if isinstance(fence, TextMark):
            return isinstance(acked, TextMark) and (acked.done or acked.shipped >= fence.shipped)
        if fence.shipped is None:
            return True
        return isinstance(acked, JournalMark) and acked.shipped is not None and _order(acked.shipped) >= _order(fence.shipped)


def _held(checkpoint: object, fence: Mark | None) -> object:
    """``checkpoint`` resuming no later than ``fence`` resumes."""
    if isinstance(checkpoint, TextMark) and isinstance(fence, TextMark) and not checkpoint.done:
        return TextMark(min(checkpoint.resume, fence.resume), checkpoint.shipped)
    if isinstance(checkpoint, JournalMark) and isinstance(fence, JournalMark):
        if fence.cursor is None or (checkpoint.cursor is not None and _order(fence.cursor) < _order(checkpoint.cursor)):
            return JournalMark(fence.cursor, fence.time, checkpoint.shipped)
    return checkpoint


def _order(cursor: str) -> tuple[str, int]:
    return cursor_number(cursor) or ("", -1)


def _within(doc: Doc, fence: Mark) -> bool:
    """Whether ``doc`` is at or before ``fence`` (it was linked before the state was taken)."""
    if isinstance(fence, TextMark):
        offset = (doc.get("log") or {}).get("offset")
        return isinstance(offset, int) and offset < fence.shipped
    journald = doc.get("journald") or {}
    number = cursor_number(journald.get("cursor") or "")
    last = cursor_number(fence.shipped or "")
    return number is not None and last is not None and number[0] == last[0] and number[1] <= last[1]
