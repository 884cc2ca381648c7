"""deploy/shipper.service: systemd accepts it as it is, and it keeps its promises (notify,
watchdog, restart, state directory, journal access, hardening)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "shipper.service"
ANALYZE = shutil.which("systemd-analyze")


def settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def installed(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at a binary that exists here (verify checks it)."""
    shipper = shutil.which("shipper") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "shipper")
    target = tmp_path / "shipper.service"
    target.write_text(UNIT.read_text().replace("/usr/local/bin/shipper", shipper))
    return target


def test_the_unit_declares_what_the_daemon_relies_on() -> None:
    s = settings()
    assert s["Type"] == ["notify"] and s["Restart"] == ["on-failure"] and s["WatchdogSec"] == ["60s"]
    assert s["StateDirectory"] == ["shipper"]
    assert set(s["SupplementaryGroups"][0].split()) == {"systemd-journal", "adm"}
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"] and s["CapabilityBoundingSet"] == [""]
    assert s["ExecStart"][0].split()[1:] == ["run", "--config", "/etc/shipper/shipper.yml"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_it_without_a_warning(tmp_path: Path) -> None:
    unit = installed(tmp_path)
    proc = subprocess.run([str(ANALYZE), "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "" and proc.stdout.strip() == ""  # unknown keys are only warnings: none here


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_a_broken_unit_is_caught_by_the_same_check(tmp_path: Path) -> None:
    unit = installed(tmp_path)
    unit.write_text(unit.read_text().replace("Restart=on-failure", "Restart=on-failure\nRestartt=always"))
    proc = subprocess.run([str(ANALYZE), "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert "Unknown key" in proc.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_exposure_is_low(tmp_path: Path) -> None:
    proc = subprocess.run([str(ANALYZE), "security", "--offline=yes", str(installed(tmp_path))],
                          capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", proc.stdout + proc.stderr)
    if m is None:
        pytest.skip(f"this systemd-analyze cannot assess units offline: {proc.stderr.strip()[:200]}")
    assert float(m.group(1)) <= 2.0
