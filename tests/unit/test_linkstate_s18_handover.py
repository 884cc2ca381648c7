"""A file handed over from an input removed from the configuration to another input (session 18):
as its checkpoint, its linking fence follows it (`Linking.handed`).

The input that takes the file reads on from where the removed input's checkpoint resumes (the last
16 seconds before what the output acknowledged, read again to give the next lines their ids, not
shipped again); the lines read again up to the fence are in linking's state already (under the
removed input's stream id) and are not linked again: a cause is counted once per line, every
event id is distinct, and the links are those of `shipper replay`.

Real `shipper run` processes, real signals, real files; the output is NDJSON."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import orjson
import pytest

from shipper.config.model import RecogniseConfig
from shipper.daemon.linking import Linking
from shipper.enrich.chain import default_enrichers
from shipper.sources.live import TextMark
from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.unit.test_linkstate_restart import FAILED, SYSERR, _append, _links, _replayed, _saved_fences, _shipped


def _config(tmp_path: Path, name: str, pattern: Path) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "inputs": [{"type": "file", "paths": [str(pattern)], "name": name, "flush_after": "200ms"}],
        "parse": {"timezone": "UTC", "year": 2024}, "run": {"batch_wait": "100ms", "status_interval": "200ms"}})


@pytest.mark.parametrize("how", ["hup", "term", "kill"])
def test_a_file_handed_to_another_input_is_linked_once_and_as_replay_does(tmp_path: Path, how: str) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    mail = logs / "maillog"
    mail.write_text(SYSERR.format(s=0) * 3)  # (one second: the ids count the lines of it)
    cfg = _config(tmp_path, "mail", mail)
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(_shipped(tmp_path)) == 3, 60, "the lines shipped")
        wait_for(lambda: _saved_fences(tmp_path) == {mail.stat().st_size}, 60, "the linking state saved")
        _config(tmp_path, "all", logs / "*log")  # (maillog's input removed, another whose pattern matches it added)
        if how == "hup":
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        elif how == "term":
            assert daemon.stop() == 0, daemon.output()
            daemon.start()
        else:
            daemon.kill()
            daemon.start()
        wait_for(lambda: "that other inputs now read are dropped from it" in daemon.output(), 60, "the hand-over")
        _append(mail, SYSERR.format(s=0) + FAILED.replace("14:52:00", "14:50:00"))
        wait_for(lambda: len(_shipped(tmp_path)) >= 6, 60, "the lines after the hand-over shipped")
        assert daemon.stop() == 0, daemon.output()
    docs = _shipped(tmp_path)
    assert len(docs) == 6 and len({d["event"]["id"] for d in docs}) == 6, [d["event"]["id"] for d in docs]
    assert docs[-1]["rootcause"]["cause"]["count"] == 4, docs[-1]["rootcause"]["cause"]
    assert _links(docs) == _links(_replayed(tmp_path, mail))


def test_the_fence_of_a_handed_over_stream_follows_it_also_on_disk(tmp_path: Path) -> None:
    """`Linking.handed`: what the new stream reads again up to the fence is left out, its
    checkpoint is held back to the fence at once, and the state on disk holds the fence under both
    ids (a crash before the removed input's checkpoint drops the file hands it over again)."""
    state = tmp_path / "state"
    state.mkdir()
    first = Linking(state, default_enrichers(RecogniseConfig()), print)
    first.restore()
    first.recognised("file-mail/a", TextMark(100, 300), True)
    first.moment(time.monotonic(), linked=True, force=True)
    first.released("file-mail/a", TextMark(100, 300))
    first.pick(lambda sid: True)
    first.save()
    linking = Linking(state, default_enrichers(RecogniseConfig()), print)
    linking.restore()
    linking.handed("file-mail/a", "file-all/b")
    docs = [{"log": {"offset": offset}, "message": "x"} for offset in (100, 200, 300)]
    assert linking.unseen("file-all/b", docs) == docs[2:]
    assert linking.released("file-all/b", TextMark(250, 400)) == TextMark(100, 400)
    assert set(orjson.loads((state / "linking.json").read_bytes())["fences"]) == {"file-mail/a", "file-all/b"}
    again = Linking(state, default_enrichers(RecogniseConfig()), print)
    again.restore()
    assert again.unseen("file-all/b", docs) == docs[2:] and again.unseen("file-mail/a", docs) == docs[2:]
    linking.handed("file-gone/c", "file-all/d")  # (a stream the state does not hold: nothing to carry)
    assert linking.unseen("file-all/d", docs) == docs
