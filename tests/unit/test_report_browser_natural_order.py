"""The report page lists hosts in the order a person counts them, in the host filter, the counts
table and the timeline's rows: host2 before host10 (it sorted host0, host1, host10, host11, host2)."""

from __future__ import annotations

from pathlib import Path

from shipper.env import Env
from tests.helpers.browser import Browser, browser, report_page  # noqa: F401 (browser: a fixture)

BIND = "NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use"
EXIT = "sendmail.service: Main process exited, code=exited, status=71/n/a"
HOSTS = [f"host{i}" for i in (0, 1, 2, 3, 9, 10, 11, 100)]


def test_hosts_with_numbers_in_natural_order(browser: Browser, tmp_path: Path, env: Env) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(f"Aug 30 14:{i:02d}:52 {host} sendmail[{i}]: {BIND}\n"
                           f"Aug 30 14:{i:02d}:58 {host} systemd[1]: {EXIT}\n" for i, host in enumerate(HOSTS[::-1])))
    page, causes = report_page([log], tmp_path, env)
    assert len(causes["incidents"]) == len(HOSTS)
    browser.open(page)
    assert browser.errors() == []
    options = browser.eval("Array.from(document.getElementById('f-host').options).map(function (o) { return o.value; })")
    assert options == ["", *HOSTS]
    rows = browser.eval("Array.from(document.querySelectorAll('#counts table')[0].querySelectorAll('tbody tr'))"
                        ".map(function (tr) { return tr.cells[0].textContent; })")
    assert rows == HOSTS
    # The timeline's first row is host0's: a click on it selects host0 (its rows are drawn on a canvas).
    browser.eval("var c = document.querySelector('#timeline canvas');"
                 "c.dispatchEvent(new MouseEvent('click', {clientX: c.getBoundingClientRect().left + 10,"
                 " clientY: c.getBoundingClientRect().top + 5}));")
    assert browser.eval("document.getElementById('f-host').value") == "host0"
    assert browser.errors() == []
