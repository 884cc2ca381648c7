"""`shipper report`: the data it embeds, how it is packed and escaped, the lines around incidents.

What the page does with the data in a real browser is in test_report_browser.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode
from shipper.report import html
from shipper.report.lines import AROUND, MAX_LINES
from shipper.sinks.local import LocalStore
from tests.helpers.browser import replay, report, text

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "logs"
ES = ROOT / "tests" / "data" / "corpus" / "excerpts" / "elasticsearch"
HOSTILE = '</script><!-- <img src=x onerror="alert(1)"> ]]> \u2028 & ~T ~0 a — b'


def unpack(strings: list[str], value: Any) -> Any:
    """The page's decoder (report.js `unpack`), in Python."""
    def ref(s: str) -> str:
        if not s.startswith("~"):
            return s
        return " — ".join(strings[int(i, 36)] for i in s[1:].split("."))

    if isinstance(value, str):
        return ref(value)
    if isinstance(value, list):
        if value[:1] == ["~T"]:
            return [{k: unpack(strings, v) for k, v in zip(value[1], row)} for row in value[2:]]
        return [unpack(strings, v) for v in value]
    if isinstance(value, dict):
        return {ref(k): unpack(strings, v) for k, v in value.items()}
    return value


def _collect(store: Path) -> dict[str, Any]:
    db = LocalStore(store, create=False)
    try:
        return html.collect(db, since=None, until=None, now=1_504_100_000.0)
    finally:
        db.close()


def _causes_json(store: Path, env: Env) -> Any:
    env.stdout.seek(0)
    env.stdout.truncate()
    assert main(["causes", "--store", str(store), "--format", "json"], env) == 0
    return json.loads(text(env.stdout))


def _embedded(page: str) -> Any:
    m = re.search(r'<script type="application/json" id="shipper-data">(.*?)</script>', page, re.S)
    assert m, "no data element"
    return json.loads(m.group(1))


@pytest.fixture
def demo_store(tmp_path: Path, env: Env) -> Path:
    return replay([DEMO], tmp_path / "demo.db", env)


def test_embedded_report_is_what_causes_prints(demo_store: Path, env: Env, tmp_path: Path) -> None:
    assert report(demo_store, tmp_path / "r.html", env) == 0
    packed = _embedded((tmp_path / "r.html").read_text(encoding="utf-8"))
    data = unpack(packed["strings"], packed["data"])
    assert data["report"] == _causes_json(demo_store, env)
    assert len(data["report"]["incidents"]) == 3
    assert set(data["lines"]) == {i["id"] for i in data["report"]["incidents"]}


def test_packing_is_lossless_and_smaller(demo_store: Path) -> None:
    data = _collect(demo_store)
    tricky = {"~T": ["~T", "~0", "~", "", " — ", "a — b", "a —  — b", "~x — ~y"], "same": [{"a": 1}, {"a": 1}],
              "mixed": [{"a": 1}, {"b": 2}], "one": [{"k": "v"}], "nums": [0, 1.5, None, True]}
    for value in (data, tricky, {**data, "tricky": tricky}):
        packed = html.pack(value)
        assert unpack(packed["strings"], packed["data"]) == value
    many = {"report": {"incidents": [{**inc, "id": f"{inc['id']}-{n}"} for n in range(100)
                                     for inc in data["report"]["incidents"]], "counts": {}},
            "lines": {f"{key}-{n}": rows for n in range(100) for key, rows in data["lines"].items()}}
    assert len(json.dumps(html.pack(many))) < len(json.dumps(many)) / 5, "what repeats is stored once"


def test_page_is_self_contained(demo_store: Path, env: Env, tmp_path: Path) -> None:
    assert report(demo_store, tmp_path / "r.html", env) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert not re.search(r'<(link|img|iframe)\b|\bsrc=|@import|url\(|https?://[^"\s]*\.(js|css)\b', page.split("shipper-data")[0])
    assert "default-src 'none'" in page and "/*shipper:" not in page and "<!--shipper:data-->" not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2


def test_hostile_text_cannot_leave_the_data_element() -> None:
    data = {"report": {"incidents": [], "counts": {}}, "lines": {"x": [["2017-08-30T14:55:52.000000Z", HOSTILE]]},
            "meta": {"store": HOSTILE}}
    page = html.render(data)
    assert page.count("</script>") == 2 and page.count("<!--") == 0 and "<img" not in page
    body = _embedded(page)  # what the browser's JSON.parse(textContent) gets: the element's raw text
    assert unpack(body["strings"], body["data"]) == data


