"""NDJSON sink: one JSON document per line, to standard output or a file."""

from __future__ import annotations

import os
import stat
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import orjson

from shipper.errors import OutputError
from shipper.event import Batch, Doc
from shipper.sinks.base import Ack, Encode, items_of
from shipper.sinks.replace_file import Replacement, check_directory, written_in_place


def encode_lines(docs: list[Doc]) -> list[bytes]:
    """One JSON line (with its newline) per document."""
    dumps = orjson.dumps
    # "+ newline" copies: orjson's own result keeps a 4 KiB buffer, which adds up in a batch.
    return [dumps(d) + b"\n" for d in docs]


class NdjsonSink:
    """To ``stream``, or to the file ``path``: appended to (the daemon's output, which a restart
    continues), or with ``truncate`` written afresh (``replay -o FILE``, as ``sort -o`` does: a
    second replay into the same file gives the same file, not the lines twice). A file written
    afresh replaces the old one only when the run is complete (`shipper.sinks.replace_file`):
    `close` renames the new file over it if `flush` came after the last write (the pipeline
    flushes only once everything is written), and otherwise, on a failure or an interrupt,
    deletes the new file and leaves the old one as it was (`replaced` tells which).

    ``durable`` (the daemon): a batch is acknowledged only once it is on disk (fsync), because the
    daemon's checkpoint then counts it as delivered and a restart does not send it again; a power
    loss must not take lines the checkpoint counts. A replay acknowledges once the lines are
    written, and syncs at the end."""

    name = "ndjson"
    failing = False  # (`Sink.failing`: it does not retry on its own)

    def __init__(self, stream: IO[bytes] | None = None, path: Path | None = None, truncate: bool = False,
                 durable: bool = False) -> None:
        self._stream = stream
        self._durable = durable
        self._path = path
        self._truncate = truncate
        self._owned = False
        self._regular = False
        self._new: Replacement | None = None  # the file that replaces ``path`` when complete
        self._complete = False  # flushed after the last write
        self.replaced = False  # `close` put the new file in place of ``path``
        self._ack: Ack | None = None
        self.counters: Counter[str] = Counter()

    def open(self, ack: Ack) -> None:
        self._ack = ack
        if self._stream is None:
            if self._path is None:
                raise OutputError("the ndjson output needs a stream or a file path")
            try:
                self._stream = self._open_path(self._path)
            except OSError as exc:
                raise self._cannot_write(exc) from None
            self._owned = True
            self._regular = stat.S_ISREG(os.fstat(self._stream.fileno()).st_mode)

    def _open_path(self, path: Path) -> IO[bytes]:
        if not self._truncate:
            return open(path, "ab")
        if written_in_place(path):  # a FIFO, /dev/null, /dev/stdout
            return open(path, "wb")
        check_directory(path, "")
        self._new = Replacement(path)
        return self._new.file

    def encoder(self) -> Encode:
        return encode_lines

    def write(self, batch: Batch) -> None:
        assert self._stream is not None and self._ack is not None, "open() first"
        lines: list[Any] = items_of(batch, self.name, encode_lines)
        with self._writing():
            self._stream.write(b"".join(lines))
            if self._durable:
                self._sync(self._stream)
            else:
                self._stream.flush()
        self.counters["written"] += len(lines)
        self._complete = False
        self._ack(batch.seq)

    def flush(self) -> None:
        if self._stream is not None:
            with self._writing():
                self._sync(self._stream)
            self._complete = True

    def close(self) -> None:
        """Flushed and closed (a file of its own), the file closed even when flushing fails."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        new, self._new = self._new, None
        if new is not None:
            self._finish(new)
            return
        with self._writing():
            try:
                self._sync(stream)
            finally:
                if self._owned:
                    stream.close()

    def _finish(self, new: Replacement) -> None:
        if not self._complete:
            new.discard()
            return
        with self._writing():
            new.commit()
        self.replaced = True

    def _sync(self, stream: IO[bytes]) -> None:
        stream.flush()
        if self._owned and self._regular:  # /dev/null or a pipe cannot be fsynced
            os.fsync(stream.fileno())

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write that fails (a full disk, a quota, an I/O error) is an OutputError that names the
        output; a closed pipe (`| head`) stays a BrokenPipeError, which ends a command quietly, but
        for the daemon (``durable``), for which it is an output like the others: a FIFO whose reader
        went away."""
        try:
            yield
        except BrokenPipeError as exc:
            if not self._durable:
                raise
            raise self._cannot_write(exc, hint=(
                "the program reading it closed it: start it again, then shipper (what it did not take "
                "is sent again)")) from None
        except OSError as exc:
            raise self._cannot_write(exc, hint="make room there, or write elsewhere, and run again") from None

    def _cannot_write(self, exc: OSError, hint: str | None = None) -> OutputError:
        where = self._path if self._path is not None else "standard output"
        return OutputError(f"cannot write {where}: {exc.strerror or exc}", hint=hint)

    def files(self) -> list[Path]:
        return [self._path] if self._path is not None else []
