"""Causes that tell no host (pasted excerpts) are linked by what they do tell: their program. Host
"-" alone joined three errors of three programs pasted together
(tests/data/corpus/excerpts/sendmail/sendmail-syserr-no-timestamp.txt) into one incident. A
program that restarts (a new PID) is still one incident."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from helpers.cli import shipper_out
from helpers.samples import CORPUS

MTIME = 1_700_000_000  # the lines carry no time: the file's modification time dates them


def _incidents(tmp_path: Path, *logs: Path) -> list[dict[str, Any]]:
    store = str(tmp_path / "s.db")
    shipper_out(tmp_path, "replay", "--quiet", "--store", store, "--timezone", "UTC", *map(str, logs))
    return list(json.loads(shipper_out(tmp_path, "causes", "--store", store, "--format", "json"))["incidents"])


def _pasted(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines))
    os.utime(path, (MTIME, MTIME))
    return path


def test_errors_of_three_programs_pasted_together_are_three_incidents(tmp_path: Path) -> None:
    incidents = _incidents(tmp_path, CORPUS / "excerpts" / "sendmail" / "sendmail-syserr-no-timestamp.txt")
    assert sorted(len(i["causes"]) for i in incidents) == [1, 1, 1]
    assert sorted(i["causes"][0]["message"][:36] for i in incidents) == [
        "451 4.0.0 opendaemonsocket: daemon M", "NOQUEUE: SYSERR(root): /etc/mail/sen", "NOQUEUE: SYSERR(root): hash map \"acc"]


def test_a_program_that_restarts_stays_one_incident(tmp_path: Path) -> None:
    syserr = "NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use"
    log = _pasted(tmp_path, "maillog", f"sendmail[100]: {syserr}", f"sendmail[101]: {syserr}",
                  "systemd[1]: sendmail.service: Failed with result 'exit-code'.")
    (incident,) = _incidents(tmp_path, log)
    assert incident["causes"][0]["count"] == 2 and incident["failure"] is not None
