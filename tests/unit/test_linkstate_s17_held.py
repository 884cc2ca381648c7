"""What the linking state's tester found (session 17), each fixed in `shipper.daemon.linking`:

* a stream that no saved state holds yet (a new file, a first start) must not have its checkpoint
  moved past lines no state has linked: a crash would lose their links (`Linking.released`);
* when no state can be taken for `LAG_MAX` (failures and causes on several inputs without a pause),
  the saved one is given up, so that the checkpoints held back to it move on (`Linking._behind`);
* an input removed at a reload and added back keeps its fences: what it reads again is not linked
  twice (its causes counted twice);
* a state file whose values are of the wrong type is "damaged" (not a crash at the first failure);
* a state that costs much to take is taken less often."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from shipper.config.model import RecogniseConfig
from shipper.daemon import linking as linking_module
from shipper.daemon.linking import LAG_MAX, TAKE_EVERY, Linking
from shipper.enrich.chain import default_enrichers
from shipper.enrich.incident_state import links_from
from shipper.sources.live import TextMark
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_linkstate_restart import FAILED, SYSERR, _append, _config, _saved_fences, _shipped


def _linking(tmp_path: Path) -> tuple[Linking, list[str]]:
    said: list[str] = []
    (tmp_path / "state").mkdir(exist_ok=True)
    return Linking(tmp_path / "state", default_enrichers(RecogniseConfig()), said.append), said


def test_a_stream_no_saved_state_holds_is_not_committed_until_one_does(tmp_path: Path) -> None:
    linking, _ = _linking(tmp_path)
    linking.restore()
    mark = TextMark(0, 500)
    linking.recognised("file-a/1", mark, True)
    assert linking.released("file-a/1", mark) is None  # (no state on disk holds its lines yet)
    linking.moment(time.monotonic(), linked=True, force=True)
    assert linking.ready()
    assert linking.pick(lambda sid: True) == [("file-a/1", mark)]  # committed with the state that holds it
    linking.save()
    later = TextMark(400, 900)
    assert linking.released("file-a/1", later) == TextMark(0, 900)  # held back to the fence on disk
    assert linking.released("file-a/2", TextMark(0, 10, done=True)) == TextMark(0, 10, done=True)  # (read to its end)


def test_a_state_that_cannot_be_taken_for_long_is_given_up_and_nothing_is_held_back(tmp_path: Path) -> None:
    linking, said = _linking(tmp_path)
    linking.restore()
    linking.recognised("file-a/1", TextMark(0, 100), True)
    linking.moment(time.monotonic(), linked=True, force=True)
    linking.released("file-a/1", TextMark(0, 100))
    linking.pick(lambda sid: True)
    linking.save()
    assert (tmp_path / "state" / "linking.json").exists()
    linking.recognised("file-a/1", TextMark(50, 800), True)
    now = time.monotonic()
    linking.moment(now + LAG_MAX / 2, linked=False)  # (a batch waits to be linked)
    assert (tmp_path / "state" / "linking.json").exists() and not said
    assert linking.released("file-a/1", TextMark(50, 800)) == TextMark(0, 800)
    linking.moment(now + LAG_MAX + 1, linked=False)
    assert not (tmp_path / "state" / "linking.json").exists()
    assert len(said) == 1 and "linking's state could not be saved for 60 s" in said[0]
    assert linking.released("file-a/1", TextMark(60, 900)) == TextMark(60, 900)  # no longer held back
    linking.moment(now + LAG_MAX + 2, linked=True, force=True)  # linked again: a state is taken, saved
    assert linking.pick(lambda sid: True) == [("file-a/1", TextMark(50, 900))]  # (held back to its fence again)
    linking.save()
    assert (tmp_path / "state" / "linking.json").exists()


def test_a_state_that_costs_much_to_take_is_taken_less_often(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = linking_module.state_body

    def state_body(*args: Any) -> bytes:
        time.sleep(0.1)
        return slow(*args)

    monkeypatch.setattr(linking_module, "state_body", state_body)
    linking, _ = _linking(tmp_path)
    now = time.monotonic()
    for n, at in enumerate((0.0, 2 * TAKE_EVERY, 2.5), 1):  # (a take cost 0.1 s: the next one 2 s after it)
        linking.recognised("file-a/1", TextMark(0, 100 * n), True)
        linking.moment(now + at, linked=True)
        linking.released("file-a/1", TextMark(0, 100 * n))
        linking.pick(lambda sid: True)
        linking.save()
        assert _saved_fences(tmp_path) == ({100} if n < 3 else {300}), n


@pytest.mark.parametrize("field, value", [("last", "yesterday"), ("invocations", [1]), ("closed", "no"), ("host", None)])
def test_a_state_of_wrong_types_is_damaged(field: str, value: object) -> None:
    incident = {"id": "x", "host": "gorp", "unit": "a.service", "last": 1.0, "invocations": [], "cause": None,
                "consequences_only": False, "closed": True, "boot": None, "manager": None, "restarted": None,
                "restarted_by": "it started again", "programs": []}
    data = {"incidents": [incident], "open": [], "by_pid": [], "last_failure": [], "kills": [], "starts": [], "newest": 1.0}
    assert len(links_from(data).open) == 0  # (as saved: read back)
    incident[field] = value
    with pytest.raises(ValueError, match=f"Incident.{field} is"):
        links_from(data)


def test_an_input_removed_and_added_back_does_not_link_what_it_reads_again_twice(tmp_path: Path) -> None:
    mail, messages = tmp_path / "maillog", tmp_path / "messages"
    mail.write_text("".join(SYSERR.format(s=s) for s in (0, 5, 10)))
    messages.write_text("Aug 30 14:49:00 gorp kernel: eth0: link up\n")
    _config(tmp_path, {"mail": mail, "messages": messages})
    with DaemonProcess(tmp_path / "shipper.yml", tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(_shipped(tmp_path)) == 4, 60, "the lines shipped")
        wait_for(lambda: mail.stat().st_size in _saved_fences(tmp_path), 60, "the linking state saved")
        _config(tmp_path, {"messages": messages})
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: daemon.output().count("shipper: reloaded") == 1, 60, "the reload without maillog")
        _append(mail, SYSERR.replace("14:50", "14:51").format(s=40))
        _config(tmp_path, {"mail": mail, "messages": messages})
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: daemon.output().count("shipper: reloaded") == 2, 60, "the reload with maillog again")
        _append(mail, FAILED)
        wait_for(lambda: len(_shipped(tmp_path)) == 7, 60, "the failure shipped")
        assert daemon.stop() == 0, daemon.output()
    failure = _shipped(tmp_path)[-1]["rootcause"]
    assert failure["cause"]["count"] == 4, failure["cause"]
