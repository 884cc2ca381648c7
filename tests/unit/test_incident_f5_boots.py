"""An incident never spans two boots of a host: the same unit failing in the next boot, within the
window, is a new incident, and a cause logged in the first boot is not its cause. A host without a
real-time clock starts every boot at the same time, so the clock cannot tell the boots apart; the
journal's boot id does.

Real journal files (systemd-journal-remote, from export text). The entries carry no invocation
id (as before systemd v232, and as lines forwarded without it): the boot id alone separates them."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.journal import export_entry, make_journal
from helpers.samples import enrich_all, parse_paths
from shipper.event import Doc, get_path

BOOTS = ("5ea5fc4f82a14186b5332a788ef9435e", "bea6862c11e94f5c8d1a5b8b3d4d1a2b")
BASE = 1_504_104_947_000_000  # 2017-08-30T14:55:47Z
SYSERR = "NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use"


def _entry(boot: str, seconds: float, message: str, *, seq: int) -> bytes:
    fields: dict[str, str | bytes] = {"__REALTIME_TIMESTAMP": str(BASE + int(seconds * 1_000_000)), "_BOOT_ID": boot,
                                      "MESSAGE": message, "_HOSTNAME": "pi"}
    if message == SYSERR:
        fields.update(SYSLOG_IDENTIFIER="sendmail", _PID="2409", _COMM="sendmail", _SYSTEMD_UNIT="sendmail.service")
    else:
        fields.update(SYSLOG_IDENTIFIER="systemd", _PID="1", _COMM="systemd", _SYSTEMD_UNIT="init.scope",
                      UNIT="sendmail.service")
    return export_entry(fields, seq=seq)


def _failure(boot: str, at: float, seq: int) -> bytes:
    return (_entry(boot, at, "sendmail.service: Main process exited, code=exited, status=71/OSERR", seq=seq)
            + _entry(boot, at, "sendmail.service: Failed with result 'exit-code'.", seq=seq + 1))


def _linked(tmp_path: Path, second_boot_at: float) -> list[Doc]:
    first = _entry(BOOTS[0], 0, SYSERR, seq=0) + _failure(BOOTS[0], 5, seq=1)
    second = _failure(BOOTS[1], second_boot_at + 5, seq=10)
    make_journal(tmp_path / "journal", first + second)
    return [d for d in enrich_all(parse_paths([tmp_path / "journal"])) if get_path(d, "rootcause.incident")]


@pytest.mark.parametrize("second_boot_at", [60.0, 0.0], ids=["a minute later", "no RTC: the same clock"])
def test_a_failure_in_the_next_boot_is_a_new_incident_without_the_first_boots_cause(
        tmp_path: Path, second_boot_at: float) -> None:
    docs = _linked(tmp_path, second_boot_at)
    by_boot: dict[str, set[str]] = {}
    for doc in docs:
        by_boot.setdefault(doc["journald"]["boot_id"], set()).add(doc["rootcause"]["incident"])
    assert [len(by_boot[b]) for b in BOOTS] == [1, 1] and by_boot[BOOTS[0]] != by_boot[BOOTS[1]]
    first, second = ([d for d in docs if d["journald"]["boot_id"] == b and d["rootcause"]["role"] == "failure"]
                     for b in BOOTS)
    assert all(d["rootcause"]["cause"]["signature"] == "sendmail.bind_address_in_use" for d in first)
    assert second and all("cause" not in d["rootcause"] for d in second)
    assert all(d["rootcause"]["hint"].startswith("no recognised error from sendmail.service") for d in second)
