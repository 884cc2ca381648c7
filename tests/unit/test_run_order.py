"""The daemon's session links failures and causes of its inputs in time order (`shipper.enrich.order`),
driven here in-process with the items a follower gives (`shipper.sources.live`)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from shipper.config.model import load_config
from shipper.daemon.plan import make_plan
from shipper.daemon import session as session_module
from shipper.daemon.session import Session
from shipper.daemon.stats import Stats
from shipper.env import Env
from shipper.sources.base import Origin, RawChunk
from shipper.sources.live import End, Idle

SEED = Path(__file__).resolve().parents[1] / "data" / "seed" / "messages-sendmail.log"


def _session(tmp_path: Path, files: tuple[str, ...] = ("messages",), run: str = "{}") -> Session:
    for name in files:
        (tmp_path / name).write_text("")
    inputs = ", ".join(f"{{type: file, paths: [{tmp_path / name}]}}" for name in files)
    config = tmp_path / "shipper.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\ninputs: [{inputs}]\nparse: {{timezone: UTC, year: 2017}}\nrun: {run}\n")
    (tmp_path / "state").mkdir()  # (made by the lock in `shipper run`: sessions do not make it)
    env = Env()
    return Session(make_plan(load_config(config), env, print, env), print, Stats())


def _chunk(source_id: str, lines: list[str], base: int = 0) -> RawChunk:
    offsets = [base + sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    return RawChunk(Origin(source_id, "syslog", path=f"/var/log/{source_id}"), "text", lines, offsets)


def _failures(tmp_path: Path) -> list[tuple[str, str | None, str | None]]:
    """The stored failures: their stamp, and their cause's signature and last stamp."""
    con = sqlite3.connect(tmp_path / "state" / "events.db")
    try:
        return con.execute("SELECT ts, json_extract(doc, '$.rootcause.cause.signature'), json_extract(doc, '$.rootcause.cause.last') "
                           "FROM events WHERE json_extract(doc, '$.rootcause.role') = 'failure' ORDER BY ts").fetchall()
    finally:
        con.close()


def test_a_stream_that_ends_in_the_poll_that_read_it_holds_nothing_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rotated file read to its end gives its last lines and its `End` in one poll: the failure
    among them waits for maillog, then both are linked and stored, and the ended stream no longer
    counts among the inputs that may still give an earlier event. Maillog's last line, held by
    its parser (it may continue), is waited for too, until the file is idle and it is flushed."""
    lines = SEED.read_text().splitlines()
    session = _session(tmp_path)
    session.open()
    try:
        follower = session.plan.followers[0]
        polls = [[Idle("maillog", 0)],
                 [_chunk("messages.1", [line for line in lines if "systemd" in line]), End("messages.1", None),
                  _chunk("maillog", [line for line in lines if "sendmail" in line])]]
        monkeypatch.setattr(follower, "poll", lambda now: polls.pop() if polls else [])
        session.step()
        assert len(session._batches.order) == 1  # the failures wait: maillog's lines are pending, earlier
        session._batches.hand_on(time.monotonic() + 10, force=True)
        session.step()  # (maillog's idle: its held line is flushed)
        session._batches.hand_on(time.monotonic() + 10, force=True)
        session.step()
        assert len(session._batches.order) == 0
    finally:
        assert session.close(30)
    assert [cause for _, cause, _ in _failures(tmp_path)] == ["sendmail.bind_address_in_use"] * 3


def test_an_input_far_ahead_of_another_waits_for_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first start: each poll of maillog gives six hours of it (its SYSERRs, a burst an hour,
    a batch each), each poll of messages one hour (systemd's verdicts, five seconds after the
    burst). Read as they come, maillog's batches would pile up waiting for messages, past the
    bound on waiting batches, and be linked before their failures were read, hours ahead, so
    that the failures' incidents were closed when they came. Maillog is not read while it is
    `AHEAD` of messages: at most one poll of it waits, and every failure gets its cause."""
    monkeypatch.setattr(session_module, "CAUSES_WAITING", 8)
    seed = SEED.read_text().splitlines()
    syserr, verdicts = [line[16:] for line in seed if "sendmail[" in line], [line[16:] for line in seed if "systemd[" in line]
    at = lambda h, m, s, rest: f"Aug 30 {h:02d}:{m:02d}:{s:02d} {rest}"  # noqa: E731
    messages = [[[at(h, m, 0, f"gorp app[7]: other line {h}.{m}") for m in range(0, 60, 3)] + [at(h, 30, 7, v) for v in verdicts]]
                for h in range(24)]
    maillog = [[[at(h, 30, 2, line) for line in syserr] + [at(h, 45, 0, f"gorp sendmail[9]: r{h:05d}: from=<a@b>, size=1")]
                for h in range(six, six + 6)] for six in range(0, 24, 6)]
    session = _session(tmp_path, ("messages", "maillog"), run="{batch_events: 8}")
    session.open()
    reads: dict[str, int] = {"messages": 0, "maillog": 0}
    try:
        for follower, name, polls in zip(session.plan.followers, ("messages", "maillog"), (messages, maillog)):
            def poll(now: float, name: str = name, polls: list[list[list[str]]] = polls) -> list[RawChunk]:
                if reads[name] == len(polls):
                    return []
                reads[name] += 1
                return [_chunk(name, sorted(lines), base=(reads[name] * 10 + i) * 10_000) for i, lines in enumerate(polls[reads[name] - 1])]
            monkeypatch.setattr(follower, "poll", poll)
            monkeypatch.setattr(follower, "backlog", lambda name=name, polls=polls: len(polls) - reads[name])
        while session.step():
            pass
    finally:
        assert session.close(30)
    failures = _failures(tmp_path)
    assert len(failures) == 3 * 24
    for ts, cause, last in failures:  # each failure has the burst five seconds before it, not a later one
        assert cause == "sendmail.bind_address_in_use" and last == ts.replace(":30:07.", ":30:02."), (ts, last)


def test_an_input_that_keeps_up_holds_no_other_back_whatever_its_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live, with messages' stamps two hours behind (a zone set wrong): both inputs keep up with
    their files (no backlog), so maillog is read at every turn, though it looks two hours ahead,
    and its failures do not wait for messages to reach their time."""
    session = _session(tmp_path, ("messages", "maillog"), run="{batch_events: 4}")
    session.open()
    polled = {"messages": 0, "maillog": 0}
    try:
        for follower, name, hour in zip(session.plan.followers, ("messages", "maillog"), (12, 14)):
            def poll(now: float, name: str = name, hour: int = hour) -> list[RawChunk]:
                n = polled[name] = polled[name] + 1
                verdict = f"Aug 30 {hour}:00:{n:02d} gorp systemd[1]: sendmail.service: Failed with result 'exit-code'."
                return [_chunk(name, [f"Aug 30 {hour}:00:{n:02d} gorp app[7]: line {n}"] * 4 + [verdict], base=n * 1000)]
            monkeypatch.setattr(follower, "poll", poll)
            monkeypatch.setattr(follower, "backlog", lambda: 0)
        for _ in range(30):
            session.step()
            assert len(session._batches.order) <= 2  # the turn's own batches, linked at the next
    finally:
        assert session.close(30)
    assert polled == {"messages": 30, "maillog": 30}
