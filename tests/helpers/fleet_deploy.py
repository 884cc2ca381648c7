"""The fleet tests' play: the inventory they deploy with, the handlers a play ran, and wheels as a
new build of shipper makes them (the same version rebuilt, or the next version)."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import zipfile
from pathlib import Path
from typing import NamedTuple

from tests.helpers.fleet import OneFileServer, run_playbook, write_inventory

API_KEY = "ZmxlZXQtdGVzdDprZXktdGhhdC1tdXN0LW5vdC1sZWFr"
ES_HOSTS = ["https://es1.example.org:9200"]
INPUTS = [{"type": "journal", "name": "journal"},
          {"type": "file", "name": "maillog", "paths": ["/var/log/mail.log*"], "exclude": ["*.gz"]}]

UNIT = "etc/systemd/system/shipper.service"
SITE_PACKAGES = "opt/shipper/lib/python3.11/site-packages"
RESTART_PENDING = "run/shipper-restart-pending"  # the role's record of a restart not done yet
# The handlers a play that restarts shipper runs: the restart, then the record of it due removed.
RESTART = ["Restart shipper", "Forget the restart recorded on the host"]


class Wheel(NamedTuple):
    path: Path
    sha256: str


def deploy(root: Path, url: str, sha256: str, home: Path, *options: str,
           **variables: object) -> subprocess.CompletedProcess[str]:
    """The play with the fleet tests' inventory (a keyed host writing to Elasticsearch, no systemd
    running); ``variables`` override its variables, ``options`` go to ansible-playbook."""
    inventory = write_inventory(
        home / "inventory.yml", root, **{
            "shipper_wheel_url": url, "shipper_wheel_sha256": sha256, "shipper_inputs": INPUTS,
            "shipper_elasticsearch_hosts": ES_HOSTS, "shipper_elasticsearch_namespace": "fleet",
            "shipper_elasticsearch_api_key": API_KEY, "shipper_service_running": False, **variables})
    return run_playbook(inventory, home, *options)


def played(root: Path, wheel: Wheel, home: Path, *options: str,
           **variables: object) -> subprocess.CompletedProcess[str]:
    """``deploy`` of ``wheel``, served on 127.0.0.1 for this play only."""
    server = OneFileServer(wheel.path)
    try:
        return deploy(root, server.url, wheel.sha256, home, *options, **variables)
    finally:
        server.close()


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"the play failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    return proc


def installed_code(root: Path) -> str:
    return (root / SITE_PACKAGES / "shipper/__init__.py").read_text()


def nothing_installed(root: Path) -> None:
    for path in ("opt/shipper", "etc/shipper", UNIT, "usr/local/bin/shipper"):
        assert not (root / path).exists(), path
    assert "shipper:" not in (root / "etc/passwd").read_text()


def handlers_run(output: str) -> list[str]:
    """The handlers a play ran (notified: with no systemd running they run and skip)."""
    return re.findall(r"^RUNNING HANDLER \[shipper : ([^\]]+)\]", output, re.M)


def rebuilt(wheel: Wheel, out: Path, marker: str, version: str | None = None) -> Wheel:
    """``wheel`` built again from changed sources: ``marker`` (a line of Python) appended to
    ``shipper/__init__.py``, and the version changed to ``version`` when given (file name,
    dist-info, METADATA, ``__version__``); RECORD says the new hashes, as a real build's does."""
    old = wheel.path.name.split("-")[1]
    new = version or old
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel.path) as src:
        for name in src.namelist():
            data = src.read(name)
            name = name.replace(f"shipper-{old}.dist-info/", f"shipper-{new}.dist-info/")
            if name == f"shipper-{new}.dist-info/METADATA":
                data = data.replace(f"\nVersion: {old}\n".encode(), f"\nVersion: {new}\n".encode(), 1)
            elif name == "shipper/__init__.py":
                data = data.replace(f'__version__ = "{old}"'.encode(), f'__version__ = "{new}"'.encode())
                data += f"{marker}\n".encode()
            files[name] = data
    record = f"shipper-{new}.dist-info/RECORD"
    lines = [f"{n},sha256={_digest(d)},{len(d)}" for n, d in files.items() if n != record] + [f"{record},,"]
    files[record] = ("\n".join(lines) + "\n").encode()
    path = out / wheel.path.name.replace(f"shipper-{old}-", f"shipper-{new}-")
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    return Wheel(path, hashlib.sha256(path.read_bytes()).hexdigest())


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
