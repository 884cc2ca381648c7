# Types of the C extension shipper/parallel/_express.c (built by setup.py where it can be).
from typing import Any, Container

# IdAssigner.live() and what IdAssigner.moved_to takes (shipper/ids.py)
Live = tuple[str, dict[str, int], dict[str, dict[str, int]], int, dict[str, dict[str, int]] | None]
Moved = tuple[str, dict[str, int]]
# Nearby.lane(): the troubled units by stem key, RECOVERY_WINDOW, where the starts taken are noted (or None)
Starts = tuple[dict[str, tuple[float, str]], int, dict[str, list[int]] | None]

class Plan:
    def __init__(
        self,
        gates: tuple[bytes, ...],
        prefilters: tuple[tuple[bytes, tuple[bytes, ...]] | tuple[bytes, tuple[bytes, ...], tuple[bytes, ...]], ...],
        sendmail_idents: tuple[bytes, ...],
        sendmail_keys: tuple[bytes, ...],
        forms: tuple[tuple[bytes | None, bytes] | str, ...],  # str: "row", the local store's row
        log_head: bytes,
        journal: tuple[tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...]]
        | tuple[tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...]] = ...,
        /,
    ) -> None: ...
    def scan(
        self, data: bytes, start: int, stop: int, cap: int, minutes: dict[str, str], most: int, starts: Starts | None = None, /,
    ) -> tuple[int, int]: ...
    def run(
        self, data: bytes, start: int, stop: int, first_offset: int, cap: int, minutes: dict[str, str],
        ids: Live, outs: list[list[Any]], starts: Starts | None = None, /,
    ) -> tuple[int, int, str | None, Moved]: ...
    def docs_scan(
        self, docs: list[dict[str, Any]], start: int, routes: list[dict[str, tuple[bytes | None, bytes]] | None | str],
        message_ids: Container[str], given: bool, /,
    ) -> int: ...
    def docs(
        self, docs: list[dict[str, Any]], start: int, ids: Live | None,
        outs: list[list[Any]], routes: list[dict[str, tuple[bytes | None, bytes]] | None | str], message_ids: Container[str], /,
    ) -> tuple[int, Moved | None]: ...

    def journal_scan(
        self, data: bytes, start: int, most: int, routes: list[dict[str, tuple[bytes | None, bytes]] | None | str],
        starts: Starts | None = None, /,
    ) -> int: ...
    def journal(
        self, data: bytes, start: int, ids: Live, outs: list[list[Any]],
        routes: list[dict[str, tuple[bytes | None, bytes]] | None | str],
        fast: list[list[Any]] | None = None, decided: int = -1, starts: Starts | None = None, /,
    ) -> tuple[int, int, str | None, Moved]: ...

def digest(data: bytes, /) -> str: ...
def json_str(utf8: bytes, /) -> bytes: ...
def cut(data: bytes, start: int, most: int, /) -> tuple[int, int]: ...
def cut_entries(data: bytes, start: int, most: int, /) -> int: ...
