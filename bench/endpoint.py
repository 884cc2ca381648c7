"""A low-cost Elasticsearch-protocol endpoint for the benchmarks (loopback only).

    python bench/endpoint.py          prints "PORT" on stdout, then serves until killed

It answers as Elasticsearch does for what the shippers under test need: `GET /` (the banner with
`X-Elastic-Product: Elasticsearch`), `POST /_bulk` and `POST /<index>/_bulk` (with per-item results,
the action named as in the request, short when `filter_path` asks for it), and 200 `{}` to anything else (template checks and the like).
Documents are counted on the raw bytes (newlines / 2), each response goes out in one `send`,
sockets have `TCP_NODELAY`, and `Expect: 100-continue` (libcurl: rsyslog, syslog-ng) is honoured.

Control, for the benchmark driver: `GET /_bench/stats` → `{"docs": N, "last": T, "bulks": B}`
where T is `time.monotonic()` (system-wide on Linux) when the last document arrived;
`POST /_bench/reset` zeroes them. `Endpoint` starts the server as a child process.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from typing import Any

_BANNER = (b'{"name":"bench","cluster_name":"bench","cluster_uuid":"bench","version":{"number":"9.1.0",'
           b'"build_flavor":"default","lucene_version":"10.2.2"},"tagline":"You Know, for Search"}')
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.docs = 0
        self.bulks = 0
        self.last = 0.0

    def add(self, n: int) -> None:
        with self.lock:
            self.docs += n
            self.bulks += 1
            self.last = time.monotonic()

    def reset(self) -> None:
        with self.lock:
            self.docs, self.bulks, self.last = 0, 0, 0.0


def _answer(status: str, body: bytes, head: bool = False) -> bytes:
    return (f"HTTP/1.1 {status}\r\nX-Elastic-Product: Elasticsearch\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + (b"" if head else body)


def _bulk_answer(body: bytes, n: int, filtered: bool) -> bytes:
    """Every item created; with `filter_path` (shipper asks for status and error only) the items
    are as short as Elasticsearch makes them, otherwise they carry what it sends by default."""
    action = body[2:body.find(b'"', 2)] if body.startswith(b'{"') else b"index"
    item = b'{"' + action + (b'":{"status":201}}' if filtered else
                             b'":{"_index":"bench","_id":"x","_version":1,"result":"created","_shards":'
                             b'{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}')
    return _answer("200 OK", b'{"errors":false,"took":1,"items":[' + b",".join([item] * n) + b"]}")


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
            self.sock.sendall(self._respond(method, path, "filter_path=" in query, body))

    def _respond(self, method: str, path: str, filtered: bool, body: bytes) -> bytes:
        if path.endswith("/_bulk"):
            n = body.count(b"\n") // 2
            self.counter.add(n)
            return _bulk_answer(body, n, filtered)
        if path == "/_bench/stats":
            c = self.counter
            return _answer("200 OK", json.dumps({"docs": c.docs, "last": c.last, "bulks": c.bulks}).encode())
        if path == "/_bench/reset":
            self.counter.reset()
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
