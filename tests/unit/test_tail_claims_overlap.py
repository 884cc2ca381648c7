"""File inputs whose patterns match the same file only at run time (two globs, a symlink, a hard
link): each file (device, inode) is read by one input, the first in configuration order that matches
it, also for files that appear later and through rotation; the other says so once, naming both
inputs and the file, and counts it. Two journal inputs where one selects all the other does are a
configuration error."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest

from shipper.config import load_config
from shipper.config.loader import Duration
from shipper.config.model import FileInput
from shipper.daemon.plan import make_followers
from shipper.errors import ConfigError
from shipper.sources.claims import Claims, Held
from shipper.sources.fileid import fingerprint
from shipper.sources.live import End
from shipper.sources.tail import FileFollower
from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.helpers.local import stored
from tests.unit.test_tail_files import Clock, append, lines, syslog


def follower(paths: list[str], key: str, claims: Claims, said: list[str], name: str | None = None) -> FileFollower:
    cfg = FileInput(type="file", paths=paths, name=name, flush_after=Duration(1.0), scan_interval=Duration(0.5))
    return FileFollower(cfg, key, max_line_bytes=65536, log=said.append, close_after=5.0, clock=lambda: 0.0,
                        claims=claims)


def read(followers: list[FileFollower], clock: Clock, rounds: int = 4) -> dict[str, list[str]]:
    """Poll every follower (the later ones first: the claim must not depend on who looks first)."""
    got: dict[str, list[str]] = {f.key: [] for f in followers}
    for _ in range(rounds):
        clock.now += 1.0
        for f in reversed(followers):
            items = f.poll(clock.now)
            got[f.key] += lines(items)
            for item in items:  # acknowledge everything at once
                if isinstance(item, End) and item.checkpoint is not None:
                    f.commit(item.source_id, item.checkpoint)
    return got


def test_two_globs_and_a_hard_link_read_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "mail.log").write_text(syslog(3, "mail"))
    (tmp_path / "other.log").write_text(syslog(2, "other"))
    os.link(tmp_path / "mail.log", tmp_path / "copy.txt")
    claims, said, clock = Claims(), list[str](), Clock()
    a = follower([str(tmp_path / "mail*")], "a", claims, said, name="mail")
    b = follower([str(tmp_path / "*.log")], "b", claims, said)
    c = follower([str(tmp_path / "*.txt")], "c", claims, said)  # a hard link of mail.log
    for f in (a, b, c):
        f.open(None)
    got = read([a, b, c], clock)
    assert got == {"a": syslog(3, "mail").splitlines(), "b": syslog(2, "other").splitlines(), "c": []}
    append(tmp_path / "mail.log", "Aug 30 14:56:00 gorp sendmail[1]: more\n")
    assert read([a, b, c], clock) == {"a": ["Aug 30 14:56:00 gorp sendmail[1]: more"], "b": [], "c": []}
    assert sorted(said) == [  # once each, naming both inputs and the file
        f"shipper: {tmp_path}/*.log: {tmp_path}/mail.log is read by the input mail ({tmp_path}/mail*) (the first input "
        "in the configuration that matched it); this input skips it, so that its lines are not shipped twice (add it "
        "to this input's exclude: to silence this)",
        f"shipper: {tmp_path}/*.txt: {tmp_path}/copy.txt is read by the input mail ({tmp_path}/mail*) (the first input "
        "in the configuration that matched it); this input skips it, so that its lines are not shipped twice (add it "
        "to this input's exclude: to silence this)",
    ], said
    assert (b.counters["files_read_by_another_input"], c.counters["files_read_by_another_input"]) == (1, 1)


def test_a_file_that_appears_later_goes_to_the_first_input_that_matches_it(tmp_path: Path) -> None:
    claims, said, clock = Claims(), list[str](), Clock()
    a = follower([str(tmp_path / "mail*")], "a", claims, said)
    b = follower([str(tmp_path / "*.log")], "b", claims, said)
    for f in (a, b):
        f.open(None)
    (tmp_path / "mail.log").write_text(syslog(2, "late"))
    clock.now += 1.0
    assert lines(b.poll(clock.now)) == []  # b looks first: the file is still a's
    assert lines(a.poll(clock.now)) == syslog(2, "late").splitlines()
    assert len(said) == 1 and f"{tmp_path}/mail.log is read by the input {tmp_path}/mail*" in said[0]


def test_claims_follow_the_inode_through_rotation_and_a_finished_file_is_not_read_again(tmp_path: Path) -> None:
    """b matches only the rotated name: while a reads the renamed file to its end, and after a let
    go of it (read to its end), b does not read it."""
    log = tmp_path / "app.log"
    log.write_text(syslog(3, "old"))
    claims, said, clock = Claims(), list[str](), Clock()
    a = follower([str(tmp_path / "app.lo[g]")], "a", claims, said)
    b = follower([str(tmp_path / "*.log*")], "b", claims, said)
    for f in (a, b):
        f.open(None)
    got = read([a, b], clock)
    append(log, syslog(5, "old")[len(syslog(3, "old")):])  # written before the rename, read after it
    os.rename(log, tmp_path / "app.log.1")
    log.write_text(syslog(2, "new"))
    for more in read([a, b], clock, rounds=12).items():
        got[more[0]] += more[1]
    assert Counter(got["a"]) == Counter(syslog(5, "old").splitlines() + syslog(2, "new").splitlines())
    assert got["b"] == []
    assert not any(t["path"].endswith(".1") for t in a.state()["files"])  # a let go of it: ended and acknowledged
    assert any(t["path"].endswith("app.log.1") and t["done"] for t in b.state()["files"])  # b took it as read
    assert any(f"{tmp_path}/app.log.1 was read to its end by the input" in m for m in said), said


def test_a_finished_claim_on_an_inode_reused_by_a_new_file_is_let_go() -> None:
    claims = Claims()
    claims.register("a", "A", lambda: [], lambda: None)
    claims.register("b", "B", lambda: [], lambda: None)
    head = b"Aug 30 14:55:00 gorp app[1]: first line\n"
    claims.hold("a", {(1, 2): Held(fingerprint(head), len(head), done=True)})
    assert claims.take("b", [(1, 2)]) != {}  # a holds it
    claims.hold("a", {})  # a let go of it, read to its end
    [refusal] = claims.take("b", [(1, 2)]).values()
    assert refusal.finished and refusal.owner == "A"
    assert claims.finished((1, 2), head)
    assert not claims.finished((1, 2), b"another file in the same inode\n")
    assert claims.take("b", [(1, 2)]) == {}  # now b's


def test_a_claim_is_released_when_the_holder_no_longer_tracks_the_file() -> None:
    claims = Claims()
    claims.register("a", "A", lambda: [], lambda: None)
    claims.register("b", "B", lambda: [], lambda: None)
    assert claims.take("a", [(1, 2)]) == {}
    claims.hold("a", {(1, 2): Held("fp", 10, done=False)})
    assert claims.take("b", [(1, 2)]) != {}
    claims.hold("a", {})  # gone before a read it to its end: not finished
    assert claims.take("b", [(1, 2)]) == {}


def test_the_daemon_ships_a_file_two_globs_and_a_symlink_match_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "mail.log").write_text(syslog(20, "mail"))
    (logs / "links").mkdir()
    (logs / "links" / "maillog").symlink_to("../mail.log")
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "name": "mail", "paths": [str(logs / "mail*")], "scan_interval": "200ms"},
                   {"type": "file", "name": "logs", "paths": [str(logs / "*.log")], "scan_interval": "200ms"},
                   {"type": "file", "name": "link", "paths": [str(logs / "links" / "*")], "scan_interval": "200ms"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "run": {"batch_wait": "100ms"},
    })
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: sum(stored(tmp_path).values()) >= 20, 60, "the file stored")
        (logs / "late.log").symlink_to("mail.log")  # another name for it, later
        append(logs / "mail.log", syslog(25, "mail")[len(syslog(20, "mail")):])
        wait_for(lambda: sum(stored(tmp_path).values()) >= 25, 60, "the new lines stored")
        time.sleep(1.0)  # a line shipped twice would show up now
        assert daemon.stop() == 0
    got = stored(tmp_path)
    assert sum(got.values()) == 25 and set(got.values()) == {1}
    out = daemon.output()
    assert out.count(f"{logs}/mail.log is read by the input mail ({logs}/mail*)") == 1, out
    assert out.count(f"{logs}/links/maillog is read by the input mail ({logs}/mail*)") == 1, out
    assert out.count(f"{logs}/late.log is read by the input mail ({logs}/mail*)") == 1, out


@pytest.mark.parametrize(("first", "second", "wider", "narrower"), [
    ("{}", "{}", "inputs[0] (line 3)", "this input"),
    ("{path: J}", "{path: J/.}", "inputs[0] (line 3)", "this input"),
    ("{identifiers: [sendmail]}", "{}", "this input", "inputs[0] (line 3)"),
    ("{priority: 6}", "{priority: 3}", "inputs[0] (line 3)", "this input"),
], ids=["no filters", "same directory", "one filter", "narrower priority"])
def test_journal_inputs_where_one_selects_all_the_other_does_are_refused(
        tmp_path: Path, first: str, second: str, wider: str, narrower: str) -> None:
    path = tmp_path / "shipper.yml"
    first, second = (s.replace("J", str(tmp_path / "j")) for s in (first, second))
    path.write_text(f"state_dir: {tmp_path / 'state'}\ninputs:\n  - {{type: journal, name: a, {first[1:]}\n"
                    f"  - {{type: journal, name: b, {second[1:]}\n")
    with pytest.raises(ConfigError) as exc:
        make_followers(load_config(path), lambda line: None, 65536)
    where = f"the journal in {tmp_path / 'j'}" if "path" in first else "the local journal"
    assert exc.value.message == (f"{path}:4: inputs[1]: reads {where}, as inputs[0] (line 3) does, and {wider} selects "
                                 f"every entry {narrower} selects: each of them would be shipped twice")
    assert exc.value.hint == f"give {wider} units: or identifiers: that select other entries, or remove one of the two"


@pytest.mark.parametrize(("first", "second"), [
    ("{units: [sendmail.service]}", "{identifiers: [postfix]}"),
    ("{priority: 3}", "{identifiers: [sendmail]}"),  # errors, and all of sendmail: they overlap only in part
    ("{path: J}", "{}"),
], ids=["two filters", "partial overlap", "another journal"])
def test_journal_inputs_that_select_other_entries_are_valid(tmp_path: Path, first: str, second: str) -> None:
    path = tmp_path / "shipper.yml"
    first, second = (s.replace("J", str(tmp_path / "j")) for s in (first, second))
    path.write_text(f"state_dir: {tmp_path / 'state'}\ninputs:\n  - {{type: journal, name: a, {first[1:]}\n"
                    f"  - {{type: journal, name: b, {second[1:]}\n")
    assert len(make_followers(load_config(path), lambda line: None, 65536)) == 2
