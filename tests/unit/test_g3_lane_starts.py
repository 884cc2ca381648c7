"""The express lanes take a start of the service manager (``Started ...``, `systemd.unit_started`)
when it is dropped for certain: its host has no unit that failed, or logged a recognised error,
within `RECOVERY_WINDOW` before (`Nearby.lane`, shipper/parallel/_express_starts.c). A start that
may be kept, and a line with another text recognition looks at, stay Python's; what a worker's
block took so is checked against the facts before it (`Reads.starts`, `nearby.continued`), so a
parallel replay keeps the start of a unit that failed in the block before as one process does.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from shipper.enrich.nearby import RECOVERY_WINDOW, Facts, Reads, continued, stem_key
from shipper.enrich.recognise import Recognise
from shipper.parallel import express, express_plans
from tests.helpers.express import needs_lane
from shipper.ids import IdAssigner
from shipper.sources.lines import BLOCK_SIZE
from tests.unit.test_parallel_h6_nearby_facts import MARGIN, _boundaries, _filler, _put, _replay

MINUTES = {"Jan  1 00:00": "2017-01-01T00:00:"}
AT = datetime(2017, 1, 1, tzinfo=timezone.utc).timestamp()  # the lines' minute
PLAIN = b"Jan  1 00:00:00 h1 app[1]: nothing here\n"
START = "Started Session 3 of user root."


def _lane(facts: Facts | None = None) -> tuple[Recognise, express._express.Plan]:
    recognise = Recognise()
    if facts is not None:
        recognise.nearby.restore(facts)
    return recognise, express_plans._plan(recognise, ((None, b"{"),), b'"log":{"offset":')


def _troubled(host: str, at: float) -> Facts:
    return Facts({}, {}, {stem_key(host, "sendmail.service"): (at, "sendmail.service")})


def _taken(recognise: Recognise, plan: express._express.Plan, message: str, host: str = "h1",
           process: str = "systemd[1]") -> bool:
    """Whether the lane takes the line (the line after it is plain: a region's last line is never taken)."""
    data = f"Jan  1 00:00:07 {host} {process}: {message}\n".encode() + PLAIN[:-1]
    return plan.scan(data, 0, len(data) + 1, 4096, MINUTES, 100, recognise.nearby.lane()) == (0, 0)


@needs_lane
def test_a_start_on_a_host_without_a_troubled_unit_is_taken() -> None:
    recognise, plan = _lane()
    for message in (START, "Started sendmail.service - Sendmail Mail Transport Agent.", "Started Daily Cleanup."):
        assert _taken(recognise, plan, message), message
    assert _taken(recognise, plan, START, process="app[2]")  # (no prefilter of another process)


@needs_lane
@pytest.mark.parametrize("message", [
    "Started sendmail.service failed.",  # another prefilter of systemd (" failed.")
    "Started x. Main PID: 42",  # an unrestricted pattern's prefilter of the systemd family
    "Started ● x.",  # a gate, and the family's context
    "Started a.\\nStarted b.",  # read line by line by Python
])
def test_a_start_with_another_text_recognition_looks_at_is_pythons(message: str) -> None:
    recognise, plan = _lane()
    assert not _taken(recognise, plan, message)


SENDMAIL_STARTS = ("Started sendmail.service - Sendmail Mail Transport Agent.", "Started sendmail.service.",
                   "Started Sendmail Mail Transport Agent.", "Started sendmail@1.service.")


@needs_lane
def test_a_start_that_may_end_a_troubled_unit_of_its_host_is_pythons() -> None:
    """Within the window after sendmail's trouble: its starts (by unit name or description) are
    Python's; other units' starts, and starts on other hosts, are taken; after the window, all."""
    for before, recent in ((10, True), (RECOVERY_WINDOW - 1, True), (-5, True), (RECOVERY_WINDOW + 3, False)):
        recognise, plan = _lane(_troubled("h1", AT + 7 - before))
        for message in SENDMAIL_STARTS:
            assert _taken(recognise, plan, message) is not recent, (before, message)
            assert _taken(recognise, plan, message, host="h2"), (before, message)
        assert _taken(recognise, plan, START), before
        assert _taken(recognise, plan, "Started sendmailer.service."), before


@needs_lane
def test_a_failure_recognised_before_makes_its_start_pythons_and_its_start_gives_it_back() -> None:
    """The lane's view follows the facts as lines are recognised: a failure troubles its unit, the
    unit's kept start ends that."""
    recognise, plan = _lane()
    failure: dict[str, Any] = {"@timestamp": "2017-01-01T00:00:01.000000Z", "message": "sendmail.service: Failed with result 'exit-code'.",
                               "host": {"name": "h1"}, "process": {"name": "systemd", "pid": 1},
                               "event": {"dataset": "syslog", "kind": "event"}}
    start = {**failure, "@timestamp": "2017-01-01T00:00:05.000000Z", "message": SENDMAIL_STARTS[0]}
    recognise.enrich([failure])
    assert failure["rootcause"]["signature"] == "systemd.unit_failed"
    assert not _taken(recognise, plan, SENDMAIL_STARTS[0]) and _taken(recognise, plan, START)
    recognise.enrich([start])
    assert start["rootcause"]["signature"] == "systemd.unit_started"
    assert _taken(recognise, plan, SENDMAIL_STARTS[0])


@needs_lane
def test_the_starts_a_watched_lane_takes_are_noted_per_stem() -> None:
    recognise, plan = _lane(_troubled("h2", AT))
    recognise.nearby.watch()
    lines = [f"Jan  1 00:00:{s:02d} {host} systemd[1]: {message}"
             for s, host, message in ((3, "h1", START), (9, "h3", START), (1, "h1", START), (4, "h1", SENDMAIL_STARTS[0]),
                                      (5, "h2", SENDMAIL_STARTS[1]))]
    data = ("\n".join(lines) + "\n").encode() + PLAIN[:-1]
    _, count, _, _ = plan.run(data, 0, len(data) + 1, 0, 4096, MINUTES, IdAssigner().live(), [[]], recognise.nearby.lane())
    assert count == 4  # h2's sendmail start may end its unit's trouble: Python's
    second = int(AT)
    assert recognise.nearby.watched().starts == {
        "h1\nsession": [second + 1, second + 3], "h3\nsession": [second + 9, second + 9],
        "h1\nsendmail.service": [second + 4, second + 4], "h1\nsendmail": [second + 4, second + 4]}


def test_a_block_that_took_starts_is_done_again_where_the_facts_before_it_differ() -> None:
    """What the main process checks (`continued`): a troubled unit of the stem that a start taken
    then may end, in the facts the block really started from and not in the worker's."""
    reads = Reads(starts={stem_key("h1", "sendmail.service"): [1000, 2000]})
    empty = Facts({}, {})
    for at, same in ((999 - RECOVERY_WINDOW - 2, True), (500, False), (1500, False), (2002, True)):
        assert (continued(_troubled("h1", at), empty, empty, reads) is not None) is same, at
        assert continued(_troubled("h2", at), empty, empty, reads) is not None  # another host's
        other = Facts({}, {}, {stem_key("h1", "nginx.service"): (at, "nginx.service")})
        assert continued(other, empty, empty, reads) is not None  # another unit's
    assert continued(_troubled("h1", 1500), _troubled("h1", 1500), empty, reads) is not None


def _busy_starts_log(path: Path) -> None:
    """A busy log (the lines of `test_parallel_h6_nearby_facts`) with a start of a session every
    hundred lines on other hosts; app5's sendmail fails more lines before the first block boundary
    than a worker warms up with, and starts again after it (kept: its failure is over)."""
    lines = _filler(3 * BLOCK_SIZE // 100)
    for i in range(50, len(lines), 100):
        _put(lines, i, f"web{i % 3}", f"systemd[1]: Started Session {i} of user root.")
    cut = _boundaries(lines)
    _put(lines, cut[0] - MARGIN - 1, "app5", "systemd[1]: sendmail.service: Failed with result 'exit-code'.")
    _put(lines, cut[0] + MARGIN + 1, "app5", "systemd[1]: Started sendmail.service - Sendmail Mail Transport Agent.")
    path.write_text("\n".join(lines) + "\n")


def test_a_start_after_a_failure_in_the_block_before_is_kept_with_workers(tmp_path: Path) -> None:
    _busy_starts_log(tmp_path / "messages")
    one, two = (_replay(tmp_path, [tmp_path / "messages"], w) for w in ("0", "2"))
    kept = [d for d in one if d.get("rootcause", {}).get("signature") == "systemd.unit_started"]
    assert [d["host"]["name"] for d in kept] == ["app5"]
    assert two == one


JOB_DONE = "39f53479d3a045ac8e11786248231fbf"  # systemd's "job done" MESSAGE_ID: `systemd.unit_started` matches it by fields
MANAGER = {"SYSLOG_IDENTIFIER": "systemd", "_PID": "1", "_COMM": "systemd", "PRIORITY": "6"}
FAILED = {**MANAGER, "MESSAGE": "sendmail.service: Failed with result 'exit-code'.", "UNIT": "sendmail.service",
          "PRIORITY": "4"}


def _done(message: str, unit: str, host: str = "h1") -> dict[str, str | bytes]:
    return {**MANAGER, "MESSAGE": message, "MESSAGE_ID": JOB_DONE, "JOB_RESULT": "done", "UNIT": unit, "_HOSTNAME": host}


# (the entry, whether the lane takes it): h1's sendmail fails at entry 1, its failure ends at entry
# 4, it fails again at entry 9 and its failure ends at entry 11.
JOURNAL_STARTS: list[tuple[dict[str, str | bytes], bool]] = [
    (_done("Started Session 1 of user root.", "session-1.scope"), True),  # nothing troubled
    ({**FAILED, "_HOSTNAME": "h1"}, False),  # recognised
    (_done("Started Session 2 of user root.", "session-2.scope"), True),  # another unit
    (_done("Started sendmail.service - Sendmail.", "sendmail.service", host="h2"), True),  # another host
    (_done("Reached target mail.target - Mail.", "sendmail.service"), False),  # its field names sendmail: kept
    # (the next two are dropped, sendmail's failure is over, but the lane looked ahead before it was)
    ({**MANAGER, "MESSAGE": "Started Sendmail Mail Transport Agent.", "_HOSTNAME": "h1"}, False),  # its description
    (_done("Started sendmail.service - Sendmail.", "sendmail.service"), False),
    (_done("Started Session 3 of user root.", "session-3.scope"), True),
    ({**FAILED, "_HOSTNAME": "h1"}, False),
    (_done("Finished sendmail-cleanup.service.", "sendmail-cleanup.service"), True),  # by id: "" or its field's stem
    (_done("Finished sendmail.service.", "sendmail.service"), False),  # by id: its field's
    (_done("Started Ünit 4.", "u.service"), False),  # (a first word that is not ASCII)
    (_done("Started Session 4 of user root.", "session-4.scope"), True),
    ({**MANAGER, "MESSAGE": "Started Session 5 of user root.", "_HOSTNAME": "h1"}, True),  # no MESSAGE_ID
]


@needs_lane
def test_the_journal_lane_takes_the_starts_that_are_dropped_and_gives_what_python_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    from tests.unit.test_express_journal import entry, journal_of, same_with_and_without

    paths = journal_of(tmp_path, [entry(fields, n) for n, (fields, _) in enumerate(JOURNAL_STARTS)])
    taken = same_with_and_without(monkeypatch, paths, (1, 3, 100))
    assert taken == sum(takes for _, takes in JOURNAL_STARTS)
    for n, (fields, takes) in enumerate(JOURNAL_STARTS):  # alone, nothing is troubled
        lone = journal_of(tmp_path / str(n), [entry(fields, 0)])
        alone = fields["MESSAGE"] not in (FAILED["MESSAGE"], "Started Ünit 4.")
        assert same_with_and_without(monkeypatch, lone, (100,)) == alone, n
