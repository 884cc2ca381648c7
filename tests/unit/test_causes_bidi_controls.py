"""Bidirectional controls from the logs (U+202E RIGHT-TO-LEFT OVERRIDE and the rest of Unicode's
Bidi_Control) cannot reorder what `shipper causes` and the report page show: with U+202E before it,
"evil" is displayed as "live". The text output escapes them (``\\u202e``), as it escapes terminal
controls; the page shows a visible mark (``⟨U+202E⟩``); the data (JSON) keeps the text as logged.

Real input: a syslog file replayed into a real store; the page in headless Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

from shipper.cli import main
from shipper.env import Env
from tests.helpers.browser import CARDS, Browser, browser, replay, report_page, text  # noqa: F401 (browser: a fixture)

RLO, LRI, PDI, RLM, ALM = "\u202e", "\u2066", "\u2069", "\u200f", "\u061c"
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HOST = f"gorp{RLM}"
DAEMON = f"{RLO}live{LRI}x{PDI}{ALM}"


def _log(tmp: Path) -> Path:
    path = tmp / "maillog"
    path.write_text(
        f"Aug 30 14:55:50 {HOST} {RLO}evil[12]: hello {RLO}there\n"
        f"Aug 30 14:55:52 {HOST} sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon {DAEMON}: "
        "cannot bind: Address already in use\n"
        f"Aug 30 14:55:58 {HOST} systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a\n",
        encoding="utf-8")
    return path


def test_causes_shows_bidi_controls_escaped(tmp_path: Path, env: Env) -> None:
    store = replay([_log(tmp_path)], tmp_path / "s.db", env)
    assert main(["causes", "--store", str(store)], env) == 0, text(env.stderr)
    out = text(env.stdout)
    assert BIDI.search(out) is None, BIDI.findall(out)
    assert "2017-08-30 14:55:58Z  gorp\\u200f  sendmail.service failed (exit 71, EX_OSERR)" in out
    assert "daemon \\u202elive\\u2066x\\u2069\\u061c: cannot bind" in out  # the cause's title and hint
    assert "\\u202eevil 1" in out  # the counts by process


def test_the_report_page_shows_bidi_controls_as_marks(browser: Browser, tmp_path: Path, env: Env) -> None:
    page, causes = report_page([_log(tmp_path)], tmp_path, env)
    (incident,) = causes["incidents"]
    assert incident["host"] == HOST and DAEMON in incident["causes"][0]["message"]  # the data keeps them
    browser.open(page)
    assert browser.errors() == [] and browser.eval(CARDS) == 1
    shown = browser.eval("document.body.innerText + document.title + "
                         "Array.from(document.querySelectorAll('option')).map(function (o) { return o.textContent; }).join()")
    assert BIDI.search(shown) is None, BIDI.findall(shown)
    marks = "⟨U+202E⟩live⟨U+2066⟩x⟨U+2069⟩⟨U+061C⟩"
    card = browser.eval("document.querySelector('article.incident').textContent")
    assert f"daemon {marks}: cannot bind" in card and "gorp⟨U+200F⟩" in card
    lines = browser.eval("document.querySelector('.lines pre').textContent")
    assert f"gorp⟨U+200F⟩ ⟨U+202E⟩evil[12]: hello ⟨U+202E⟩there" in lines
    assert "gorp⟨U+200F⟩ (1)" in browser.eval("Array.from(document.getElementById('f-host').options).map(function (o) { return o.textContent; })")
    hint = browser.eval("document.querySelector('article.incident .hint').textContent")
    assert marks in hint
    assert browser.errors() == []
