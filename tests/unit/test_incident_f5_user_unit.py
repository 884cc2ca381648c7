"""A failure of a user manager's unit (``systemd[2900]``, not PID 1) with no cause points at its
journal as a user unit's is read: ``journalctl -b --user-unit UNIT`` (``-u`` names a system unit of
that name, or none). Its remediation already did; the no-cause sentence said ``-u``."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import shipper_out
from helpers.samples import CORPUS
from shipper.enrich import hints

USER_MANAGER = CORPUS / "excerpts" / "systemd" / "ubuntu20.04-user-manager-71-OSERR.log"


def test_the_no_cause_sentence_of_a_user_unit_says_user_unit(tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    shipper_out(tmp_path, "replay", "--quiet", "--store", store, "--timezone", "UTC", "--year", "2020", str(USER_MANAGER))
    incidents = json.loads(shipper_out(tmp_path, "causes", "--store", store, "--format", "json"))["incidents"]
    hints_of = {i["unit"]: i["hint"] for i in incidents}
    assert set(hints_of) == {"gnome-keyring-ssh.service", "xdg-permission-store.service"}
    for unit, hint in hints_of.items():
        assert hint.startswith(f"no recognised error from {unit} in the last 10 minutes; look at "
                               f"`journalctl -b --user-unit {unit}` and"), hint
        assert " -u " not in hint


def test_a_units_own_place_to_look_gets_user_commands_too() -> None:
    look_at = "/var/log/app.log and `journalctl -b -u app.service`"
    assert hints.no_cause_hint("app.service", 600, look_at, "", user=True).startswith(
        "no recognised error from app.service in the last 10 minutes; look at /var/log/app.log and "
        "`journalctl -b --user-unit app.service`.")
    assert "`journalctl -b -u app.service`" in hints.no_cause_hint("app.service", 600, look_at, "")
