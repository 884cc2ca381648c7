"""Packaging and fleet-install helpers: build the dist, serve one file, a Debian root, Ansible.

Everything here is real: `scripts/build-dist` builds the wheel, a stdlib HTTP server on
127.0.0.1 serves exactly one file, `debootstrap` builds a Debian 12 root, and `ansible-playbook`
drives it through the `community.general.chroot` connection.
"""

from __future__ import annotations

import datetime
import fcntl
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ANSIBLE_DIR = ROOT / "deploy" / "ansible"
ROOT_CACHE = Path(os.environ.get("SHIPPER_TEST_ROOT_CACHE", "/var/tmp/shipper-test-root"))
MIRROR = "http://deb.debian.org/debian"
# What a Debian host has before the role runs: Python for Ansible's modules. The role installs the rest.
ROOT_PACKAGES = ("python3",)
NEW_COMMANDS = ("print-unit", "print-config", "validate")


def build_dist(out: Path) -> dict[str, str]:
    """Run scripts/build-dist into ``out``; the SHA256SUMS it wrote as {file name: hash}."""
    proc = subprocess.run([str(ROOT / "scripts" / "build-dist"), str(out)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, f"scripts/build-dist failed:\n{proc.stderr[-3000:]}"
    sums = {}
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name.lstrip("*")] = digest
    return sums


def unregistered_commands() -> list[str]:
    """Commands of this issue that `shipper/cli.py` does not list yet (the lead registers them)."""
    text = (ROOT / "shipper" / "cli.py").read_text()
    listed = re.search(r"COMMANDS = \(([^)]*)\)", text)
    names = set(re.findall(r'"([\w-]+)"', listed.group(1))) if listed else set()
    return [c for c in NEW_COMMANDS if c not in names]


class OneFileServer:
    """Serves one file at ``/<name>`` on 127.0.0.1 (any other path: 404), in a thread."""

    def __init__(self, path: Path) -> None:
        body, name = path.read_bytes(), path.name

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:  # noqa: N802 (the stdlib's name); get_url's check mode asks HEAD
                if self.path != f"/{name}":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                self.do_HEAD()
                if self.path == f"/{name}":
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)  # (a thread left running makes the parallel replays of later tests spawn their workers)


def pristine_root() -> Path | str:
    """A Debian 12 minbase root with python3, built once a day and cached; or why it cannot be."""
    if os.geteuid() != 0:
        return "debootstrap and chroot need root"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (scripts/bootstrap test installs it)"
    ROOT_CACHE.mkdir(parents=True, exist_ok=True)
    target = ROOT_CACHE / f"bookworm-{datetime.date.today():%Y%m%d}"
    with open(ROOT_CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once build it once
        if (target / ".complete").exists():
            return target
        building = ROOT_CACHE / "building"
        shutil.rmtree(building, ignore_errors=True)
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(ROOT_PACKAGES)}", "bookworm",
             str(building), MIRROR], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            return f"debootstrap could not build a Debian 12 root from {MIRROR}: {' | '.join(tail)}"
        _trust_site_cas(building)
        (building / ".complete").touch()
        for old in ROOT_CACHE.glob("bookworm-*"):
            shutil.rmtree(old, ignore_errors=True)
        building.rename(target)
        return target


_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _trust_site_cas(root: Path) -> None:
    """Install, as site CAs of the root, the CAs this machine trusts beyond Debian's own.

    A fleet behind a TLS-inspecting proxy has its CA on every host; so must the test root, or
    pip inside it cannot reach the package index. A machine without such CAs adds nothing.
    The root's ca-certificates (installed by the role) picks them up from /usr/local/share.
    """
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.exists():
        return
    debian = {pem for crt in Path("/usr/share/ca-certificates").rglob("*.crt") for pem in _PEM.findall(crt.read_text())}
    extra = sorted(set(_PEM.findall(bundle.read_text())) - debian)
    site = root / "usr/local/share/ca-certificates"
    site.mkdir(parents=True, exist_ok=True)
    for i, pem in enumerate(extra):
        (site / f"site-ca-{i}.crt").write_text(pem + "\n")


def copy_root(pristine: Path, dest: Path) -> Path:
    """A private copy of the cached root (the role changes it)."""
    subprocess.run(["cp", "-a", str(pristine), str(dest)], check=True, timeout=600)
    return dest


def clean_env(home: Path) -> dict[str, str]:
    """An environment for Ansible without this machine's CA and proxy variables (they would
    leak into the chroot, whose files differ)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "ANSIBLE_HOME": str(home / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(home / "ansible-tmp"),
        "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
    }


def write_inventory(path: Path, root: Path, **variables: Any) -> Path:
    host = {"ansible_host": str(root), "ansible_connection": "community.general.chroot",
            "ansible_python_interpreter": "/usr/bin/python3", "ansible_become": False}
    inventory = {"shipper": {"hosts": {"testroot": host}, "vars": variables}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def run_playbook(inventory: Path, home: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(ANSIBLE_DIR / "site.yml"),
                           *options], capture_output=True, text=True, timeout=1200, env=clean_env(home), cwd=str(home))


def recap(output: str) -> dict[str, int]:
    """The PLAY RECAP counters of the one host (ok, changed, failed, ...)."""
    m = re.search(r"^testroot\s*:\s*(.+)$", output, re.M)
    assert m, f"no PLAY RECAP line in:\n{output[-3000:]}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def in_root(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"})


def fresh_venv(where: Path) -> Path:
    """A new virtualenv outside the repository; its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    return where / "bin"


def pip_install(bin_dir: Path, *args: str) -> None:
    proc = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", *args],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]


