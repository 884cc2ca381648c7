"""A low-cost Elasticsearch-protocol endpoint for the benchmarks (loopback only).

    python bench/endpoint.py          prints "PORT" on stdout, then serves until killed

It answers as Elasticsearch does for what the shippers under test need: `GET /` (the banner with
`X-Elastic-Product: Elasticsearch`), `POST /_bulk` and `POST /<index>/_bulk` (with per-item results,
the action named as in the request), and 200 `{}` to anything else (template checks and the like).
With `filter_path` (the shipper's keeps `errors`, each item's `status` and of an error its `type`
and `reason`) the reply is as short as Elasticsearch makes it: `{"errors":false,"items":[{"create":
{"status":201}},…]}`; without, items carry what Elasticsearch sends by default.
Documents are counted on the raw bytes (newlines / 2), each response goes out in one `send`,
sockets have `TCP_NODELAY`, and `Expect: 100-continue` (libcurl: rsyslog, syslog-ng) is honoured.

Control, for the benchmark driver: `GET /_bench/stats` → `{"docs": N, "last": T, "bulks": B}`
where T is `time.monotonic()` (system-wide on Linux) when the last document arrived;
`POST /_bench/reset` zeroes them. `POST /_bench/conflict` makes every later item a 409 (the
document exists: what a replay of data already indexed gets, with Elasticsearch's error object),
`POST /_bench/created` goes back to 201s. `Endpoint` starts the server as a child process.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import parse_qs

_BANNER = (b'{"name":"bench","cluster_name":"bench","cluster_uuid":"bench","version":{"number":"9.1.0",'
           b'"build_flavor":"default","lucene_version":"10.2.2"},"tagline":"You Know, for Search"}')
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.docs = 0
        self.bulks = 0
        self.last = 0.0
        self.conflict = False

    def add(self, n: int) -> None:
        with self.lock:
            self.docs += n
            self.bulks += 1
            self.last = time.monotonic()

    def reset(self) -> None:
        with self.lock:
            self.docs, self.bulks, self.last = 0, 0, 0.0
            self.conflict = False


def _answer(status: str, body: bytes, head: bool = False) -> bytes:
    return (f"HTTP/1.1 {status}\r\nX-Elastic-Product: Elasticsearch\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + (b"" if head else body)


_ID = re.compile(rb'"_id":"([^"]*)"')
_BACKING = b".ds-bench-2024.03.01-000001"


def _conflicts(body: bytes, action: bytes, paths: set[str] | None) -> bytes:
    """Every item a 409, as Elasticsearch writes it; ``filter_path`` (``paths``) keeps the item's
    status and of its error what it names (the shipper's: type and reason)."""
    whole = paths is None or "items.*.error" in paths
    lines = body.split(b"\n")
    items = []
    for line in lines[0:len(lines) - 1:2]:
        m = _ID.search(line)
        doc_id = m.group(1) if m else b"x"
        error = (b'"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[' + doc_id +
                 b']: version conflict, document already exists (current version [1])"' +
                 (b',"index_uuid":"aAsFqTI0Tc2W0LCWgPNrOA","shard":"0","index":"' + _BACKING + b'"' if whole else b"") +
                 b"}}}")
        head = b'{"' + action + b'":{' + (b"" if paths is not None else b'"_index":"' + _BACKING + b'","_id":"' + doc_id + b'",')
        items.append(head + error)
    return _answer("200 OK", _envelope(b"true", b",".join(items), paths is not None))


def _envelope(errors: bytes, items: bytes, filtered: bool) -> bytes:
    """The bulk response, its fields in Elasticsearch's order; ``filter_path=errors,items.…`` leaves ``took`` out."""
    return b'{"errors":' + errors + (b"" if filtered else b',"took":1') + b',"items":[' + items + b"]}"


def _bulk_answer(body: bytes, n: int, paths: set[str] | None, conflict: bool) -> bytes:
    """Every item created (or, in conflict mode, a 409); with `filter_path` (shipper asks for status
    and error only) the items are as short as Elasticsearch makes them, otherwise they carry what
    it sends by default."""
    action = body[2:body.find(b'"', 2)] if body.startswith(b'{"') else b"index"
    if conflict:
        return _conflicts(body, action, paths)
    filtered = paths is not None
    item = b'{"' + action + (b'":{"status":201}}' if filtered else
                             b'":{"_index":"bench","_id":"x","_version":1,"result":"created","_shards":'
                             b'{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}')
    return _answer("200 OK", _envelope(b"false", b",".join([item] * n), filtered))


class _Conn:
    """One client connection: reads requests from a buffer, answers each in one send."""

    def __init__(self, sock: socket.socket, counter: _Counter) -> None:
        self.sock = sock
        self.counter = counter
        self.buf = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(1 << 20)
        self.buf += data
        return bool(data)

    def _take(self, length: int) -> bytes | None:
        while len(self.buf) < length:
            if not self._fill():
                return None
        out = bytes(self.buf[:length])
        del self.buf[:length]
        return out

    def _line(self) -> bytes | None:
        while (end := self.buf.find(b"\r\n")) < 0:
            if not self._fill():
                return None
        return self._take(end + 2)

    def _chunked(self) -> bytes | None:
        parts = []
        while (size := self._line()) is not None and (n := int(size.split(b";")[0], 16)):
            part = self._take(n + 2)
            if part is None:
                return None
            parts.append(part[:-2])
        return None if size is None or self._line() is None else b"".join(parts)

    def serve(self) -> None:
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            while (end := self.buf.find(b"\r\n\r\n")) < 0:
                if not self._fill():
                    return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            del self.buf[: end + 4]
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            if headers.get("expect", "").lower() == "100-continue":
                self.sock.sendall(_CONTINUE)
            if "chunked" in headers.get("transfer-encoding", ""):
                body = self._chunked()
            else:
                body = self._take(int(headers.get("content-length", "0")))
            if body is None:
                return
            path, _, query = target.partition("?")
            filter_path = parse_qs(query).get("filter_path")
            paths = set(filter_path[-1].split(",")) if filter_path else None
            self.sock.sendall(self._respond(method, path, paths, body))

    def _respond(self, method: str, path: str, paths: set[str] | None, body: bytes) -> bytes:
        if path.endswith("/_bulk"):
            n = body.count(b"\n") // 2
            self.counter.add(n)
            return _bulk_answer(body, n, paths, self.counter.conflict)
        if path == "/_bench/stats":
            c = self.counter
            return _answer("200 OK", json.dumps({"docs": c.docs, "last": c.last, "bulks": c.bulks}).encode())
        if path == "/_bench/reset":
            self.counter.reset()
            return _answer("200 OK", b"{}")
        if path in ("/_bench/conflict", "/_bench/created"):
            self.counter.conflict = path == "/_bench/conflict"
            return _answer("200 OK", b"{}")
        return _answer("200 OK", _BANNER if path == "/" else b"{}", head=method == "HEAD")


def serve_forever(srv: socket.socket) -> None:
    counter = _Counter()
    while True:
        sock, _ = srv.accept()
        threading.Thread(target=_Conn(sock, counter).serve, daemon=True).start()


class Endpoint:
    """The endpoint in a child process: `url`, `pid`, `stats()`, `reset()`, `stop()`."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError("the benchmark endpoint did not start")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"
        self.pid = self.proc.pid

    def _call(self, method: str, path: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_bench/stats"))

    def reset(self) -> None:
        self._call("POST", "/_bench/reset")

    def conflict(self, on: bool) -> None:
        """Answer every later item with a 409 (``on``) or a 201."""
        self._call("POST", "/_bench/conflict" if on else "/_bench/created")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    srv = socket.create_server(("127.0.0.1", 0), backlog=64)
    print(srv.getsockname()[1], flush=True)
    serve_forever(srv)


if __name__ == "__main__":
    main()
