"""A failure after a text log's boot banner is never linked to an error from before the boot; its
hint said "no recognised error … in the last 10 minutes" though one was 4 minutes before (in the
previous boot): it now says since when it looked, as after a unit's start (found by a tester)."""

from __future__ import annotations

from tests.helpers.samples import enrich_all, parse_lines

LOG = [
    "Nov 28 08:00:00 gorp sendmail[100]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: "
    "Address already in use",
    "Nov 28 08:02:00 gorp kernel: Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) "
    "(gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)",
    "Nov 28 08:04:00 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/OSERR",
]


def test_a_failure_after_a_boot_says_it_looked_since_the_boot() -> None:
    docs = enrich_all(parse_lines(LOG, "syslog", year=2026))
    roles = [d["rootcause"]["role"] for d in docs]
    assert roles == ["cause", "boot", "failure"]
    failure = docs[2]["rootcause"]
    assert "cause" not in failure
    assert failure["hint"].startswith("no recognised error from sendmail.service in the last 2 minutes, "
                                      "since gorp booted at 08:02:00 UTC; look at "), failure["hint"]
    assert docs[0]["rootcause"].get("incident") != failure.get("incident")
