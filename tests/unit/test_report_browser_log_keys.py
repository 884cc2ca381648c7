"""The report page in headless Chromium with log text that is hostile to the page's own script.

Hosts and processes named ``__proto__`` or ``constructor`` are keys like any other (a plain ``{}``
keyed by them lost ``__proto__`` and showed ``constructor`` as ``function Object()``), and one named
``42`` keeps its place in the counts (objects list such keys first); terminal
control characters in hosts, processes and messages are harmless text in a page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shipper.env import Env
from tests.helpers.browser import CARDS, Browser, browser, report, report_page, text  # noqa: F401 (browser: a fixture)
from tests.helpers.hostile_logs import CLEAR, OSC_TITLE, control_characters, property_names


def _table(browser: Browser, index: int) -> list[list[str]]:
    return browser.eval(
        f"Array.from(document.querySelectorAll('#counts table')[{index}].querySelectorAll('tbody tr'))"
        ".map(function (tr) { return Array.from(tr.cells).map(function (td) { return td.textContent; }); })")


def _options(browser: Browser, name: str) -> list[str]:
    return browser.eval(
        f"Array.from(document.getElementById('f-{name}').options).map(function (o) {{ return o.textContent; }})")


def _same_data(browser: Browser, causes: Any) -> None:
    """The page's data is what `causes --format json` printed (compared as data: an object lists a
    key like "42" first, so the JSON text of the page's copy may order such keys differently)."""
    assert json.loads(browser.eval("JSON.stringify(window.shipperReport.data().report)")) == causes


def test_hosts_and_processes_named_like_object_properties(browser: Browser, tmp_path: Path, env: Env) -> None:
    page, causes = report_page([property_names(tmp_path)], tmp_path, env)
    counts = causes["counts"]
    assert list(counts["by_host"].items()) == [("__proto__", 4), ("constructor", 3), ("42", 1), ("toString", 1)]
    assert list(counts["by_process"].items()) == [("__proto__", 2), ("sendmail", 2), ("systemd", 2), ("0", 1),
                                                  ("constructor", 1), ("valueOf", 1)]
    browser.open(page)
    assert browser.errors() == []
    assert _table(browser, 0) == [[k, str(n)] for k, n in counts["by_host"].items()]
    assert _table(browser, 1) == [[k, str(n)] for k, n in counts["by_process"].items()]
    assert _options(browser, "host") == ["all hosts", "__proto__ (1)", "constructor (1)"]
    stats = browser.eval("Array.from(document.querySelectorAll('#summary .stat')).map(function (s) { return s.textContent; })")
    assert "2hosts affected" in stats
    _same_data(browser, causes)
    for host in ("__proto__", "constructor"):
        browser.eval(f"var s = document.getElementById('f-host'); s.value = {json.dumps(host)};"
                     "s.dispatchEvent(new Event('change'));")
        assert browser.eval(CARDS) == 1
        assert browser.eval("document.querySelector('article.incident .when').textContent").endswith(" · " + host)
    assert browser.errors() == []


def test_control_characters_are_text_in_the_page(browser: Browser, tmp_path: Path, env: Env) -> None:
    page, causes = report_page(control_characters(tmp_path), tmp_path, env)
    browser.open(page)
    assert browser.errors() == []
    assert browser.eval(CARDS) == 2
    assert browser.eval("document.title") == "2 incidents — shipper report"
    assert _options(browser, "host") == ["all hosts", f"gorp{CLEAR} (1)", f"mx{OSC_TITLE} (1)"]
    lines = browser.eval("Array.from(document.querySelectorAll('.lines pre')).map(function (p) { return p.textContent; })")
    assert any(f"gorp{CLEAR} evil{OSC_TITLE}[12]: hello\tthere \x9b31m red" in p for p in lines)
    assert any(f"Address already in use\nsecond line\r{OSC_TITLE}" in p for p in lines)
    assert _table(browser, 0) == [[k, str(n)] for k, n in causes["counts"]["by_host"].items()]
    _same_data(browser, causes)
