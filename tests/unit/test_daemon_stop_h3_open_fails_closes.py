"""A session that fails to open (a damaged checkpoint) closes what it opened: the output a reload
opened before it (`Session.connect`), the disk buffer's files. (A reload to a damaged checkpoint is
refused before the old session closes: test_reload_f4_damaged_checkpoint.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipper.config.model import load_config
from shipper.daemon.plan import make_plan
from shipper.daemon.session import Session
from shipper.daemon.stats import Stats
from shipper.env import Env
from shipper.errors import ConfigError
from shipper.state.checkpoints import CheckpointStore, input_key
from tests.helpers.daemon import write_config


def _damaged_checkpoint(state: Path, log: Path) -> Path:
    path = CheckpointStore(state).path(input_key("file", None, str(log)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"version": ')
    return path


def _open_fds_under(directory: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


def test_a_session_that_cannot_open_closes_the_output_it_was_given(tmp_path: Path) -> None:
    state, log, fifo = tmp_path / "state", tmp_path / "x.log", tmp_path / "out.fifo"
    log.write_text("Aug 30 15:00:00 gorp app[1]: hello\n")
    os.mkfifo(fifo)
    state.mkdir()
    _damaged_checkpoint(state, log)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        config = write_config(tmp_path / "shipper.yml", {
            "state_dir": str(state), "inputs": [{"type": "file", "paths": [str(log)]}],
            "output": {"ndjson": {"path": str(fifo)}}})
        env = Env()
        session = Session(make_plan(load_config(config), env, print, env), print, Stats())
        session.connect()  # (as a reload does, before the old session ends)
        with pytest.raises(BlockingIOError):
            os.read(reader, 1)  # the output holds the FIFO open for writing: no end of file
        with pytest.raises(ConfigError, match="is damaged"):
            session.open()
        assert os.read(reader, 1) == b""  # no writer left: the output was closed
        assert _open_fds_under(state) == []  # nor is any file of the disk buffer left open
    finally:
        os.close(reader)