def test_lines_around_an_incident_include_its_neighbours(tmp_path: Path, env: Env) -> None:
    store = replay([ES / "es8-journalctl-systemd-entrypoint-status78-CONFIG.log"], tmp_path / "es8.db", env, year=2020)
    data = _collect(store)
    (incident,) = data["report"]["incidents"]
    rows = data["lines"][incident["id"]]
    marks = [r[5] for r in rows]
    messages = [r[4] for r in rows]
    assert "failure" in marks and ("cause" in marks or "summary" in marks)
    assert any("did not exit normally" in m for m in messages), "a line of the host that no signature claimed"
    assert all(r[1] == incident["host"] for r in rows)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def _syslog(path: Path, noise: int, *, other_host: bool = False) -> Path:
    lines = [f"Aug 30 14:55:4{i} gorp kernel: before {i}" for i in range(8)]
    lines.append("Aug 30 14:55:52 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: "
                 "cannot bind: Address already in use")
    for i in range(noise):
        lines.append(f"Aug 30 14:55:53 gorp kernel: noise {i}")
        if other_host:
            lines.append(f"Aug 30 14:55:53 other kernel: elsewhere {i}")
        if i == noise // 2:
            lines.append("Aug 30 14:55:53 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: "
                         "cannot bind: Address already in use")
    lines += ["Aug 30 14:55:58 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a",
              "Aug 30 14:55:58 gorp systemd[1]: sendmail.service: Failed with result 'exit-code'."]
    lines += [f"Aug 30 14:55:59 gorp kernel: after {i}" for i in range(8)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_long_run_keeps_head_tail_and_own_lines(tmp_path: Path, env: Env) -> None:
    store = replay([_syslog(tmp_path / "messages", 300)], tmp_path / "long.db", env)
    data = _collect(store)
    (incident,) = data["report"]["incidents"]
    rows = data["lines"][incident["id"]]
    shown = [r for r in rows if isinstance(r, list)]
    skipped = sum(r["skipped"] for r in rows if isinstance(r, dict))
    assert len(shown) <= MAX_LINES + 1 and skipped > 0
    assert [r[4] for r in shown[:AROUND]] == [f"before {i}" for i in range(3, 8)]
    assert [r[4] for r in shown[-AROUND:]] == [f"after {i}" for i in range(AROUND)]
    assert sum(r[5] == "cause" for r in shown) == 2, "the second SYSERR, in the middle, is kept"
    assert sum(r[5] == "failure" for r in shown) == 2
    assert len(shown) + skipped == AROUND + 1 + 300 + 1 + 2 + AROUND


def test_lines_come_from_the_incidents_host_only(tmp_path: Path, env: Env) -> None:
    store = replay([_syslog(tmp_path / "messages", 10, other_host=True)], tmp_path / "two.db", env)
    data = _collect(store)
    (incident,) = data["report"]["incidents"]
    rows = data["lines"][incident["id"]]
    assert {r[1] for r in rows} == {"gorp"} and not any(isinstance(r, dict) for r in rows)


def test_command_prints_the_path_and_honours_the_time_range(demo_store: Path, env: Env, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "aug.html"
    out.parent.mkdir()  # (a missing directory is refused: test_output_refusals_replay_report)
    assert report(demo_store, out, env, "--since", "2017-08-01", "--until", "2017-08-25", "--timezone", "UTC") == 0
    assert text(env.stdout).splitlines()[-1] == str(out)
    assert "report: 1 incident from 3 events" in text(env.stderr)
    packed = _embedded(out.read_text(encoding="utf-8"))
    data = unpack(packed["strings"], packed["data"])
    assert [i["unit"] for i in data["report"]["incidents"]] == ["elasticsearch.service"]
    assert data["meta"]["since"] == "2017-08-01T00:00:00.000000Z"


def test_missing_store_and_unwritable_output_are_clear_errors(demo_store: Path, env: Env, tmp_path: Path) -> None:
    assert report(tmp_path / "nope.db", tmp_path / "r.html", env) == ExitCode.INPUT
    assert "no local store" in text(env.stderr)
    (tmp_path / "dir.html").mkdir()
    assert report(demo_store, tmp_path / "dir.html", env) == ExitCode.OUTPUT
    assert "cannot write the report" in text(env.stderr)
    assert not list(tmp_path.glob(".dir.html.*")), "no temporary file left behind"
