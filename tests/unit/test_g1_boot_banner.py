"""A text log tells no boot id: the kernel's banner at boot (``kernel: Linux version ...``) ends the
host's open incidents, as a new ``_BOOT_ID`` does in the journal. A sendmail SYSERR before a
reboot is not the cause of sendmail's failure after it, in one process and with workers (the same
bytes). A real host's /var/log/messages (loghub's Linux_2k: syslogd, a 2.6.5 kernel booting at
Jul 27 14:41:57) around two lines of a sendmail failure.

A user manager (``systemd[1562]``) runs one session's units: the real Fedora 37 text log of four
boots without an RTC (journalctl -o short-iso) has XSettings' dependency failure in four managers,
four incidents as in the binary journal, not one."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from helpers.samples import CORPUS
from shipper.cli import main
from shipper.env import Env

MESSAGES = CORPUS / "real" / "loghub" / "Linux_2k.log"
BOOT_LINE = 1908  # (1-based) syslogd's restart, then the kernel's banner
SYSERR = ("Jul 27 14:40:30 combo sendmail[2301]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: "
          "cannot bind: Address already in use")
FAILED = ["Jul 27 14:42:05 combo systemd[1]: sendmail.service: Main process exited, code=exited, status=71/OSERR",
          "Jul 27 14:42:05 combo systemd[1]: sendmail.service: Failed with result 'exit-code'."]
XSETTINGS = "org.gnome.SettingsDaemon.XSettings.service"


def _replay(log: Path, out: Path, *args: str) -> bytes:
    env = Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})
    assert main(["replay", "--quiet", "--output", "ndjson", "-o", str(out), "--timezone", "UTC", *args, str(log)],
                env) == 0, env.stderr.getvalue()  # type: ignore[attr-defined]
    return out.read_bytes()


def _recognised(ndjson: bytes) -> list[dict[str, Any]]:
    return [doc for doc in map(orjson.loads, ndjson.splitlines()) if "rootcause" in doc]


def _messages(tmp_path: Path, *, boot: bool) -> Path:
    lines = MESSAGES.read_text().splitlines()
    after = lines[BOOT_LINE - 1:] if boot else [line for line in lines[BOOT_LINE - 1:] if "Linux version" not in line]
    path = tmp_path / "messages"
    path.write_text("\n".join(lines[:BOOT_LINE - 1] + [SYSERR] + after + FAILED) + "\n")
    return path


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_failure_after_the_boot_banner_has_no_cause_from_before_it(tmp_path: Path, workers: str) -> None:
    docs = _recognised(_replay(_messages(tmp_path, boot=True), tmp_path / "out.ndjson", "--year", "2005",
                               "--workers", workers))
    by_signature = {d["rootcause"]["signature"]: d for d in docs}
    boot, syserr = by_signature["kernel.boot"], by_signature["sendmail.bind_address_in_use"]
    assert boot["rootcause"]["role"] == "boot" and boot["rootcause"]["title"] == "combo booted Linux 2.6.5-1.358"
    assert "incident" not in boot["rootcause"]
    failures = [d for d in docs if d["rootcause"]["role"] == "failure"]
    assert [d["rootcause"]["unit"] for d in failures] == ["sendmail.service"] * 2
    for failure in failures:
        assert failure["rootcause"]["incident"] != syserr["rootcause"]["incident"]
        assert "cause" not in failure["rootcause"]


def test_without_the_banner_the_same_lines_are_one_incident(tmp_path: Path) -> None:
    docs = _recognised(_replay(_messages(tmp_path, boot=False), tmp_path / "out.ndjson", "--year", "2005"))
    assert len({d["rootcause"]["incident"] for d in docs if d["rootcause"]["role"] != "boot"
                and d["@timestamp"] >= "2005-07-27T14:40"}) == 1


def test_workers_write_the_same_bytes(tmp_path: Path) -> None:
    log = _messages(tmp_path, boot=True)
    one = _replay(log, tmp_path / "one.ndjson", "--year", "2005", "--workers", "0")
    assert one == _replay(log, tmp_path / "two.ndjson", "--year", "2005", "--workers", "2")


@pytest.mark.parametrize("name", ["unit-lifecycle.short-iso.log", "journal.short-iso.log"])
def test_each_user_managers_dependency_failure_is_its_own_incident(tmp_path: Path, name: str) -> None:
    log = CORPUS / "derived" / "fedora37-no-rtc" / name
    docs = [d for d in _recognised(_replay(log, tmp_path / "out.ndjson"))
            if d["rootcause"]["signature"] == "systemd.dependency_failed" and XSETTINGS in d["message"]]
    managers = Counter((d["rootcause"]["incident"], d["process"]["pid"]) for d in docs)
    assert len(docs) >= 4 and len(managers) == 4 and len({i for i, _ in managers}) == 4
