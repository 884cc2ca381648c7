"""Docker-gated fixtures: Elasticsearch 8.x and 9.x from deploy/docker-compose.yml (security on).

pytest-docker *errors* when no Docker engine runs; these fixtures look first (docker CLI, a
running engine, the compose plugin, images that can be pulled) and SKIP with the reason instead.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
PASSWORD = "shipper-test-only"  # the compose file's default ELASTIC_PASSWORD
PORTS = {"es8": 9208, "es9": 9209}


def _run(*cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def docker_ready() -> None:
    """Skip (with the reason) unless Docker, its engine, compose and the images are all there."""
    if shutil.which("docker") is None:
        pytest.skip("integration tests need Docker: no `docker` command on this machine")
    try:
        if _run("docker", "info").returncode != 0:
            pytest.skip("integration tests need Docker: no Docker engine is running (`docker info` failed)")
        if _run("docker", "compose", "version").returncode != 0:
            pytest.skip("integration tests need the Docker compose plugin (`docker compose version` failed)")
        pulled = _run("docker", "compose", "-f", str(COMPOSE), "pull", "es8", "es9", timeout=1800)
    except subprocess.TimeoutExpired as exc:
        pytest.skip(f"integration tests: `{' '.join(map(str, exc.cmd))}` timed out")
    if pulled.returncode != 0:
        pytest.skip(f"integration tests: the Elasticsearch images cannot be pulled: {pulled.stderr.strip()[-300:]}")


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return "shipper"  # the compose file's own name: tests that run `docker compose` directly share the project


def _answers(url: str) -> bool:
    req = urllib.request.Request(url, headers={"Authorization": "Basic " + b64encode(f"elastic:{PASSWORD}".encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=3) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def clusters(docker_ready: None, request: pytest.FixtureRequest) -> dict[str, str]:
    """The URLs of the running es8 and es9 services (started by pytest-docker, stopped at the end)."""
    services: Any = request.getfixturevalue("docker_services")
    urls = {}
    for name, port in PORTS.items():
        url = f"http://127.0.0.1:{port}"
        services.wait_until_responsive(timeout=300.0, pause=2.0, check=lambda u=url: _answers(u))
        urls[name] = url
    return urls
