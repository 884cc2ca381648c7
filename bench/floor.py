"""The single-process Python floor: the simplest shipper that could possibly work.

    python bench/floor.py syslog URL FILE    one RFC 3164 regex per line, orjson, bulks of 5,000
    journalctl -o json ... | python bench/floor.py json URL    each JSON line sent as it is

One keep-alive `http.client` connection, one bulk in flight, no retries, no state: a lower bound
on what any Python shipper pays, not a product. It exits non-zero if a bulk is refused.
"""

from __future__ import annotations

import http.client
import re
import sys
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

import orjson

BULK = 5000
ACTION = b'{"create":{}}\n'
RFC3164 = re.compile(r"(\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: (.*)")


def syslog_docs(path: str) -> Iterator[bytes]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = RFC3164.match(line)
            if m is None:
                yield orjson.dumps({"message": line.rstrip("\n")})
                continue
            ts, host, prog, pid, msg = m.groups()
            yield orjson.dumps({"timestamp": ts, "host": {"name": host},
                                "process": {"name": prog, "pid": pid}, "message": msg})


def json_docs(stream: Iterable[bytes]) -> Iterator[bytes]:
    return (line.rstrip(b"\n") for line in stream if line.strip())


def ship(url: str, docs: Iterable[bytes]) -> int:
    conn = http.client.HTTPConnection(urlsplit(url).netloc)
    parts: list[bytes] = []
    sent = 0

    def post() -> None:
        conn.request("POST", "/bench/_bulk", b"".join(parts), {"Content-Type": "application/x-ndjson"})
        reply = conn.getresponse()
        if reply.status != 200 or b'"errors":false' not in reply.read(64):  # the rest of the body is items
            raise SystemExit(f"bulk refused: HTTP {reply.status}")
        reply.read()
        parts.clear()

    for doc in docs:
        parts += (ACTION, doc, b"\n")
        sent += 1
        if sent % BULK == 0:
            post()
    if parts:
        post()
    return sent


def main(argv: list[str]) -> None:
    if argv[:1] == ["syslog"] and len(argv) == 3:
        ship(argv[1], syslog_docs(argv[2]))
    elif argv[:1] == ["json"] and len(argv) == 2:
        ship(argv[1], json_docs(sys.stdin.buffer))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
