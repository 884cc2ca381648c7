"""Where the daemon's messages go: stderr (the journal, under systemd), one line each, and on a
terminal a status line kept at the bottom. The last message is kept for `shipper status`."""

from __future__ import annotations

import io
import threading
from typing import IO, cast

from shipper.secrets import redact


class Console:
    def __init__(self, stderr: IO[str], tty: bool) -> None:
        self._err = stderr
        self._tty = tty
        self._lock = threading.Lock()
        self._status = ""
        self.last_message: str | None = None
        self.messages = 0

    def log(self, message: str) -> None:
        text = redact(message.rstrip("\n"))
        if not text.startswith("shipper:"):
            text = f"shipper: {text}"
        with self._lock:
            self.last_message, self.messages = text, self.messages + 1
            if self._tty and self._status:
                self._err.write("\r\x1b[K")
            self._err.write(text + "\n")
            if self._tty and self._status:
                self._err.write(self._status)
            self._err.flush()

    def status(self, line: str) -> None:
        """Redraw the status line (terminals only)."""
        if not self._tty:
            return
        with self._lock:
            self._status = line
            self._err.write("\r\x1b[K" + line)
            self._err.flush()

    def end(self) -> None:
        if self._tty and self._status:
            with self._lock:
                self._err.write("\n")
                self._status = ""
                self._err.flush()

    def stream(self) -> IO[str]:
        """A text stream whose lines become messages (the stderr handed to sinks)."""
        return cast(IO[str], _Lines(self))


class _Lines(io.TextIOBase):
    def __init__(self, console: Console) -> None:
        self._console = console
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            if line.strip():
                self._console.log(line)
        return len(text)

    def isatty(self) -> bool:
        return False
