"""A TLS handshake that fails is reported whole (OpenSSL's reason, not cut at a parenthesis), and an
``https://`` URL on a port that speaks plain HTTP gets the ``http://`` URL as its fix."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.errors import ExitCode, UnavailableError
from shipper.setup.kibana import import_saved_objects
from tests.fakees import FakeES
from tests.helpers.es import err, make_env, run_command


def _error_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("shipper: error:"))


def test_https_to_a_plain_http_port_says_to_use_http() -> None:
    with FakeES("9.1.0") as es:  # speaks plain HTTP
        port = es.url.rsplit(":", 1)[1]
        env = make_env()
        rc = run_command("check", ["--es-url", f"https://127.0.0.1:{port}"], env)
    line = _error_line(err(env))
    assert rc == ExitCode.UNAVAILABLE
    # (OpenSSL up to 3.1 says "wrong version number"; later ones may name the record layer)
    assert re.search(rf"TLS with https://127\.0\.0\.1:{port} failed: \[SSL: [A-Z_]+\] [^():]+: "
                     "the server there speaks plain HTTP, not TLS", line), line
    assert line.count("(") == line.count(")") and "_ssl.c" not in line
    assert (f"use http://127.0.0.1:{port} in output.elasticsearch.hosts (or --es-url), or turn TLS on in "
            "Elasticsearch") in line
    assert "ca_file" not in line and "ssl_fingerprint" not in line


def test_kibana_over_https_on_a_plain_http_port_says_to_use_http() -> None:
    with FakeES("9.1.0") as plain:
        port = plain.url.rsplit(":", 1)[1]
        with pytest.raises(UnavailableError) as raised:
            import_saved_objects(f"https://127.0.0.1:{port}", ElasticsearchOutput(), make_env())
    assert raised.value.message.endswith(": the server there speaks plain HTTP, not TLS")
    assert raised.value.hint == f"use --kibana http://127.0.0.1:{port}, or turn TLS on in Kibana (server.ssl.enabled)"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server with a self-signed certificate (made by openssl), as its URL."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_untrusted_certificate_is_reported_whole_with_the_ca_hint(tls_server: str) -> None:
    env = make_env()
    rc = run_command("check", ["--es-url", tls_server], env)
    line = _error_line(err(env))
    assert rc == ExitCode.UNAVAILABLE
    assert re.search(rf"TLS with {re.escape(tls_server)} failed: \[SSL: CERTIFICATE_VERIFY_FAILED\] certificate "
                     r"verify failed: self.signed certificate \(set output\.elasticsearch\.ca_file", line), line
    assert line.count("(") == line.count(")") and "plain HTTP" not in line
