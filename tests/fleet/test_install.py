"""The Ansible role installs shipper into a real Debian 12 root (debootstrap), driven through the
chroot connection, from a wheel served on 127.0.0.1 and verified against the inventory's checksum.

Slow-ish (a Debian root, apt and pip inside it): about 40 s, plus about 45 s the first time each
day, when debootstrap builds the cached root.
Skips, saying why, where no root can be built (not root, no debootstrap, no Debian mirror).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.helpers.fleet import ROOT, OneFileServer, copy_root, in_root, recap
from tests.helpers.fleet_deploy import API_KEY, ES_HOSTS, INPUTS, Wheel, deploy

pytestmark = pytest.mark.slow


class Play(NamedTuple):
    root: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def play(pristine: Path, served: str, wheel: Wheel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Play]:
    work = tmp_path_factory.mktemp("fleet")
    root = copy_root(pristine, work / "root")
    first = deploy(root, served, wheel.sha256, work / "home")
    assert first.returncode == 0, f"the play failed:\n{first.stdout[-6000:]}\n{first.stderr[-2000:]}"
    second = deploy(root, served, wheel.sha256, work / "home")
    yield Play(root, first, second)
    shutil.rmtree(root)  # a few hundred MB; pytest keeps its last three temp areas


@pytest.fixture(scope="module")
def unkeyed(play: Play, served: str, wheel: Wheel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Play]:
    """A copy of the keyed host played again with the example inventory's defaults: no
    Elasticsearch, no API key (events go to the local store)."""
    work = tmp_path_factory.mktemp("unkeyed")
    root = copy_root(play.root, work / "root")
    first = deploy(root, served, wheel.sha256, work / "home", shipper_elasticsearch_hosts=[],
                   shipper_elasticsearch_api_key="")
    assert first.returncode == 0, f"the play failed:\n{first.stdout[-6000:]}\n{first.stderr[-2000:]}"
    second = deploy(root, served, wheel.sha256, work / "home", shipper_elasticsearch_hosts=[],
                    shipper_elasticsearch_api_key="")
    yield Play(root, first, second)
    shutil.rmtree(root)


def unit_files(root: Path) -> list[str]:
    """The files systemd (the root's own, 252 on Debian 12) reads for shipper.service: the unit and
    its drop-ins, as `systemd-analyze verify` lists them in its debug dump of the unit."""
    proc = subprocess.run(["chroot", str(root), "systemd-analyze", "verify", "/etc/systemd/system/shipper.service"],
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "SYSTEMD_LOG_LEVEL": "debug"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = re.findall(r"^\s*(?:Fragment|DropIn) Path: (/\S+)$", proc.stdout, re.M)
    assert files and files[0] == "/etc/systemd/system/shipper.service", proc.stdout[-3000:]
    return files


def loaded_credentials(root: Path) -> dict[str, str]:
    """{credential id: path} of every LoadCredential= in the files systemd reads for the unit."""
    found = {}
    for name in unit_files(root):
        for value in re.findall(r"^\s*LoadCredential\s*=\s*(\S+)", (root / name.lstrip("/")).read_text(), re.M):
            cred_id, _, path = value.partition(":")
            found[cred_id] = path
    return found


def owner(root: Path, path: str) -> tuple[str, str, int]:
    """(user, group, permission bits) of ``path`` inside ``root``, names from the root's own files."""
    st = os.lstat(root / path.lstrip("/"))
    users = {int(f[2]): f[0] for f in (ln.split(":") for ln in (root / "etc/passwd").read_text().splitlines())}
    groups = {int(f[2]): f[0] for f in (ln.split(":") for ln in (root / "etc/group").read_text().splitlines())}
    return users[st.st_uid], groups[st.st_gid], stat.S_IMODE(st.st_mode)


def test_the_first_run_installs_and_never_prints_the_api_key(play: Play) -> None:
    counts = recap(play.first.stdout)
    assert counts["failed"] == 0 and counts["changed"] >= 8
    assert API_KEY not in play.first.stdout + play.first.stderr


def test_the_second_run_changes_nothing(play: Play) -> None:
    assert play.second.returncode == 0, play.second.stdout[-4000:]
    counts = recap(play.second.stdout)
    assert counts["changed"] == 0 and counts["failed"] == 0, play.second.stdout[-4000:]
    assert "RUNNING HANDLER" not in play.second.stdout


def test_files_owners_and_modes(play: Play) -> None:
    root = play.root
    assert owner(root, "/etc/shipper") == ("root", "shipper", 0o750)
    assert owner(root, "/etc/shipper/shipper.yml") == ("root", "shipper", 0o640)
    assert owner(root, "/etc/shipper/es_api_key") == ("root", "shipper", 0o600)
    assert (root / "etc/shipper/es_api_key").read_text() == API_KEY + "\n"
    assert owner(root, "/etc/systemd/system/shipper.service") == ("root", "root", 0o644)
    unit = (root / "etc/systemd/system/shipper.service").read_text()
    assert unit == (ROOT / "deploy" / "shipper.service").read_text()
    drop_in = "etc/systemd/system/shipper.service.d/credentials.conf"
    assert owner(root, "/" + drop_in) == ("root", "root", 0o644)
    assert (root / drop_in).read_text() == (ROOT / "deploy" / "shipper.service.d" / "credentials.conf").read_text()
    assert os.readlink(root / "usr/local/bin/shipper") == "/opt/shipper/bin/shipper"
    assert os.readlink(root / "etc/systemd/system/multi-user.target.wants/shipper.service") == \
        "/etc/systemd/system/shipper.service"  # enabled
    wheels = list((root / "var/cache/shipper").iterdir())
    assert len(wheels) == 1 and owner(root, f"/var/cache/shipper/{wheels[0].name}")[2] == 0o644


def test_the_shipper_user_reads_logs_through_its_groups(play: Play) -> None:
    entry = next(ln for ln in (play.root / "etc/passwd").read_text().splitlines() if ln.startswith("shipper:"))
    _, _, uid, _, _, home, shell = entry.split(":")
    assert int(uid) < 1000 and shell == "/usr/sbin/nologin" and home == "/var/lib/shipper"
    groups = in_root(play.root, "id", "-nG", "shipper").stdout.split()
    assert set(groups) == {"shipper", "systemd-journal", "adm"}


def test_the_installed_shipper_runs_and_reads_the_journal(play: Play, wheel: Wheel) -> None:
    version = in_root(play.root, "/opt/shipper/bin/shipper", "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"shipper {wheel.path.name.split('-')[1]}"
    # systemd-python comes from Debian's python3-systemd through --system-site-packages
    journal = in_root(play.root, "/opt/shipper/bin/python", "-c", "import systemd.journal as j; print(j.__file__)")
    assert journal.returncode == 0 and journal.stdout.startswith("/usr/lib/python3/dist-packages/systemd/")
    # and the wheel's C reader of entries loads there and knows Debian's systemd-python reader, and
    # its C builder of documents and the replay's express lane load too
    native = in_root(play.root, "/opt/shipper/bin/python", "-c",
                     "from shipper.sources.journal_entries import native_reader; "
                     "from shipper.parse.journal_fields import NATIVE; from shipper.parallel import express; "
                     "print(native_reader() is not None, NATIVE, express.NATIVE)")
    assert native.returncode == 0 and native.stdout.strip() == "True True True", native.stderr


def test_the_templated_config_is_valid_and_says_what_the_inventory_said(play: Play) -> None:
    proc = in_root(play.root, "shipper", "validate", "--config", "/etc/shipper/shipper.yml")
    assert proc.returncode == 0, proc.stderr
    assert "config valid" in proc.stdout and "inputs: journal, file" in proc.stdout
    import yaml

    cfg = yaml.safe_load((play.root / "etc/shipper/shipper.yml").read_text())
    assert cfg["inputs"] == INPUTS
    assert cfg["output"]["elasticsearch"] == {
        "hosts": ES_HOSTS, "namespace": "fleet", "api_key_file": "/run/credentials/shipper.service/es_api_key"}


def test_systemd_accepts_the_installed_unit(play: Play) -> None:
    proc = in_root(play.root, "systemd-analyze", "verify", "/etc/systemd/system/shipper.service")
    assert proc.returncode == 0, proc.stderr
    assert "shipper.service" not in proc.stderr  # no warning about our unit (a chroot may warn about others)


def test_a_wheel_that_does_not_match_the_checksum_fails_before_anything_is_installed(
        pristine: Path, wheel: Wheel, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered" / wheel.path.name
    tampered.parent.mkdir()
    tampered.write_bytes(wheel.path.read_bytes() + b"\0")  # the server's copy was replaced
    assert hashlib.sha256(tampered.read_bytes()).hexdigest() != wheel.sha256
    root = copy_root(pristine, tmp_path / "root")
    server = OneFileServer(tampered)
    try:
        proc = deploy(root, server.url, wheel.sha256, tmp_path / "home")
    finally:
        server.close()
    assert proc.returncode != 0 and recap(proc.stdout)["failed"] == 1
    assert f"did not match {wheel.sha256}" in proc.stdout, proc.stdout[-3000:]
    for path in ("opt/shipper", "etc/shipper", "etc/systemd/system/shipper.service", "usr/local/bin/shipper"):
        assert not (root / path).exists(), path
    assert list((root / "var/cache/shipper").iterdir()) == []
    assert "shipper:" not in (root / "etc/passwd").read_text()
    venv_pkg = in_root(root, "dpkg-query", "-W", "-f=${Status}", "python3-venv")
    assert "install ok installed" not in venv_pkg.stdout  # not even the OS packages
    shutil.rmtree(root)


def test_with_a_key_systemd_loads_it_from_a_file_that_is_there(play: Play) -> None:
    assert loaded_credentials(play.root) == {"es_api_key": "/etc/shipper/es_api_key"}
    assert (play.root / "etc/shipper/es_api_key").is_file()


def test_without_a_key_the_unit_loads_no_credential_and_the_key_is_gone(unkeyed: Play) -> None:
    """A missing LoadCredential= file fails the start (243/CREDENTIALS): the host played first with
    a key, then with the example inventory's defaults, has no key, no drop-in and no credential."""
    counts = recap(unkeyed.first.stdout)
    assert counts["failed"] == 0 and counts["changed"] >= 2, unkeyed.first.stdout[-4000:]
    assert recap(unkeyed.second.stdout)["changed"] == 0, unkeyed.second.stdout[-4000:]
    root = unkeyed.root
    assert loaded_credentials(root) == {}
    assert unit_files(root) == ["/etc/systemd/system/shipper.service"]
    assert not (root / "etc/shipper/es_api_key").exists()
    assert not (root / "etc/systemd/system/shipper.service.d/credentials.conf").exists()
    import yaml

    cfg = yaml.safe_load((root / "etc/shipper/shipper.yml").read_text())
    assert "output" not in cfg  # the local store: nothing refers to the credential
    proc = in_root(root, "shipper", "validate", "--config", "/etc/shipper/shipper.yml")
    assert proc.returncode == 0 and "outputs: none" in proc.stdout, proc.stdout + proc.stderr
