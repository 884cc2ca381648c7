"""deploy/ansible: lint-clean in the production profile, a valid playbook, and the checksum of
the wheel comes from the inventory (never fetched from the server that serves the wheel)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers.fleet import ANSIBLE_DIR, clean_env

BIN = Path(sys.executable).parent
ROLE = ANSIBLE_DIR / "roles" / "shipper"


def test_ansible_lint_production_profile_passes(tmp_path: Path) -> None:
    proc = subprocess.run([str(BIN / "ansible-lint"), "--profile", "production", "--offline", "--nocolor",
                           "site.yml", "roles/shipper"], capture_output=True, text=True, cwd=ANSIBLE_DIR,
                          env=clean_env(tmp_path), timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


def test_the_playbook_passes_the_syntax_check(tmp_path: Path) -> None:
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "inventory.example.yml", "--syntax-check",
                           "site.yml"], capture_output=True, text=True, cwd=ANSIBLE_DIR,
                          env=clean_env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_wheel_is_verified_against_the_inventory_checksum_only() -> None:
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    fetch = [t for t in tasks if "ansible.builtin.get_url" in t]
    assert len(fetch) == 1 and fetch[0]["ansible.builtin.get_url"]["checksum"] == "sha256:{{ shipper_wheel_sha256 }}"
    role_text = "\n".join(p.read_text() for p in ROLE.rglob("*.yml"))
    assert not re.search(r"lookup\(\s*['\"]url|query\(\s*['\"]url", role_text)  # the seed's anti-pattern
    # installing comes after the verified download: nothing is touched for a payload that does not match
    names = [next(k for k in t if k.startswith("ansible.builtin.")) for t in tasks]
    assert names.index("ansible.builtin.get_url") < min(names.index(m) for m in (
        "ansible.builtin.apt", "ansible.builtin.user", "ansible.builtin.pip", "ansible.builtin.template"))


def test_every_role_variable_is_in_the_example_inventory_and_the_readme() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    inventory = yaml.safe_load((ANSIBLE_DIR / "inventory.example.yml").read_text())["shipper"]["vars"]
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    readme = (ANSIBLE_DIR / "README.md").read_text()
    assert set(defaults) == set(inventory) == set(specs)
    assert [v for v in defaults if f"`{v}`" not in readme] == []
