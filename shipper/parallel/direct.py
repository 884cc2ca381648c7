"""Workers that send their own bulk requests: the items of a replay into Elasticsearch without
passing through the main process.

Without this, a worker pickles each result's items (about 5 MB per 1 MB of lines), the main
process unpickles them, fills in the recognised documents it linked, and its Elasticsearch sink
sends them: the handoff cost about a fifth of a replay's CPU. With one Elasticsearch output, each
worker opens a sink of its own (`DirectWriter`) and the main process receives only what it needs:
the recognised documents, which it links, encodes and sends with its own sink, and the states
and counts.

A worker may not send a block's items as soon as it has them: the main process checks the state
each block started from, and does the block again itself where that state was wrong (see
`shipper.parallel`). So the worker holds each result's items until a `Commit` says whether the
result was taken (send them) or done again (drop them). Commits travel on the jobs' pipe, in
order, so a worker holds at most the results of its `DEPTH` jobs.

When every job is done, a `Finish` makes the worker flush its sink (every item settled: in
Elasticsearch or in the dead letter), and its last reply is the sink's counters, which the main
process adds to its own sink's in the summary. An input that ends without it (Ctrl-C, an error in
the main process) ends the worker at once. An error of the sink (Elasticsearch refused the
credentials, gave up after `give_up_after`) ends the worker's replies with that error, which the
main process raises as its own: the same message and exit status as without workers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.env import Env
from shipper.event import Batch

if TYPE_CHECKING:
    from shipper.parallel.work import Done


@dataclass(frozen=True)
class Direct:
    """The Elasticsearch output each worker writes to itself (picklable: a spawned worker gets it
    through its pipe)."""

    cfg: ElasticsearchOutput
    state_dir: Path
    name: str  # the main process's sink's name: the key of its items in a `Part`
    environ: dict[str, str] = field(repr=False)  # for credentials given in the environment


@dataclass(frozen=True, slots=True)
class Commit:
    """The main process took job ``number``'s result (``taken``), or did the job again itself."""

    number: int
    taken: bool


@dataclass(frozen=True, slots=True)
class Finish:
    """Every job is done: send what is held and settle it all, then reply `Finished`. (An input
    that ends without it is a replay stopped early: the worker ends without waiting.)"""


@dataclass(frozen=True, slots=True)
class Finished:
    """A worker's last reply: its sink's counters."""

    counters: Counter[str]


class DirectWriter:
    """A worker's own Elasticsearch sink and the items it holds until their commits."""

    def __init__(self, direct: Direct) -> None:
        from shipper.sinks.elasticsearch import ElasticsearchSink  # noqa: PLC0415 - loaded before the fork

        self._name = direct.name
        self._sink = ElasticsearchSink(direct.cfg, direct.state_dir, Env(environ=direct.environ), check_setup=False)
        self._opened = False  # (at the first commit: the worker starts its first jobs meanwhile)
        self._held: dict[int, list[list[Any]]] = {}

    def _open(self) -> None:
        if not self._opened:
            self._sink.open(lambda seq: None)  # settled items need no acknowledgement: flush waits for all
            self._opened = True

    def hold(self, done: Done) -> Done:
        """Keep the items of ``done`` to send at its commit; what goes to the main process keeps,
        per part, only the places of the recognised documents it will link (renumbered)."""
        self._held[done.number] = [part.split()[self._name] for part in done.parts]
        return done

    def commit(self, commit: Commit) -> None:
        lists = self._held.pop(commit.number)
        self._open()
        if commit.taken:
            for items in lists:
                if items:
                    self._sink.write(Batch([], seq=commit.number, encoded={self._name: items}))

    def finish(self) -> Finished:
        """Send what is left and wait until every item is settled."""
        self._open()
        self._sink.flush()
        return Finished(Counter(self._sink.counters))

    def close(self) -> None:
        self._sink.close()
