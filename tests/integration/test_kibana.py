"""shipper's Kibana objects in a real Kibana (8.x and 9.x): import, fetch back, look at the dashboard.

Needs a Docker engine; skipped, with the reason printed (``-ra``), when there is none. Uses the
Elasticsearch clusters of ``deploy/docker-compose.yml`` (es8 on :9208, es9 on :9209, security on,
user ``elastic``) and starts one Kibana per cluster next to them. The demo archive is shipped to the
cluster first (``shipper setup`` and ``shipper replay --output es``) so the dashboard has something
to draw; the screenshot is saved under the test's temporary directory.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from shipper.cli import main
from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.env import Env
from shipper.setup.kibana import DASHBOARD_ID, import_saved_objects, saved_objects
from tests.helpers.browser import Browser, require_chromium, text

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ["docker", "compose", "-f", str(ROOT / "deploy" / "docker-compose.yml")]
PASSWORD = os.environ.get("ELASTIC_PASSWORD", "shipper-test-only")
KIBANA_PASSWORD = "kibana-test-only"
CLUSTERS = {  # major: (compose service, host port, Kibana image version)
    8: ("es8", 9208, os.environ.get("ES8_VERSION", "8.15.3")),
    9: ("es9", 9209, os.environ.get("ES9_VERSION", "9.1.0")),
}
PANEL_TITLES = ("Incidents over time, by signature", "Top failing units", "Top hosts", "Latest incidents",
                "Recognised lines and their hints")
ALL_RENDERED = ("(function () { var items = document.querySelectorAll('[data-shared-item]');"
                " return items.length >= 6 && Array.prototype.every.call(items, function (e) {"
                " return e.getAttribute('data-render-complete') === 'true'; }); })()")


def _docker_or_skip() -> None:
    if not shutil.which("docker"):
        pytest.skip("no docker command: the Kibana integration test needs a Docker engine")
    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["docker info failed"])[-1]
        pytest.skip(f"no Docker engine running ({reason})")


def _run(cmd: list[str], timeout: float = 900) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip()


def _http(method: str, url: str, body: Any = None, *, user: str = "elastic", password: str = PASSWORD) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
        "content-type": "application/json", "kbn-xsrf": "shipper-tests"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _wait(what: str, check: Any, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not ready after {timeout:.0f}s")
        time.sleep(3)


@pytest.fixture(scope="module", params=sorted(CLUSTERS), ids=lambda major: f"kibana{major}")
def kibana(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(Kibana URL, Elasticsearch URL) of a Kibana started next to the compose file's cluster."""
    _docker_or_skip()
    service, port, version = CLUSTERS[request.param]
    _run([*COMPOSE, "up", "-d", "--wait", service])
    es = f"http://127.0.0.1:{port}"
    status, _ = _http("POST", f"{es}/_security/user/kibana_system/_password", {"password": KIBANA_PASSWORD})
    assert status == 200, f"cannot set kibana_system's password on {service}"
    container = _run([*COMPOSE, "ps", "-q", service])
    network = _run(["docker", "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", container])
    name = f"shipper-test-kibana{request.param}"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    _run(["docker", "run", "-d", "--name", name, "--network", network, "-p", "127.0.0.1::5601",
          "-e", f"ELASTICSEARCH_HOSTS=http://{service}:9200", "-e", "ELASTICSEARCH_USERNAME=kibana_system",
          "-e", f"ELASTICSEARCH_PASSWORD={KIBANA_PASSWORD}", f"docker.elastic.co/kibana/kibana:{version}"])
    try:
        url = "http://" + _run(["docker", "port", name, "5601/tcp"]).splitlines()[0]
        _wait(f"Kibana {version}", lambda: _http("GET", f"{url}/api/status")[1]["status"]["overall"]["level"] == "available")
        yield url, es
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def _env() -> Env:
    return Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(),
               environ={"ELASTIC_PASSWORD": PASSWORD, "TZ": "UTC"})


def _ship_demo(es: str, tmp: Path) -> None:
    config = tmp / "shipper.yml"
    config.write_text(f"state_dir: {tmp / 'state'}\noutput:\n  elasticsearch:\n    hosts: [{es}]\n"
                      "    username: elastic\n    password_env: ELASTIC_PASSWORD\n")
    for argv in (["setup", "--config", str(config)],
                 ["replay", "--output", "es", "--config", str(config), "--timezone", "UTC", "--year", "2017",
                  "--quiet", str(ROOT / "demo" / "logs")]):
        env = _env()
        assert main(argv, env) == 0, f"shipper {argv[0]}: {text(env.stderr)}"
    _http("POST", f"{es}/logs-shipper.*/_refresh")


def test_import_fetch_back_and_screenshot(kibana: tuple[str, str], tmp_path: Path) -> None:
    url, es = kibana
    cfg = ElasticsearchOutput(username="elastic", password_env="ELASTIC_PASSWORD")
    first = import_saved_objects(url, cfg, _env())
    assert first.ok, first.lines()
    again = import_saved_objects(url, cfg, _env())
    assert {o.outcome for o in again.objects} == {"updated"}, again.lines()

    status, dashboard = _http("GET", f"{url}/api/saved_objects/dashboard/{DASHBOARD_ID}")
    assert status == 200 and dashboard["attributes"]["title"] == "Root causes"
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert len(panels) == 6 and {p.get("title") for p in panels} >= set(PANEL_TITLES)
    for line in saved_objects().splitlines():
        obj = json.loads(line)
        status, got = _http("GET", f"{url}/api/saved_objects/{obj['type']}/{obj['id']}")
        assert status == 200 and not got.get("error"), f"{obj['type']} {obj['id']}: {got}"

    _ship_demo(es, tmp_path)
    require_chromium()
    with Browser(tmp_path / "profile", width=1600, height=1400) as browser:
        browser.send("Page.navigate", {"url": f"{url}/login"})  # the login request must come from Kibana's origin
        browser.wait("location.pathname.indexOf('/login') >= 0 && document.readyState === 'complete'", timeout=120)
        login = {"providerType": "basic", "providerName": "basic", "currentURL": f"{url}/login",
                 "params": {"username": "elastic", "password": PASSWORD}}
        assert browser.eval(f"fetch('/internal/security/login', {{method: 'POST', headers: {{'kbn-xsrf': 'x',"
                            f" 'content-type': 'application/json'}}, body: JSON.stringify({json.dumps(login)})}})"
                            ".then(function (r) {{ return r.status; }})") == 200
        window = "_g=(time:(from:'2017-06-01T00:00:00.000Z',to:'2017-09-30T00:00:00.000Z'))"
        browser.send("Page.navigate", {"url": f"{url}/app/dashboards#/view/{DASHBOARD_ID}?{window}"})
        browser.wait(ALL_RENDERED, timeout=300)
        text = browser.eval("document.body.innerText")
        shot = browser.screenshot(tmp_path / "kibana-dashboard.png", full_page=True)
    for title in PANEL_TITLES:
        assert title in text, f"panel {title!r} not on the page"
    assert "How to read this dashboard" in text and "gorp" in text
    assert shot.stat().st_size > 50_000
