"""deploy/shipper.service sets the open-file limit: every journal writer (one per host in a
journal-remote directory) holds 2 descriptors per file it reads, and the daemon does not raise its
own limit (systemd's default soft limit, 1024, ran out at a few hundred hosts)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_run_unit import settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_unit_sets_a_limit_of_open_files_for_hundreds_of_hosts() -> None:
    s = settings()
    (limit,) = s["LimitNOFILE"]
    assert int(limit) >= 2 * 2 * 5000  # 5,000 files to read at once (e.g. 500 hosts, 10 archives each)
    assert "@resources" in s["SystemCallFilter"][-1]  # (why the daemon leaves its limits to the unit)


def test_the_packaged_copy_is_the_same() -> None:
    assert (ROOT / "deploy" / "shipper.service").read_text() == (ROOT / "shipper" / "assets" / "deploy" / "shipper.service").read_text()
