"""From a configuration to what the daemon runs: its followers and how to make its sink.

Everything here is checked before anything is started, so that a configuration reloaded with
SIGHUP can be refused (the daemon keeps running on the old one) without having touched anything.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from shipper.config.model import Config, FileInput, InputConfig, JournalInput
from shipper.daemon.metrics import check_metrics
from shipper.env import Env
from shipper.errors import ConfigError
from shipper.parse.base import ParseContext
from shipper.sinks.base import Encode, Sink
from shipper.sources.claims import Claims
from shipper.sources.follow import JournalFollower
from shipper.sources.journal_entries import journal_module
from shipper.sources.live import Follower, Log
from shipper.sources.tail import FileFollower
from shipper.sources.tailmatch import excluded
from shipper.state.checkpoints import input_key
from shipper.timeargs import local_zone_name, zone

FOLLOWED = ("auto", "syslog", "elasticsearch")
_MAGIC = re.compile(r"[*?[]")  # what makes a path a glob pattern (`glob.glob`)


@dataclass
class Plan:
    cfg: Config
    followers: list[Follower]
    make_sink: Callable[[], Sink]
    ctx: ParseContext
    sink_name: str  # the output's sink, and how it encodes documents (the loop encodes them
    encode: Encode  # before they are queued: items take less memory and spill to disk as they are)


def make_plan(cfg: Config, env: Env, log: Log, sink_env: Env) -> Plan:
    """`ConfigError` (or another `ShipperError`) when the configuration cannot run."""
    check_metrics(cfg)
    tz = cfg.parse.timezone or local_zone_name(env.environ)
    zone(tz)
    ctx = ParseContext(timezone=tz, year=cfg.parse.year, max_line_bytes=int(cfg.parse.max_line_bytes))
    make_sink = sink_factory(cfg, sink_env)
    sink = make_sink()  # builds (without connecting) now: a bad output setting fails here
    followers = make_followers(cfg, log, ctx.max_line_bytes, own=sink.files())
    return Plan(cfg, followers, make_sink, ctx, sink.name, sink.encoder())


def make_followers(cfg: Config, log: Log, max_line_bytes: int, own: Sequence[Path] = ()) -> list[Follower]:
    """``own``: the output's files, which file inputs never read (`FileFollower`). Every input is
    checked before systemd-python is looked for (when one reads the journal): without it, the error
    says so of a configuration whose inputs are all valid."""
    inputs = cfg.inputs or [JournalInput(type="journal")]
    followers: list[Follower] = []
    seen: dict[str, int] = {}
    claims = Claims()  # which file input reads a file several match (`shipper.sources.claims`)
    for i, spec in enumerate(inputs):
        follower: Follower
        if isinstance(spec, JournalInput):
            key = input_key("journal", spec.name, str(spec.path) if spec.path else "local")
        else:
            _check_file_input(cfg, spec, i)
            key = input_key("file", spec.name, "\n".join(spec.paths))
        if key in seen:
            raise _shared_checkpoint(cfg, i, seen[key], key)
        seen[key] = i
        if isinstance(spec, FileInput):
            _check_overlap(cfg, spec, i, inputs)
            follower = FileFollower(spec, key, max_line_bytes=max_line_bytes, log=log, own=own, claims=claims)
        else:
            _check_journals(cfg, spec, i, inputs)
            follower = JournalFollower(spec, key, log=log)
        followers.append(follower)
    if any(isinstance(f, JournalFollower) for f in followers):
        journal_module()  # systemd-python is needed: say so now
    return followers


def _shared_checkpoint(cfg: Config, i: int, first: int, key: str) -> ConfigError:
    """The error for inputs[i] whose checkpoint ``key`` is inputs[first]'s: on inputs[i], naming
    the line of the other too."""
    line = cfg.where.marks.get(f"inputs[{first}]")
    other = f"inputs[{first}]" + (f" (line {line})" if line else "")
    return cfg.error(f"inputs[{i}]", f"would share the checkpoint {key!r} with {other}",
                     "give one of them another name: (name: ...)")


def _check_overlap(cfg: Config, spec: FileInput, i: int, inputs: Sequence[InputConfig]) -> None:
    """inputs[i] may not read a file an earlier file input reads: each line would be shipped twice.
    Globs are matched while the daemon runs, so what is refused here is what is known now: a
    pattern given twice, or a path that the other input's pattern matches (and neither excludes)."""
    for first, other in enumerate(inputs[:i]):
        if not isinstance(other, FileInput):
            continue
        for k, pattern in enumerate(spec.paths):
            for m, other_pattern in enumerate(other.paths):
                shared = _shared(spec, pattern, other, other_pattern)
                if shared is None:
                    continue
                line = cfg.where.marks.get(f"inputs[{first}].paths[{m}]")
                there = f"inputs[{first}]" + (f" (line {line})" if line else "")
                both = (f"{pattern} is read by {there} too" if pattern == other_pattern
                        else f"{pattern} and {other_pattern} of {there} both read "
                             + ("the same files" if _MAGIC.search(shared) else shared))
                raise cfg.error(f"inputs[{i}].paths[{k}]", both + ": every line would be shipped twice",
                                "remove it from one of the two inputs, or add it to the exclude: of one")


