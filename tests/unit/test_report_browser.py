"""The report page in a real browser: Debian's chromium, headless, driven over the DevTools pipe.

Each test replays real logs into a store, writes the report with the command, opens the file and
checks the DOM the page's script built. Screenshots are saved under the test's temporary directory.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from shipper.env import Env
from tests.helpers.browser import CARDS, Browser, browser, replay, report, report_page, text  # noqa: F401 (browser: a fixture)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "logs"
SEED_LOG = ROOT / "tests" / "data" / "seed" / "messages-sendmail.log"
ES = ROOT / "tests" / "data" / "corpus" / "excerpts" / "elasticsearch"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _card_text(browser: Browser, incident: str) -> str:
    text = browser.eval(f"(document.getElementById('incident-{incident}') || {{}}).innerText || ''")
    return " ".join(str(text).split())


def _flat(text: str) -> str:
    """Text as the page shows it: `code` spans lose their backticks."""
    return " ".join(text.replace("`", "").split())


def _check_cards(browser: Browser, causes: Any) -> None:
    incidents = causes["incidents"]
    assert browser.eval(CARDS) == len(incidents)
    for inc in incidents:
        card = _card_text(browser, inc["id"])
        assert _flat(inc["hint"]) in card, f"hint of {inc['id']} not shown"
        assert _flat(inc["remediation"]) in card
        if inc["failure"] and inc["failure"]["exit_explained"]:
            assert inc["failure"]["exit_explained"] in card
        if inc["causes"]:
            cause = inc["causes"][0]
            assert cause["title"] in card and f"×{cause['count']}" in card and cause["message"] in card
    assert browser.eval("JSON.stringify(window.shipperReport.data().report)") == json.dumps(causes, ensure_ascii=False,
                                                                                              separators=(",", ":"))
    assert browser.errors() == []


def test_seed_incident(browser: Browser, tmp_path: Path, env: Env) -> None:
    page, causes = report_page([DEMO], tmp_path, env)
    browser.open(page)
    _check_cards(browser, causes)
    seed = next(i for i in causes["incidents"] if i["host"] == "gorp")
    card = _card_text(browser, seed["id"])
    assert card.startswith("sendmail.service failed (exit 71, EX_OSERR)")
    assert "EX_OSERR (71): an operating system error" in card and "systemd result 'exit-code'" in card
    lines = browser.eval(f"Array.from(document.querySelectorAll('#incident-{seed['id']} .lines .l'))"
                         ".map(function (l) {{ return [l.className, l.textContent]; }})")
    assert len(lines) == seed["events"] == 10
    assert [c for c, _ in lines].count("l failure") == 3 and [c for c, _ in lines].count("l cause") == 7
    assert "14:55:52 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: cannot bind" in lines[1][1]
    assert browser.eval("document.querySelector('#timeline canvas').height") > 0
    shot = browser.screenshot(tmp_path / "seed.png", full_page=True)
    assert _png_size(shot)[0] == 1280 and _png_size(shot)[1] > 1500


def test_the_summary_counts_in_the_singular_too(browser: Browser, tmp_path: Path, env: Env) -> None:
    """The field report's lines alone: one incident on one host ("1 hosts affected" before)."""
    page, causes = report_page([SEED_LOG], tmp_path, env)
    browser.open(page)
    stats = browser.eval("Array.from(document.querySelectorAll('#summary .stat')).map(function (s) { return s.textContent; })")
    assert stats == ["1incident", "1host affected", "1unit affected", "10events stored", "10recognised", "0unparsed lines"]


def _select(browser: Browser, name: str, value: str) -> None:
    browser.eval(f"var s = document.getElementById('f-{name}'); s.value = {json.dumps(value)};"
                 "s.dispatchEvent(new Event(s.tagName === 'INPUT' ? 'input' : 'change'));")


def test_filters_by_host_unit_signature_and_text(browser: Browser, tmp_path: Path, env: Env) -> None:
    page, causes = report_page([DEMO], tmp_path, env)
    browser.open(page)
    _select(browser, "host", "gorp")
    assert browser.eval(CARDS) == 1 and browser.eval("document.getElementById('shown').textContent") == "1 of 3 incidents"
    browser.eval("document.getElementById('f-clear').click()")
    _select(browser, "signature", "elasticsearch.bootstrap.max_map_count")
    es = next(i for i in causes["incidents"] if i["unit"] == "elasticsearch.service")
    assert browser.eval(CARDS) == 1 and _card_text(browser, es["id"])
    _select(browser, "signature", "")
    _select(browser, "unit", "sendmail.service")
    assert browser.eval(CARDS) == 2
    browser.eval("document.getElementById('f-clear').click()")
    _select(browser, "text", "vm.max_map_count")
    browser.wait(f"{CARDS} === 1")
    _select(browser, "text", "no such words anywhere")
    browser.wait(f"{CARDS} === 0 && document.querySelector('.empty') !== null")
    browser.eval("document.getElementById('f-clear').click()")
    assert browser.eval(CARDS) == 3
    # a click on a timeline row label filters on that host and unit (rows: "(no host)", "dev", "gorp")
    browser.eval("var c = document.querySelector('#timeline canvas'), r = c.getBoundingClientRect();"
                 "c.dispatchEvent(new MouseEvent('click', {clientX: r.left + 20, clientY: r.top + 2 * 22 + 11, bubbles: true}))")
    assert browser.eval("[document.getElementById('f-host').value, document.getElementById('f-unit').value]") == \
        ["gorp", "sendmail.service"]
    assert browser.eval(CARDS) == 1


