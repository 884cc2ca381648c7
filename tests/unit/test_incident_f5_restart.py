"""After the unit started again (a ``recovery``: ``Started Sendmail Mail Transport Agent.``), a
failure with no cause says that nothing was recognised *since that start*, not "in the last 10
minutes" (which would reach back before it); and the incident the start ended says when the unit
was running again, in ``shipper causes`` (text and JSON) and on the report's card.

Real replays of tests/data/incident_bounds/crosslink.log (sendmail's SYSERR at 14:50, its start at
14:53, a SIGKILL at 14:58), the report opened in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.cli import shipper_out
from helpers.samples import enrich_all, parse_lines
from shipper.env import Env
from shipper.event import get_path
from tests.helpers.browser import Browser, browser, report_page  # noqa: F401 (browser: a fixture)

CROSSLINK = Path(__file__).resolve().parents[1] / "data" / "incident_bounds" / "crosslink.log"
KILLED = ["Aug 30 {at} gorp systemd[1]: sendmail.service: Main process exited, code=killed, status=9/KILL",
          "Aug 30 {at} gorp systemd[1]: sendmail.service: Failed with result 'signal'."]


def _causes(tmp_path: Path, *fmt: str) -> str:
    store = str(tmp_path / "s.db")
    shipper_out(tmp_path, "replay", "--quiet", "--store", store, "--timezone", "UTC", "--year", "2024", str(CROSSLINK))
    return shipper_out(tmp_path, "causes", "--store", store, *fmt)


def _sendmail(incidents: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    errors, killed = sorted((i for i in incidents if i["unit"] == "sendmail.service"), key=lambda i: i["first"])
    return errors, killed


def test_a_failure_after_a_start_says_it_looked_since_the_start(tmp_path: Path) -> None:
    errors, killed = _sendmail(json.loads(_causes(tmp_path, "--format", "json"))["incidents"])
    # (read back from the store and linked again: the preamble is not doubled)
    assert killed["hint"].startswith("no recognised error from sendmail.service in the last 5 minutes, since it "
                                     "started again at 14:53:00 UTC; look at /var/log/maillog")
    assert killed["hint"].count("no recognised error") == 1
    assert killed["recovered"] is None


def test_the_incident_the_start_ended_says_it_runs_again(tmp_path: Path) -> None:
    incidents = json.loads(_causes(tmp_path, "--format", "json"))["incidents"]
    errors, _ = _sendmail(incidents)
    assert errors["recovered"] == "2024-08-30T14:53:00.000000Z"
    assert errors["when"] == "2024-08-30T14:50:00.000000Z"  # its errors, not the start
    assert [i["recovered"] for i in incidents if i is not errors] == [None] * (len(incidents) - 1)
    text = _causes(tmp_path / "t")
    block = text[text.index("sendmail.service: errors, no failure seen"):]
    assert block.splitlines()[1] == "    running again at 14:53:00"
    assert text.count("running again") == 1


def test_a_start_more_than_a_window_before_is_not_named() -> None:
    lines = ["Aug 30 14:50:00 gorp sendmail[100]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: "
             "Address already in use",
             "Aug 30 14:53:00 gorp systemd[1]: Started Sendmail Mail Transport Agent.",
             *(line.format(at="15:04:00") for line in KILLED)]
    docs = enrich_all(parse_lines(lines, year=2024))
    hint = get_path(docs[-1], "rootcause.hint")
    assert hint.startswith("no recognised error from sendmail.service in the last 10 minutes; look at"), hint


def test_the_card_says_when_it_runs_again(browser: Browser, tmp_path: Path, env: Env) -> None:  # noqa: F811
    page, causes = report_page([CROSSLINK], tmp_path, env, year=2024)
    errors, _ = _sendmail(causes["incidents"])
    browser.open(page)
    assert browser.errors() == []
    rows = browser.eval("Array.from(document.querySelectorAll('#incident-" + errors["id"] + " dt')).map("
                        "function (d) { return [d.textContent, d.nextSibling.textContent]; })")
    assert ["Running again", "at 14:53:00"] in rows
    marks = browser.eval("Array.from(document.querySelectorAll('#incident-" + errors["id"] + " .l.recovery'))"
                         ".map(function (s) { return s.textContent; })")
    assert len(marks) == 1 and "Started Sendmail Mail Transport Agent." in marks[0]