def _check_journals(cfg: Config, spec: JournalInput, i: int, inputs: Sequence[InputConfig]) -> None:
    """inputs[i] may not read the journal an earlier journal input reads where one of the two selects
    every entry the other does (no units: or identifiers:, and no narrower priority:): each of them
    would be shipped twice. Two filters that overlap only in part pass."""
    for first, other in enumerate(inputs[:i]):
        if not isinstance(other, JournalInput) or _journal_of(other) != _journal_of(spec):
            continue
        line = cfg.where.marks.get(f"inputs[{first}]")
        there = f"inputs[{first}]" + (f" (line {line})" if line else "")
        if _selects_all_of(other, spec):
            wider, narrower = there, "this input"
        elif _selects_all_of(spec, other):
            wider, narrower = "this input", there
        else:
            continue
        raise cfg.error(f"inputs[{i}]", f"reads {_journal_of(spec)}, as {there} does, and {wider} selects every entry "
                        f"{narrower} selects: each of them would be shipped twice",
                        f"give {wider} units: or identifiers: that select other entries, or remove one of the two")


def _selects_all_of(wide: JournalInput, narrow: JournalInput) -> bool:
    """Whether every entry ``narrow`` selects is selected by ``wide`` too (`JournalFollower`'s filters)."""
    if wide.units or wide.identifiers:
        return False
    return wide.priority is None or (narrow.priority is not None and narrow.priority <= wide.priority)


def _journal_of(spec: JournalInput) -> str:
    return f"the journal in {spec.path.resolve()}" if spec.path else "the local journal"


def _shared(a: FileInput, pattern: str, b: FileInput, other: str) -> str | None:
    """What ``pattern`` (of input ``a``) and ``other`` (of ``b``) are known to both read: a path, or
    the pattern both give; None when nothing is known (their files are only known at run time)."""
    pattern, other = os.path.expanduser(pattern), os.path.expanduser(other)
    for path, glob in ((pattern, other), (other, pattern)):
        if not _MAGIC.search(path) and _glob_matches(glob, path):
            return None if excluded(a, path) or excluded(b, path) else path
    return pattern if pattern == other else None


def _glob_matches(pattern: str, path: str) -> bool:
    """Whether `glob.glob` (``pattern``) lists ``path`` if it exists: part by part ('*' never matches
    a '/'), a name starting with '.' only where the pattern's part starts with '.' too."""
    parts, names = pattern.split("/"), path.split("/")
    return len(parts) == len(names) and all(
        fnmatch.fnmatchcase(name, part) and (part.startswith(".") or not name.startswith("."))
        for part, name in zip(parts, names)
    )


def _check_file_input(cfg: Config, spec: FileInput, i: int) -> None:
    if spec.format not in FOLLOWED:
        raise cfg.error(
            f"inputs[{i}].format", f"{spec.format} files cannot be followed (only syslog and Elasticsearch logs)",
            "for journal files use a journal input with path:, for dumps `shipper replay`",
        )


def sink_factory(cfg: Config, env: Env) -> Callable[[], Sink]:
    """A new sink per call, as `shipper replay` would make it; with no output, the local store in
    the state directory (so that `shipper causes --config FILE` reads it). The sink does not make
    the state directory: the daemon's lock made it, and one deleted since stays deleted
    (`shipper.state.lock`)."""
    from shipper.sinks.factory import make_sinks


    configured = cfg.output.configured()
    if len(configured) > 1:  # (make_sinks would say "choose one with --output": replay's option)
        raise cfg.error("output", f"shipper run writes to one output, and {' and '.join(configured)} are configured",
                        "keep one of output.local, output.ndjson, output.elasticsearch")

    def make() -> Sink:
        (sink,) = make_sinks(cfg, env, state_dir=cfg.state_dir, store=cfg.local_store(), daemon=True)
        return sink

    return make


def same_state_dir(old: Config, new: Config) -> bool:
    return Path(old.state_dir).resolve() == Path(new.state_dir).resolve()

