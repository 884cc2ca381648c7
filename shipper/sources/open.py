"""From the paths a user gives to the sources that read them, grouped into logical inputs.

A plain file is one group; a directory gives one group per file family in it (``maillog``,
``maillog.1``, ``maillog.2.gz``, ``maillog-20170830.gz`` are one family, read oldest first) and
one group for all the binary journal files under it (one reader interleaves them by time);
paths given separately that belong to one family are one group; ``-`` is stdin (once). Directories
are walked recursively (``/var/log/journal/<machine-id>/`` works); hidden files and anything
that is not a regular file (a FIFO, a socket, a link to a directory) are skipped there, but an
entry that cannot be looked at (a dangling symbolic link, no permission) fails as it would if it
were named. A tar archive (plain or compressed) is refused: its members are not read (extract
it, then replay the directory). Files that are no log (`sniff.not_a_log`: an SQLite database such
as a shipper store of `replay --store DIR/s.db` before; a file named like a binary journal,
``*.journal``, that is none and whose format is not forced; a journal file that is empty or shorter
than its header) are refused when named; in a directory they are left out (a database with its
``-wal`` and ``-shm`` files), and the replay is told which were (``note``, one line for each kind).
Every file is opened here, to
recognise its compression and format by content (and to report a missing or unreadable path
before reading starts), and sources read it through that descriptor (`shipper.sources.pins`): a
file renamed before it is read (logrotate, journald's rotation) is still the file that was listed.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Literal, Sequence

from shipper.errors import InputError, UsageError
from shipper.sources.base import INPUT_FORMATS, Source
from shipper.sources.export import ExportSource, JsonSource
from shipper.sources.files import TextSource
from shipper.sources.journal import JournalFile, JournalSource
from shipper.sources.journal_entries import journal_module
from shipper.sources.pins import open_pinned
from shipper.sources.rotation import family_of, order_rotated
from shipper.sources.sniff import SNIFF_BYTES, NotALog, Sniffed, has_year_less_stamps, is_sqlite, is_tar, not_a_log, sniff
from shipper.sources.stream import InputStream, input_error
from shipper.sources.verbose import VerboseSource

STDIN = "-"


@dataclass(frozen=True)
class YearGuess:
    """An input with RFC 3164 stamps (no year) and no --year: the year of each stamp is the
    latest that does not put it after ``mtimes`` (each file's modification time, or for a stream
    its arrival: ``arrival``). ``name`` is the input as the user gave it."""

    name: str
    mtimes: tuple[float, ...]
    arrival: bool = False


@dataclass
class InputGroup:
    """One logical input: its sources are read one after another (a rotated set, oldest first);
    groups are merged with each other by time."""

    source_id: str
    sources: list[Source]
    year_guess: YearGuess | None = None  # where the year of its RFC 3164 stamps comes from, if guessed


@dataclass(frozen=True)
class _Probe:
    path: str
    sniffed: Sniffed
    year_less: bool  # it has RFC 3164 stamps (`has_year_less_stamps`)
    compressed: bool
    size: int
    mtime: float
    fd: int  # open since the file was listed; the source that reads it takes it over


@dataclass
class _Grouper:
    fmt: str
    max_line_bytes: int
    families: dict[tuple[str, str], list[_Probe]] = field(default_factory=dict)  # insertion order
    streams: dict[tuple[str, str], Source] = field(default_factory=dict)
    order: dict[tuple[str, str], None] = field(default_factory=dict)  # every key, as first seen
    seen: set[str] = field(default_factory=set)
    own: frozenset[str] = frozenset()  # the real paths of the files the replay writes
    guesses: dict[tuple[str, str], YearGuess] = field(default_factory=dict)  # streams' (files': `_year_guess`)
    left_out: dict[NotALog, list[str]] = field(default_factory=dict)  # files found in directories that are no log

    def add_path(self, path: str) -> None:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise input_error(path, exc) from None
        if os.path.isdir(path):
            self._add_directory(path)
        elif os.path.isfile(path):
            if os.path.realpath(path) in self.own:
                raise UsageError(f"{path} is where this replay writes its output, so it cannot be an input too",
                                 hint="write the output to another file, or leave this one out of the inputs")
            self._add_file(path, journal_dir=os.path.dirname(path) or ".", named=True)
        else:  # a FIFO or device (e.g. process substitution): read once, as a stream
            self._add_stream(path, InputStream.open_path(path), st.st_mtime)

    def add_stdin(self, stdin: IO[bytes]) -> None:
        # A pipe has no modification time: RFC 3164 stamps read from it are taken to be from the
        # last year up to now (as for a file written just now), unless --year says otherwise.
        self._add_stream(STDIN, InputStream.from_stream(STDIN, stdin), time.time())

    def groups(self) -> list[InputGroup]:
        return [self._group(key) for key in self.order]

    def _add_directory(self, top: str) -> None:
        failures: list[OSError] = []
        for root, dirs, files in os.walk(top, onerror=failures.append):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                path = os.path.join(root, name)
                # The replay's own output in a directory it reads (a second `replay -o DIR/x DIR`) is skipped.
                if not name.startswith(".") and _regular(path) and os.path.realpath(path) not in self.own:
                    self._add_file(path, journal_dir=top, named=False)
        if failures:
            exc = failures[0]
            raise input_error(exc.filename or top, exc)

    def _add_file(self, path: str, journal_dir: str, named: bool) -> None:
        real = os.path.realpath(path)
        if real in self.seen:
            return
        self.seen.add(real)
        probe = _probe(path, self.fmt)
        if not isinstance(probe, _Probe):  # no log
            if named:
                raise not_a_log_error(probe, path)
            self.left_out.setdefault(probe, []).append(path)
            if probe == "sqlite":
                self.seen.update((real + "-wal", real + "-shm"))  # its journal files are no logs either
            return
        if probe.sniffed == "journal-file":
            key = ("journal", os.path.abspath(journal_dir))
        else:
            key = ("text", os.path.join(os.path.abspath(os.path.dirname(path)), family_of(os.path.basename(path))))
        self.families.setdefault(key, []).append(probe)
        self.order[key] = None

    def _add_stream(self, name: str, stream: InputStream, mtime: float) -> None:
        head = stream.peek(SNIFF_BYTES)
        if is_tar(head):
            stream.close()
            raise tar_error("stdin" if name == STDIN else name)
        if is_sqlite(head):
            stream.close()
            raise sqlite_error("stdin" if name == STDIN else name)
        sniffed = sniff(head)
        if sniffed == "journal-file":
            stream.close()
            raise InputError(
                f"cannot read {'stdin' if name == STDIN else name}: it is a binary journal file, "
                "which can only be read from a regular file",
                hint="save it to a file and pass that path, or pipe `journalctl -o export` instead",
            )
        source_id = "stdin" if name == STDIN else os.path.abspath(name)
        path = None if name == STDIN else name
        key = ("stream", source_id)
        fmt = self._format(sniffed)
        self.streams[key] = self._source(source_id, fmt, lambda: stream, path, None, mtime)
        self.order[key] = None
        if fmt == "syslog" and has_year_less_stamps(head):
            self.guesses[key] = YearGuess("stdin" if name == STDIN else name, (mtime,), arrival=name == STDIN)

    def _group(self, key: tuple[str, str]) -> InputGroup:
        kind, ident = key
        if kind == "stream":
            return InputGroup(ident, [self.streams[key]], self.guesses.get(key))
        probes = self.families[key]
        if kind == "journal":
            journal_module()  # fail now, with a clear message, if systemd-python is missing
            source_id = f"journal:{ident}"
            files = [JournalFile(p.path, p.compressed, p.fd) for p in sorted(probes, key=lambda p: p.path)]
            return InputGroup(source_id, [JournalSource(source_id, files)])
        by_name = {os.path.basename(p.path): p for p in probes}
        ordered = order_rotated(by_name, {n: p.mtime for n, p in by_name.items()})
        sources = [self._file_source(ident, by_name[name]) for name in ordered]
        return InputGroup(ident, sources, self._year_guess([by_name[name] for name in ordered]))

    def _year_guess(self, probes: list[_Probe]) -> YearGuess | None:
        year_less = [p for p in probes if p.year_less and self._format(p.sniffed) == "syslog"]
        if not year_less:
            return None
        first = year_less[0].path
        name = first if len(probes) == 1 else os.path.join(os.path.dirname(first), family_of(os.path.basename(first)))
        return YearGuess(name, tuple(p.mtime for p in year_less))

    def _file_source(self, source_id: str, probe: _Probe) -> Source:
        return self._source(source_id, self._format(probe.sniffed), _opener(probe), probe.path, probe.size, probe.mtime)

    def _format(self, sniffed: Sniffed) -> str:
        return sniffed if self.fmt == "auto" else self.fmt

    def _source(
        self, source_id: str, fmt: str, opener: Callable[[], InputStream], path: str | None,
        size: int | None, mtime: float | None,
    ) -> Source:
        if fmt == "journal-export":
            return ExportSource(source_id, opener, path=path, size=size, mtime=mtime, max_line_bytes=self.max_line_bytes)
        if fmt == "journal-json":
            return JsonSource(source_id, opener, path=path, size=size, mtime=mtime, max_line_bytes=self.max_line_bytes)
        if fmt == "journal-verbose":
            return VerboseSource(source_id, opener, path=path, size=size, mtime=mtime, max_line_bytes=self.max_line_bytes)
        text_fmt: Literal["syslog", "elasticsearch"] = "elasticsearch" if fmt == "elasticsearch" else "syslog"
        return TextSource(
            source_id, text_fmt, opener, path=path, size=size, mtime=mtime, max_line_bytes=self.max_line_bytes
        )


def _opener(probe: _Probe) -> Callable[[], InputStream]:
    """The file through its listed descriptor the first time; by its name if it is read again
    (the stream closed the descriptor, and its number may be another file's by then)."""
    fds = [probe.fd]

    def open_stream() -> InputStream:
        return InputStream.open_fd(probe.path, fds.pop()) if fds else InputStream.open_path(probe.path)

    return open_stream


def _probe(path: str, fmt: str) -> _Probe | NotALog:
    """The file opened and recognised; what it is if it is no log (`not_a_log`: a file named like a
    journal is read as the format ``fmt`` forces, though)."""
    try:
        fd = open_pinned(path)
    except OSError as exc:
        raise input_error(path, exc) from None
    try:
        stream = InputStream.open_fd(path, fd, closefd=False)
        try:
            head = stream.peek(SNIFF_BYTES)
            mtime = os.fstat(fd).st_mtime
        finally:
            stream.close()
    except OSError as exc:
        os.close(fd)
        raise input_error(path, exc) from None
    if is_tar(head):
        os.close(fd)
        raise tar_error(path)
    sniffed = sniff(head)
    kind = not_a_log(os.path.basename(path), head, sniffed)
    if kind is not None and (kind != "not-journal" or fmt == "auto"):
        os.close(fd)
        return kind
    return _Probe(path, sniffed, has_year_less_stamps(head), stream.compression is not None, stream.size or 0,
                  mtime, fd)


def _regular(path: str) -> bool:
    """Whether a directory's entry is a regular file (through a link); an entry that cannot be
    looked at fails (a dangling link is named with where it points)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError as exc:
        if os.path.islink(path):
            raise InputError(f"cannot read {path}: it is a symbolic link to {os.readlink(path)}, which does not exist",
                             hint="remove the link (or restore its target), or name the files to read instead of "
                                  "the directory") from None
        raise input_error(path, exc) from None  # removed while the directory was read
    except OSError as exc:
        raise input_error(path, exc) from None


def tar_error(name: str) -> InputError:
    """A tar archive is refused: its members would be read as one text with tar headers in it."""
    extract = "tar -xf - -C X (fed the same archive)" if name == "stdin" else f"tar -xf {shlex.quote(name)} -C X"
    return InputError(
        f"cannot read {name}: it is a tar archive; replay reads log files and directories, not the files in an archive",
        hint=f"extract it first: mkdir X && {extract} && shipper replay X",
    )


def sqlite_error(name: str) -> InputError:
    """An SQLite file named as an input is refused: read as text, its pages would be unparsed lines."""
    where = "FILE" if name == "stdin" else shlex.quote(name)
    return InputError(f"cannot read {name}: it is an SQLite database, not a log",
                      hint=f"this is a shipper store or another SQLite database: use `shipper causes --store {where}` "
                           "to read a store")


def not_a_log_error(kind: NotALog, path: str) -> InputError:
    """The error for a file named as an input that is no log (`not_a_log`)."""
    if kind == "sqlite":
        return sqlite_error(path)
    quoted = shlex.quote(path)
    if kind == "not-journal":
        return InputError(
            f"cannot read {path}: it is named like a binary journal file, but it is not one (it does not start "
            "with the journal signature LPKSHHRH), nor a journal export or JSON dump",
            hint=f"if it is a text log, give its format (shipper replay --format syslog {quoted}) or rename it; "
                 f"if it was a journal file, it is damaged: `journalctl --file {quoted}` says what it holds")
    return InputError(
        f"cannot read {path}: it is a journal file with no header yet (empty, or shorter than a journal file's "
        "header): a writer (journald, systemd-journal-remote) has just created it, or it was cut",
        hint="replay it once it has been written to; `journalctl --file "
             f"{quoted}` says whether it reads")


# Per kind of file left out (`not_a_log`): what one is, what several are, why they are no logs, what to do.
_LEFT_OUT: dict[NotALog, tuple[str, str, str, str]] = {
    "sqlite": ("an SQLite database", "SQLite databases", "not logs: a shipper store, or another program's database",
               "`shipper causes --store FILE` reads a shipper store"),
    "not-journal": ("a file named like a binary journal file", "files named like binary journal files",
                    "not journal files: no journal signature at the start, nor a journal export or JSON dump",
                    "give a text log's path with --format syslog to read it as text"),
    "unwritten-journal": ("a journal file with no header yet", "journal files with no header yet",
                          "empty or shorter than a journal file's header: just created by a writer, or cut",
                          "replay again once they are written to"),
}


def _skipped_notes(left_out: dict[NotALog, list[str]]) -> list[str]:
    """One line per kind of file left out of the directories replayed, naming them."""
    notes = []
    for kind, paths in left_out.items():
        one, several, why, what_to_do = _LEFT_OUT[kind]
        what = one if len(paths) == 1 else f"{len(paths)} {several}"
        notes.append(f"replay: left out {what} found in the directories replayed ({why}): {', '.join(paths)}; "
                     f"{what_to_do}")
    return notes


def open_inputs(
    paths: list[str], *, fmt: str = "auto", max_line_bytes: int = 65536, stdin: IO[bytes] | None = None,
    own: Sequence[Path] = (), note: Callable[[str], object] | None = None,
) -> list[InputGroup]:
    """The groups to read for ``paths`` (files, directories, ``-`` for stdin), in the order the
    paths were given. ``fmt`` forces the format of text inputs (binary journal files are always
    read as journals). `InputError` for a path that is missing or unreadable, or a bad ``fmt``.
    ``own`` are the files the replay writes (`Sink.files`): never read, since each line read would
    be written to them again (`UsageError` when one is named as an input; skipped in a directory),
    nor stdin twice (`UsageError`). ``note`` is given a line for each kind of file that is no log
    (`not_a_log`: SQLite databases such as shipper stores, ...) naming those that directories held,
    which are not read (named, one is an `InputError`)."""
    if fmt not in INPUT_FORMATS:
        raise InputError(f"unknown input format {fmt!r}", hint=f"use one of: {', '.join(INPUT_FORMATS)}")
    if max_line_bytes < 1:
        raise InputError(f"max_line_bytes must be at least 1, not {max_line_bytes}")
    if paths.count(STDIN) > 1:
        raise UsageError("stdin (-) given twice: it can be read only once", hint="give - once")
    grouper = _Grouper(fmt, max_line_bytes, own=frozenset(os.path.realpath(p) for p in own))
    for path in paths:
        if path == STDIN:
            grouper.add_stdin(stdin if stdin is not None else sys.stdin.buffer)
        else:
            grouper.add_path(path)
    if note is not None:
        for line in _skipped_notes(grouper.left_out):
            note(line)
    return grouper.groups()
