"""The report page shows an incident's consequences (the dependency failures listed under the unit
that failed: `shipper causes` prints "consequences: ..."), as text, with bidi controls visible.
It did not show them: the JSON had them, the card did not.

Real replays of the tester's log (tests/data/tester/sysd.log) and of hostile lines, the report
written by the command, opened in headless Chromium.
"""

from __future__ import annotations

from pathlib import Path

from shipper.env import Env
from tests.helpers.browser import Browser, browser, report_page  # noqa: F401 (browser: a fixture)

ROOT = Path(__file__).resolve().parents[2]
TESTER = ROOT / "tests" / "data" / "tester" / "sysd.log"
MOUNT = ["Mar  1 13:00:00 app3 systemd[1]: data.mount: Mount process exited, code=exited, status=32/n/a",
         "Mar  1 13:00:00 app3 systemd[1]: data.mount: Failed with result 'exit-code'."]
HOSTILE = "Local \u202eFile<img src=x onerror=window.pwned=1> Systems"

# Per card: the labels of its rows and the items of its consequences list.
ROWS = """Array.from(document.querySelectorAll('article.incident')).map(function (a) {
  return [a.id, Array.from(a.querySelectorAll('dt')).map(function (d) { return d.textContent; }),
          Array.from(a.querySelectorAll('ul.consequences li')).map(function (li) { return li.textContent; })];
})"""


def _cards(browser: Browser) -> dict[str, tuple[list[str], list[str]]]:
    return {card_id: (labels, items) for card_id, labels, items in browser.eval(ROWS)}


def test_the_card_of_the_failed_mount_lists_what_did_not_start_because_of_it(browser: Browser, tmp_path: Path,
                                                                             env: Env) -> None:
    page, causes = report_page([TESTER], tmp_path, env, year=2024)
    with_consequences = [inc for inc in causes["incidents"] if inc["consequences"]]
    assert [inc["unit"] for inc in with_consequences] == ["data.mount"]
    (mount,) = with_consequences
    browser.open(page)
    assert browser.errors() == []
    cards = _cards(browser)
    assert cards[f"incident-{mount['id']}"] == (
        ["Failure", "Exit status", "Cause", "Consequences", "Hint", "Remediation", "Docs", "Lines"],
        ["dependency failed for Local File Systems", "dependency failed for local-fs.target (start job)"])
    others = [labels for card_id, (labels, _) in cards.items() if card_id != f"incident-{mount['id']}"]
    assert len(others) == len(causes["incidents"]) - 1 and not any("Consequences" in labels for labels in others)
    # the text filter finds the incident by what did not start because of it
    browser.eval("var f = document.getElementById('f-text'); f.value = 'local-fs.target';"
                 "f.dispatchEvent(new Event('input'));")
    browser.wait("document.querySelectorAll('article.incident').length === 1")
    assert list(_cards(browser)) == [f"incident-{mount['id']}"]


def test_a_consequence_from_the_log_is_text_with_its_bidi_controls_shown(browser: Browser, tmp_path: Path,
                                                                         env: Env) -> None:
    log = tmp_path / "messages"
    log.write_text("\n".join([*MOUNT, f"Mar  1 13:00:00 app3 systemd[1]: Dependency failed for {HOSTILE}."]) + "\n")
    page, causes = report_page([log], tmp_path, env)
    (inc,) = causes["incidents"]
    assert inc["consequences"] == [f"dependency failed for {HOSTILE}"]
    browser.open(page)
    assert browser.errors() == []
    (labels, items), = _cards(browser).values()
    assert "Consequences" in labels
    assert items == ["dependency failed for Local \u27e8U+202E\u27e9File<img src=x onerror=window.pwned=1> Systems"]
    assert browser.eval("document.querySelectorAll('article.incident img').length") == 0
    assert browser.eval("window.pwned === undefined") is True
