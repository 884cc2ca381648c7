"""The daemon's session links failures and causes of its inputs in time order (`shipper.enrich.order`),
driven here in-process with the items a follower gives (`shipper.sources.live`)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from shipper.config.model import load_config
from shipper.daemon.plan import make_plan
from shipper.daemon.session import Session
from shipper.daemon.stats import Stats
from shipper.env import Env
from shipper.sources.base import Origin, RawChunk
from shipper.sources.live import End

SEED = Path(__file__).resolve().parents[1] / "data" / "seed" / "messages-sendmail.log"


def _session(tmp_path: Path) -> Session:
    config = tmp_path / "shipper.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\ninputs: [{{type: file, paths: [{tmp_path / 'messages'}]}}]\n"
                      "parse: {timezone: UTC, year: 2017}\n")
    env = Env()
    return Session(make_plan(load_config(config), env, print, env), print, Stats())


def _chunk(source_id: str, lines: list[str]) -> RawChunk:
    offsets = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    return RawChunk(Origin(source_id, "syslog", path=f"/var/log/{source_id}"), "text", lines, offsets)


def test_a_stream_that_ends_in_the_poll_that_read_it_holds_nothing_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rotated file read to its end gives its last lines and its `End` in one poll: the failure
    among them waits for maillog, then both are linked and stored, and the ended stream no longer
    counts among the inputs that may still give an earlier event."""
    (tmp_path / "messages").write_text("")
    lines = SEED.read_text().splitlines()
    session = _session(tmp_path)
    session.open()
    try:
        follower = session.plan.followers[0]
        polls = [[_chunk("messages.1", [line for line in lines if "systemd" in line]), End("messages.1", None),
                  _chunk("maillog", [line for line in lines if "sendmail" in line])]]
        monkeypatch.setattr(follower, "poll", lambda now: polls.pop() if polls else [])
        session.step()
        assert len(session._order) == 1  # the failures wait: maillog's lines are pending, earlier
        session._hand_on(time.monotonic() + 10, force=True)
        session.step()
        assert len(session._order) == 0
    finally:
        assert session.close(30)
    con = sqlite3.connect(tmp_path / "state" / "events.db")
    rows = con.execute("SELECT json_extract(doc, '$.rootcause.cause.signature') FROM events "
                       "WHERE json_extract(doc, '$.rootcause.role') = 'failure'").fetchall()
    con.close()
    assert rows == [("sendmail.bind_address_in_use",)] * 3
