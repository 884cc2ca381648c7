"""The HTTP side of the fake: keep-alive HTTP/1.1 on 127.0.0.1, one ``sendall`` per response, TCP_NODELAY.

Writing a response in pieces would let Nagle's algorithm and the client's delayed ACK add ~40 ms to
every request, and every benchmark would lie; so headers and body leave in one send.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from tests.fakees.bulk import Faults
from tests.fakees.cluster import Cluster, Grant, Request, dumps, parse_query

_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    fake: "FakeES"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a connection closed by stop() mid-read is expected, not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        body = self._body()
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, unquote(path), parse_query(query), headers, body)
        status, payload, extra = self.server.fake.cluster.handle(req)
        self._respond(status, payload, extra, headers.get("accept", ""))

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _respond(self, status: int, payload: Any, extra: dict[str, str], accept: str) -> None:
        body = b"" if self.command == "HEAD" else dumps(payload)
        ctype = "application/json"
        if "compatible-with=" in accept:
            ctype = "application/vnd.elasticsearch+json;compatible-with=" + accept.rsplit("compatible-with=", 1)[1].strip()
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", "X-elastic-product: Elasticsearch",
                 f"content-type: {ctype}", f"content-length: {len(dumps(payload)) if self.command == 'HEAD' else len(body)}"]
        lines += [f"{k}: {v}" for k, v in extra.items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        try:
            self.connection.sendall(data)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeES:
    """An Elasticsearch-protocol server for tests: ``with FakeES("9.1.0") as es: ... es.url``.

    ``credentials`` maps an exact ``Authorization`` header value to a `Grant`; None means security
    is off (anyone may do anything). ``faults`` scripts failures; ``docs(name)`` returns what a data
    stream holds; ``stop()``/``start()``/``outage(seconds)`` make the port refuse connections.
    """

    def __init__(self, version: str = "8.15.3", *, credentials: dict[str, Grant] | None = None,
                 security: bool = True) -> None:
        self.cluster = Cluster(version, credentials, security)
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._timers: list[threading.Timer] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def faults(self) -> Faults:
        return self.cluster.faults

    def docs(self, name: str) -> dict[str, Any]:
        return self.cluster.docs(name)

    def start(self) -> "FakeES":
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection: clients now get 'connection refused'."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self._conns_lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def outage(self, seconds: float) -> None:
        """Refuse connections now and for ``seconds``, then listen again on the same port."""
        self.stop()
        timer = threading.Timer(seconds, self.start)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
            if timer.is_alive():
                timer.join()
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def __enter__(self) -> "FakeES":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
