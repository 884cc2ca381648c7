"""Failures whose cause the log itself tells: the incident names that cause, and only that one.

The tester's replay input (tests/data/tester/sysd.log), the seed's and the corpus's sendmail bind
errors, and the Elasticsearch launcher's "did not exit normally" line, read as `shipper replay`
reads them (real parsers, the default enrichers, batch by batch), then grouped into incidents as
`shipper causes` shows them.
"""

from __future__ import annotations

import copy
import json

import pytest

from helpers import ingest
from helpers.es_recognition import expected as python_rootcause
from helpers.samples import DATA, enrich_all, parse_lines, parse_paths
from shipper.event import Doc, get_path
from shipper.report.causes import Incident, build_incidents, headline
from shipper.setup.recognition import FILES

TESTER = DATA / "tester" / "sysd.log"
PIPELINE = json.loads((DATA.parents[1] / FILES[0]).read_text())


def _incidents(docs: list[Doc], batch: int = 2000) -> dict[tuple[str | None, str | None], Incident]:
    incidents = build_incidents(enrich_all(docs, batch=batch))
    by_key = {(i.host, i.unit): i for i in incidents}
    assert len(by_key) == len(incidents), [headline(i) for i in incidents]
    return by_key


@pytest.fixture(scope="module")
def tester() -> dict[tuple[str | None, str | None], Incident]:
    return _incidents(parse_paths([TESTER], year=2024))


def test_an_oom_kill_is_the_cause_naming_the_process_and_the_unit(tester: dict[tuple[str | None, str | None], Incident]) -> None:
    (key,) = [k for k in tester if k[0] == "db1"]  # the kernel's line is not an incident of its own
    inc = tester[key]
    assert key == ("db1", "elasticsearch.service")
    assert inc.cause is not None and inc.cause.signature == "systemd.oom_killed"
    line = headline(inc)
    assert "no cause found" not in line and "stop timeout" not in line
    assert "cause: the OOM killer killed java (pid 4242) of elasticsearch.service" in line
    assert "ran out of memory" in inc.hint and "TimeoutStopSec" not in inc.hint
    assert [c.signature for c in inc.causes] == ["systemd.oom_killed", "kernel.oom_kill"]


def test_a_watchdog_timeout_is_a_hang_not_a_crash(tester: dict[tuple[str | None, str | None], Incident]) -> None:
    inc = tester["app6", "wd.service"]
    assert inc.cause is not None and inc.cause.signature == "systemd.watchdog_timeout"
    assert "wd.service hung" in inc.hint and "WatchdogSec= (30s)" in inc.hint
    assert "crashed" not in inc.hint and "not a configuration mistake" not in inc.hint


def test_a_dependency_failure_names_the_unit_that_failed(tester: dict[tuple[str | None, str | None], Incident]) -> None:
    app3 = {unit: inc for (host, unit), inc in tester.items() if host == "app3"}
    assert set(app3) == {"data.mount"}  # the dependency failures are part of the mount's incident
    docs = enrich_all(parse_paths([TESTER], year=2024))
    dependent = [d["rootcause"] for d in docs if get_path(d, "rootcause.signature") == "systemd.dependency_failed"]
    assert len(dependent) == 2 and all(rc["incident"] == app3["data.mount"].id for rc in dependent)
    for rc in dependent:
        assert "because a unit it requires failed: data.mount, which failed on this host" in rc["hint"]
    assert dependent[0]["hint"].startswith("Local File Systems was not started")
    mount = app3["data.mount"]
    assert mount.failure is not None and mount.failure.label == "exit 32"
    assert 'mount(8) could not mount data.mount (exit 32, "mount failure")' in mount.hint


def test_a_dependency_failure_logged_after_its_cause_names_it_too() -> None:
    """systemd's own order: the mount fails, then the jobs that needed it (here across batches)."""
    docs = parse_lines([
        "Mar  1 13:00:00 app3 systemd[1]: data.mount: Mount process exited, code=exited, status=32/n/a",
        "Mar  1 13:00:00 app3 systemd[1]: data.mount: Failed with result 'exit-code'.",
        "Mar  1 13:00:00 app3 systemd[1]: Dependency failed for Local File Systems.",
        "Mar  1 13:00:05 app3 systemd[1]: Dependency failed for Remote File Systems.",
    ])
    hints = [get_path(d, "rootcause.hint") for d in enrich_all(docs, batch=2)]
    assert "failed: data.mount, which failed on this host at the same moment" in hints[2]
    # five seconds later: not named (the unnamed failure still joins data.mount's incident: Incidents)
    assert hints[3].endswith("Remote File Systems was not started because a unit it requires failed: this line "
                             "does not say which (the unit that failed just before it on this host). This line is a "
                             "consequence, not the cause: fix that unit (its own failure says why) and this one starts with it.")


def test_a_restart_loop_keeps_the_first_failure_in_the_headline(tester: dict[tuple[str | None, str | None], Incident]) -> None:
    inc = tester["web1", "myapp.service"]
    assert "myapp.service failed (exit 203/EXEC, then restarted until it hit its start limit)" in headline(inc)
    assert "could not execute myapp.service's binary (203/EXEC)" in inc.hint


def test_the_corpus_restart_loop_too() -> None:
    (inc,) = _incidents(parse_paths([DATA / "corpus/excerpts/systemd/centos7-docker-203-EXEC.log"], year=2017)).values()
    assert inc.failure is not None and inc.failure.label == "exit 203/EXEC, then restarted until it hit its start limit"


@pytest.mark.parametrize(("path", "first_words"), [
    # Daemon1: a second entry, so self-collision is likely, but another listener is checked first (HINTS.md)
    ("seed/messages-sendmail.log", "daemon Daemon1 is a second DaemonPortOptions entry (one without Name=) and an "
                                   "earlier one opened its socket, so two causes are likely, in this order. 1) Another process"),
    ("seed/maillog-appliance.log", "another process already listens on the port of sendmail's daemon MTA"),
    ("corpus/excerpts/sendmail/rhel6-sendmail-8.14.4-maillog.log", "another process already listens"),
    ("corpus/excerpts/sendmail/ubuntu-sm-mta-8.14.3-MTA-v4-wedged.log", "another process already listens on the port of sendmail's daemon MTA-v4"),
])
def test_sendmail_blames_itself_only_when_the_log_shows_it(path: str, first_words: str) -> None:
    docs = enrich_all(parse_paths([DATA / path], year=2017))
    hints = {get_path(d, "rootcause.hint") for d in docs if get_path(d, "rootcause.signature") == "sendmail.bind_address_in_use"}
    assert hints and all(h.startswith(first_words) for h in hints), hints


@pytest.mark.parametrize("name", ["es8-issue93074-console.log", "es7.10.1-tarball-console.log"])
def test_elasticsearch_did_not_exit_normally_is_its_failure(name: str) -> None:
    (inc,) = _incidents(parse_paths([DATA / "corpus/excerpts/elasticsearch" / name], year=2017)).values()
    line = headline(inc)
    # a console: no systemd unit in the log, so none is named (s16)
    assert line.startswith("Elasticsearch node failed — cause: ") and "no failure seen" not in line


def test_the_pipeline_gives_the_tester_lines_the_python_hints() -> None:
    """Line by line (the pipeline sees one document; what the lines around tell is Python's alone)."""
    compared = 0
    for doc in parse_paths([TESTER], year=2024):
        want, got = python_rootcause(doc), ingest.run(PIPELINE, copy.deepcopy(doc)).get("rootcause", {})
        assert {k: got.get(k) for k in want} == want, doc["message"]
        compared += bool(want)
    assert compared >= 20
