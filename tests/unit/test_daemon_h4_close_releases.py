"""`Session.close` at a reload whose output is stuck: the hand-over to the disk buffer
(`switch.give_back`) raises (a full disk), and every input's files are let go all the same, the
error going on. They used to stay open: a daemon that goes on after such a reload keeps them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from shipper.config.model import load_config
from shipper.daemon import session as session_module
from shipper.daemon.plan import make_plan
from shipper.daemon.session import Session
from shipper.daemon.stats import Stats
from shipper.env import Env
from shipper.errors import OutputError
from tests.helpers.daemon import wait_for


def open_files(paths: list[Path]) -> set[str]:
    """Which of ``paths`` this process holds open."""
    wanted, held = {str(p) for p in paths}, set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target in wanted:
            held.add(target)
    return held


def test_close_lets_go_of_every_input_when_the_hand_over_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = [tmp_path / "messages", tmp_path / "maillog"]
    for log in logs:
        log.write_text("".join(f"Aug 30 15:00:{i:02d} gorp app[{i}]: line {i}\n" for i in range(20)))
    with socket.socket() as stuck:  # an Elasticsearch that takes connections and never answers
        stuck.bind(("127.0.0.1", 0))
        stuck.listen(8)
        config = tmp_path / "shipper.yml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\n"
            f"inputs: [{{type: file, paths: [{logs[0]}]}}, {{type: file, paths: [{logs[1]}]}}]\n"
            "parse: {timezone: UTC, year: 2017}\n"
            f"output: {{elasticsearch: {{hosts: ['http://127.0.0.1:{stuck.getsockname()[1]}'], request_timeout: 5s}}}}\n")
        (tmp_path / "state").mkdir()  # (made by the lock in `shipper run`: sessions do not make it)
        env = Env()
        session = Session(make_plan(load_config(config), env, print, env), print, Stats())
        session.open()

        def reading() -> bool:
            session.step()
            return open_files(logs) == {str(p) for p in logs}

        wait_for(reading, 10, "both files open")

        def give_back(*args: object) -> int | None:
            raise OutputError("cannot write to the disk buffer: No space left on device")

        monkeypatch.setattr(session_module.switch, "give_back", give_back)
        with pytest.raises(OutputError, match="No space left"):
            session.close(0.2, let_go=True)
        assert open_files(logs) == set()