@pytest.mark.parametrize("name, unparsed", [
    ("es7.3.1-rpm-systemd-status78-and-log.log", 8),
    ("es8-journalctl-systemd-entrypoint-status78-CONFIG.log", 0),
])
def test_elasticsearch_samples(browser: Browser, tmp_path: Path, env: Env, name: str, unparsed: int) -> None:
    page, causes = report_page([ES / name], tmp_path, env, year=2020)
    browser.open(page)
    _check_cards(browser, causes)
    (inc,) = causes["incidents"]
    card = _card_text(browser, inc["id"])
    assert "EX_CONFIG (78)" in card and "discovery" in inc["hint"]
    stats = browser.eval("Array.from(document.querySelectorAll('.stat')).map(function (s) { return [s.className, s.innerText]; })")
    unparsed_stat = next(s for s in stats if "unparsed" in s[1])
    assert unparsed_stat[1].split()[0] == str(unparsed) and ("warn" in unparsed_stat[0]) == (unparsed > 0)
    counts = browser.eval("document.getElementById('counts').innerText")
    assert (f"{unparsed} lines could not be parsed" in counts) if unparsed else ("Every line was parsed" in counts)
    browser.screenshot(tmp_path / f"{name}.png")


def test_hostile_lines_are_shown_as_text(browser: Browser, tmp_path: Path, env: Env) -> None:
    log = tmp_path / "messages"
    log.write_text(
        "Aug 30 14:55:50 gorp kernel: </script><!-- <img src=x onerror=\"document.title='pwned'\"> &amp; ~0 — x\n"
        "Aug 30 14:55:52 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: "
        "cannot bind: Address already in use\n"
        "Aug 30 14:55:58 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a\n")
    page, causes = report_page([log], tmp_path, env)
    browser.open(page)
    assert browser.eval("document.querySelectorAll('img').length") == 0
    assert browser.eval("document.title") != "pwned"
    text = browser.eval("document.querySelector('.lines pre').textContent")
    assert "</script><!-- <img src=x onerror=\"document.title='pwned'\"> &amp; ~0 — x" in text
    _check_cards(browser, causes)


def test_a_store_without_incidents_says_so_and_counts_what_it_holds(browser: Browser, tmp_path: Path, env: Env) -> None:
    log = tmp_path / "messages"
    log.write_text("Aug 30 14:55:50 gorp kernel: all is well\n\x00\x01 not a syslog line at all\n")
    page, causes = report_page([log], tmp_path, env)
    assert causes["incidents"] == []
    browser.open(page)
    assert browser.eval(CARDS) == 0
    assert "No incidents" in browser.eval("document.getElementById('incidents').innerText")
    assert causes["counts"]["unparsed"] >= 1
    assert "could not be parsed" in browser.eval("document.getElementById('counts').innerText")


def _many_incidents(path: Path, n: int) -> Path:
    """``n`` sendmail bind failures on 997 hosts, 7 s apart: three real-shaped syslog lines each."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    with path.open("w") as f:
        def stamp(t: int) -> str:  # each line its own date: a failure 1 s after 23:59:59 is on the next day
            return (f"{months[(t // (86400 * 28)) % 12]} {1 + (t // 86400) % 28:2d} "
                    f"{t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}")

        for i in range(n):
            t = i * 7
            host = f"mx{i % 997:03d}"
            f.write(f"{stamp(t)} {host} sendmail[{1000 + i % 30000}]: NOQUEUE: SYSERR(root): opendaemonsocket: "
                    "daemon MTA: cannot bind: Address already in use\n"
                    f"{stamp(t + 1)} {host} systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a\n"
                    f"{stamp(t + 1)} {host} systemd[1]: sendmail.service: Failed with result 'exit-code'.\n")
    return path


@pytest.mark.slow
def test_100k_incidents_open_without_freezing(browser: Browser, tmp_path: Path, env: Env) -> None:
    store = replay([_many_incidents(tmp_path / "messages", 100_000)], tmp_path / "big.db", env)
    page = tmp_path / "big.html"
    assert report(store, page, env) == 0
    assert "report: 100000 incidents" in text(env.stderr)
    for f in tmp_path.glob("big.db*"):  # ~1 GB: pytest keeps the last temporary directories around
        f.unlink()
    browser.open(page, timeout=600)  # generous: it must finish, how fast is for benchmarks
    assert browser.eval("document.getElementById('shown').textContent") == "100,000 incidents"
    first = browser.eval(CARDS)
    assert 0 < first < 1000, "cards are drawn in batches, not all at once"
    assert "sendmail.service failed (exit 71, EX_OSERR)" in browser.eval("document.querySelector('article.incident h3').textContent")
    browser.eval("window.scrollTo(0, document.body.scrollHeight)")
    browser.wait(f"{CARDS} > {first}", timeout=120)
    _select(browser, "host", "mx005")
    assert browser.eval("document.getElementById('shown').textContent") == "101 of 100,000 incidents"
    assert browser.errors() == []
    browser.screenshot(tmp_path / "big.png")
