"""A real `shipper run` started on credentials that authenticate (``GET /`` answers) but may not write
to shipper's data streams: it asks Elasticsearch (``_has_privileges``) as soon as the output opens (in
the background, as at every start: an Elasticsearch that does not answer must not hold up reading)
and stops with exit 6 (what a 403 on a bulk request gives), naming what is missing, before any bulk
request; what it read meanwhile is read again at the next start. A good key starts as before; when the question cannot be asked (a proxy refusing the
security API), the daemon warns once and ships."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from shipper.errors import ExitCode
from shipper.state.spool import DIRNAME as SPOOL_DIR
from tests.fakees import FakeES, Grant
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.helpers.es import make_env, run_command
from tests.unit.test_run_reload_es_output import GOOD, append, config, stream
from tests.unit.test_run_reload_es_write_privileges import HAS_PRIVILEGES, READER

GRANTS = {f"ApiKey {GOOD}": Grant(),
          f"ApiKey {READER}": Grant(user="reader", cluster={"monitor"}, index={"read", "auto_configure"})}


def _refused(es: FakeES, daemon: DaemonProcess) -> str:
    """The daemon's output once it stopped by itself, with the error and exit code of a key that may
    not write, having sent no bulk request."""
    assert daemon.proc is not None
    assert daemon.proc.wait(60) == ExitCode.UNAVAILABLE, daemon.output()
    said = daemon.output()
    assert (f"shipper: error: the credentials for Elasticsearch at {es.url} (user 'reader') may not write to "
            "shipper's data streams: they lack create_doc on logs-shipper.*-default\n"
            "shipper: grant the role in deploy/elasticsearch-role.json; `shipper check` lists what is missing\n") in said, said
    assert READER not in said and "403" not in said.replace(es.url, "")  # (its port may hold the digits)
    assert not any(path.endswith("/_bulk") for _, path, _ in es.cluster.log)
    return said


def _spooled_bytes(tmp_path: Path) -> int:
    spool = tmp_path / "state" / SPOOL_DIR
    return sum(p.stat().st_size for p in spool.rglob("*") if p.is_file()) if spool.exists() else 0


def test_h7_a_key_that_may_not_write_stops_the_start_and_a_good_one_then_ships_everything(tmp_path: Path) -> None:
    with FakeES("8.15.3", credentials=GRANTS) as es:
        log = tmp_path / "messages"
        append(log, 0, 5)
        cfg = config(tmp_path, log, [es.url], key=GOOD)
        assert run_command("setup", ["--config", str(cfg)], make_env()) == 0
        config(tmp_path, log, [es.url], key=READER)
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            _refused(es, daemon)
        assert any(path == HAS_PRIVILEGES for _, path, _ in es.cluster.log)
        config(tmp_path, log, [es.url], key=GOOD)  # (the key fixed: what was read before is not lost)
        with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
            wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the 5 documents")
            assert daemon.stop() == 0, daemon.output()


def test_h7_an_output_unreachable_at_the_start_is_asked_once_it_answers(tmp_path: Path) -> None:
    es = FakeES("8.15.3", credentials=GRANTS).start()
    try:
        es.stop()  # (the port is kept: `start` listens on it again)
        log = tmp_path / "messages"
        append(log, 0, 5)
        cfg = config(tmp_path, log, [es.url], key=READER)
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: "retrying in the background" in daemon.output(), 60, "the output found unreachable")
            wait_for(lambda: _spooled_bytes(tmp_path) > 0 or daemon.proc is not None and daemon.proc.poll() is not None,
                     60, "the lines read into the disk buffer")
            es.start()
            _refused(es, daemon)
    finally:
        es.close()


def test_h7_a_good_key_starts_and_ships_as_before_having_been_asked(tmp_path: Path) -> None:
    with FakeES("8.15.3", credentials=GRANTS) as es:
        log = tmp_path / "messages"
        append(log, 0, 5)
        cfg = config(tmp_path, log, [es.url], key=GOOD)
        assert run_command("setup", ["--config", str(cfg)], make_env()) == 0
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the 5 documents")
            assert daemon.stop() == 0, daemon.output()
        paths = [path for _, path, _ in es.cluster.log]
        assert HAS_PRIVILEGES in paths and paths.index(HAS_PRIVILEGES) < paths.index("/_bulk")
        assert "could not ask" not in daemon.output() and "warning" not in daemon.output(), daemon.output()


class _Proxy(BaseHTTPRequestHandler):
    """Forwards every request to the fake, but answers the security API with a 403 of its own."""

    upstream = ""

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.startswith("/_security/"):
            status, headers, data = 403, {"content-type": "text/plain"}, b"Forbidden by the proxy"
        else:
            request = urllib.request.Request(self.upstream + self.path, body or None, dict(self.headers), method=self.command)
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    status, headers, data = answer.status, dict(answer.headers), answer.read()
            except urllib.error.HTTPError as exc:
                status, headers, data = exc.code, dict(exc.headers), exc.read()
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxied() -> Iterator[tuple[FakeES, str]]:
    with FakeES("8.15.3", credentials=GRANTS) as es:
        handler = type("Handler", (_Proxy,), {"upstream": es.url})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield es, f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def test_h7_when_the_privileges_cannot_be_asked_the_start_warns_once_and_ships(tmp_path: Path,
                                                                                proxied: tuple[FakeES, str]) -> None:
    es, url = proxied
    log = tmp_path / "messages"
    append(log, 0, 5)
    cfg = config(tmp_path, log, [url], key=GOOD)
    assert run_command("setup", ["--config", str(cfg)], make_env()) == 0
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the 5 documents")
        assert daemon.stop() == 0, daemon.output()
    said = daemon.output()
    assert said.count("could not ask") == 1, said
    assert (f"shipper: warning: could not ask Elasticsearch at {url} whether the credentials may write to "
            "logs-shipper.*-default (403: Forbidden by the proxy); `shipper check` tells more") in said, said
