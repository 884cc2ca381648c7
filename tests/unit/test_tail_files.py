"""Following files: growth, partial lines, rotation by rename, copytruncate, compression, restarts.

Real files in a temporary directory, changed the way writers and logrotate change them; the
follower is polled with an explicit clock so that idle timeouts need no sleeping.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Any

from shipper.config.loader import Duration
from shipper.config.model import FileInput
from shipper.event import TAG_TRUNCATED
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.sources.base import RawChunk
from shipper.sources.live import End, Gap, Idle, Polled, TextMark
from shipper.sources.tail import FileFollower
from shipper.sources.tailfile import POLL_LINES, READ_BYTES

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make(paths: list[str], clock: Clock, logs: list[str] | None = None, **settings: Any) -> FileFollower:
    cfg = FileInput(type="file", paths=paths, flush_after=Duration(settings.pop("flush_after", 2.0)),
                    scan_interval=Duration(0.5), **settings)
    return FileFollower(cfg, "file-test", max_line_bytes=65536, log=(logs if logs is not None else []).append,
                        close_after=10.0, clock=clock)


def poll(f: FileFollower, clock: Clock, step: float = 1.0, rounds: int = 3) -> list[Polled]:
    """Poll until nothing new comes (each poll a little later, so that scans happen)."""
    out: list[Polled] = []
    quiet = 0
    while quiet < rounds:
        clock.now += step
        got = f.poll(clock.now)
        out += got
        quiet = 0 if got else quiet + 1
    return out


def lines(items: list[Polled]) -> list[str]:
    return [line for item in items if isinstance(item, RawChunk) for line in item.items]


def append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def syslog(n: int, tag: str = "m") -> str:
    return "".join(f"Aug 30 14:55:{i % 60:02d} gorp sendmail[{1000 + i}]: {tag} {i}\n" for i in range(n))


def test_reads_what_is_appended_and_holds_a_partial_last_line(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("first\nsecond\nthi")
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    assert lines(poll(f, clock, step=0.1)) == ["first", "second"]  # "thi" is still being written
    append(log, "rd\nfourth\n")
    assert lines(poll(f, clock, step=0.1)) == ["third", "fourth"]
    append(log, "no newline yet")
    got = poll(f, clock, step=0.5, rounds=8)  # idle for longer than flush_after
    assert lines(got) == ["no newline yet"]
    assert any(isinstance(i, Idle) for i in got)
    append(log, "\nlast\n")
    assert lines(poll(f, clock, step=0.1)) == ["", "last"]


def test_what_is_read_comes_in_small_chunks_so_that_their_documents_stay_in_the_caches(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(syslog(POLL_LINES * 2 + 5))
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    got = [i for i in poll(f, clock, step=0.1) if isinstance(i, RawChunk)]
    assert [len(i.items) for i in got] == [POLL_LINES, POLL_LINES, 5]
    assert got[-1].checkpoint == (str(log), log.stat().st_size)


def test_new_files_matched_while_running_are_read_from_their_start(tmp_path: Path) -> None:
    clock = Clock()
    f = make([str(tmp_path / "*.log")], clock)
    f.open(None)
    assert poll(f, clock) == []
    (tmp_path / "a.log").write_text("a1\na2\n")
    (tmp_path / "b.txt").write_text("not matched\n")
    assert lines(poll(f, clock)) == ["a1", "a2"]
    (tmp_path / "b.log").write_text("b1\n")
    (tmp_path / "skip.log").write_text("excluded\n")
    assert sorted(lines(poll(f, clock))) == ["b1", "excluded"]
    f2 = make([str(tmp_path / "*.log")], clock, exclude=["skip.*"])
    f2.open(None)
    assert sorted(lines(poll(f2, clock))) == ["a1", "a2", "b1"]


def test_rotation_by_rename_finishes_the_old_file_then_reads_the_new(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(syslog(3, "old"))
    clock = Clock()
    f = make([str(tmp_path / "maillog*")], clock)
    f.open(None)
    assert len(lines(poll(f, clock))) == 3
    with open(log, "a") as writer:  # the writer keeps its descriptor across the rename
        os.rename(log, tmp_path / "maillog.1")
        log.write_text(syslog(2, "new"))
        writer.write("Aug 30 14:56:00 gorp sendmail[1]: old, written after the rename\n")
    got = lines(poll(f, clock))
    assert got == ["Aug 30 14:56:00 gorp sendmail[1]: old, written after the rename",
                   "Aug 30 14:55:00 gorp sendmail[1000]: new 0", "Aug 30 14:55:01 gorp sendmail[1001]: new 1"]
    ended = [i for i in poll(f, clock, step=5.0) if isinstance(i, End)]
    assert len(ended) == 1 and isinstance(ended[0].checkpoint, TextMark) and ended[0].checkpoint.done
    f.commit(ended[0].source_id, ended[0].checkpoint)
    state = f.state()["files"]
    assert [(Path(s["path"]).name, s["done"]) for s in state] == [("maillog.1", True), ("maillog", False)]


def test_a_rotated_file_compressed_afterwards_is_not_read_again(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(syslog(5))
    clock = Clock()
    f = make([str(tmp_path / "maillog*")], clock)
    f.open(None)
    assert len(lines(poll(f, clock))) == 5
    os.rename(log, tmp_path / "maillog.1")
    log.write_text(syslog(1, "new"))
    ended = [i for i in poll(f, clock, step=5.0) if isinstance(i, End)]
    for e in ended:
        f.commit(e.source_id, e.checkpoint)
    _gzip(tmp_path / "maillog.1", clock.now - 60)
    got = poll(f, clock)
    assert lines(got) == [] and not any(isinstance(i, Gap) for i in got)
    # ... and after a restart neither
    f.close()
    f2 = make([str(tmp_path / "maillog*")], clock)
    assert f2.open(f.state()) == []
    assert lines(poll(f2, clock)) == ["Aug 30 14:55:00 gorp sendmail[1000]: new 0"]  # never acknowledged


def _read_while_stopped(tmp_path: Path, clock: Clock) -> dict[str, Any]:
    """maillog's 4 lines read, 2 of them acknowledged when shipper stops (its saved state); then,
    while it is down, 2 more lines are written and maillog is rotated to maillog.1."""
    log = tmp_path / "maillog"
    log.write_text(syslog(4))
    f = make([str(tmp_path / "maillog*")], clock)
    f.open(None)
    poll(f, clock)
    f.commit("file-test/x", TextMark(0, 0))  # an unknown stream: ignored
    sid = f"file-test/{f.state()['files'][0]['key']}"
    f.commit(sid, TextMark(len(syslog(2)), len(syslog(2))))
    saved = f.state()
    f.close()
    append(log, syslog(6)[len(syslog(4)):])
    os.rename(log, tmp_path / "maillog.1")
    return saved


def test_the_rest_of_a_file_compressed_before_it_was_read_comes_from_the_archive(tmp_path: Path) -> None:
    clock = Clock()
    saved = _read_while_stopped(tmp_path, clock)  # then compression, removal
    _gzip(tmp_path / "maillog.1", clock.now - 60)
    f2 = make([str(tmp_path / "maillog*")], clock)
    assert f2.open(saved) == []
    got = lines(poll(f2, clock))
    assert got == syslog(6).splitlines()[2:]


def test_copytruncate_goes_on_in_the_copy_without_losing_lines(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(syslog(3))
    clock = Clock()
    f = make([str(tmp_path / "messages*")], clock)
    f.open(None)
    assert len(lines(poll(f, clock))) == 3
    append(log, syslog(5)[len(syslog(3)):])  # lines 3-4: written, not read yet
    shutil.copy(log, tmp_path / "messages-20170830")  # logrotate copytruncate: copy, then truncate
    with open(log, "r+") as fh:
        fh.truncate(0)
    append(log, "Aug 30 15:00:00 gorp sendmail[9]: after the truncation\n")
    got = poll(f, clock)
    assert not any(isinstance(i, Gap) for i in got)
    assert lines(got) == syslog(5).splitlines()[3:] + ["Aug 30 15:00:00 gorp sendmail[9]: after the truncation"]


def test_copytruncate_without_a_copy_reports_a_gap_and_restarts_at_zero(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(syslog(3))
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    poll(f, clock)
    with open(log, "r+") as fh:
        fh.truncate(0)
    append(log, "fresh\n")
    got = poll(f, clock)
    gaps = [i for i in got if isinstance(i, Gap)]
    assert len(gaps) == 1 and "truncated" in gaps[0].message and str(log) in gaps[0].message
    assert any(isinstance(i, End) and i.checkpoint is None for i in got)  # the old stream is abandoned
    assert lines(got) == ["fresh"]


def test_a_file_rewritten_in_place_is_detected_by_its_fingerprint(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\n")
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    poll(f, clock)
    with open(log, "r+") as fh:  # same inode, new content, already longer than what was read
        fh.write("ONE\nTWO\nTHREE\n")
    got = poll(f, clock)
    assert lines(got) == ["ONE", "TWO", "THREE"]
    assert any(isinstance(i, Gap) for i in got)


def test_restart_resumes_at_the_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(syslog(4))
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    poll(f, clock)
    sid = f"file-test/{f.state()['files'][0]['key']}"
    f.commit(sid, TextMark(len(syslog(3)), len(syslog(3))))
    saved = f.state()
    f.close()
    append(log, syslog(6)[len(syslog(4)):])
    f2 = make([str(log)], clock)
    f2.open(saved)
    assert lines(poll(f2, clock)) == syslog(6).splitlines()[3:]


def test_start_tail_skips_what_is_there_at_the_first_start(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(syslog(3) + "partial")
    _gzip_text(tmp_path / "messages.1.gz", syslog(2, "archived"), T0 - 60)
    clock = Clock()
    f = make([str(tmp_path / "messages*")], clock, start="tail")
    f.open(None)
    append(log, " line\nnext\n")
    assert lines(poll(f, clock)) == ["partial line", "next"]


def test_a_file_removed_while_shipper_was_down_before_it_was_read_is_a_gap(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(syslog(4))
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    poll(f, clock)
    sid = f"file-test/{f.state()['files'][0]['key']}"
    f.commit(sid, TextMark(10, 10))
    saved = f.state()
    f.close()
    log.unlink()
    gaps = [i for i in make([str(log)], clock).open(saved) if isinstance(i, Gap)]
    assert len(gaps) == 1 and "removed or replaced" in gaps[0].message


def test_journal_files_in_a_file_input_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "x.log").write_bytes(b"LPKSHHRH" + bytes(300))
    logs: list[str] = []
    clock = Clock()
    f = make([str(tmp_path / "*.log")], clock, logs=logs)
    f.open(None)
    assert lines(poll(f, clock)) == []
    assert any("journal-file" in m and "journal input" in m for m in logs)


def _gzip(path: Path, mtime: float) -> None:
    target = path.with_name(path.name + ".gz")
    with open(path, "rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()
    os.utime(target, (mtime, mtime))


def _gzip_text(target: Path, text: str, mtime: float) -> None:
    with gzip.open(target, "wt") as dst:
        dst.write(text)
    os.utime(target, (mtime, mtime))


def test_never_follows_its_own_output_where_the_patterns_match_it(tmp_path: Path) -> None:
    """`paths: [/var/log/*.log]` with the NDJSON output at /var/log/shipper.log: every line read from
    the output would be written to it again, without end (150 MB in 8 s from a 100-line input, before).
    The output is recognised by its inode, also when it appears after the first scan (the local
    store's -wal file) or is reached through a symlink."""
    (tmp_path / "app.log").write_text(syslog(3))
    out = tmp_path / "shipper.log"
    clock = Clock()
    logs: list[str] = []
    cfg = FileInput(type="file", paths=[str(tmp_path / "*.log")], scan_interval=Duration(0.5))
    f = FileFollower(cfg, "file-test", max_line_bytes=65536, log=logs.append, clock=clock, own=[out])
    f.open(None)
    assert len(lines(poll(f, clock))) == 3
    append(out, syslog(2, "written by shipper"))  # the output file appears (the sink opens it)
    (tmp_path / "link.log").symlink_to(out)
    append(tmp_path / "app.log", syslog(1, "new"))
    assert lines(poll(f, clock)) == ["Aug 30 14:55:00 gorp sendmail[1000]: new 0"]
    assert sorted(logs) == [f"shipper: {tmp_path / name} matches {tmp_path / '*.log'} but is shipper's own output; "
                            "it is not read (add it to the input's exclude: to silence this)"
                            for name in ("link.log", "shipper.log")]


def years(items: list[Polled]) -> set[str]:
    """The years of the lines' @timestamps as the daemon's parser gives them (RFC 3164 stamps have
    none: it is inferred from the mtime of the file read, `shipper.parse.timestamps`)."""
    found: set[str] = set()
    for chunk in (i for i in items if isinstance(i, RawChunk)):
        parser = make_parser(chunk.origin, ParseContext("UTC"))
        found |= {doc["@timestamp"][:4] for doc in parser.parse(chunk) + parser.flush()}
    return found


def truncated(items: list[Polled]) -> list[str]:
    """The lines tagged as cut to the cap."""
    return [c.items[i] for c in items if isinstance(c, RawChunk) for i, tags in c.tags.items() if TAG_TRUNCATED in tags]


def commit_all(f: FileFollower) -> None:
    """Everything read is acknowledged (as when shipper is stopped after its store caught up)."""
    for s in f.state()["files"]:
        f.commit(f"file-test/{s['key']}", TextMark(s["size"], s["size"]))


def test_lines_of_archives_found_at_the_first_start_get_the_year_of_the_archive(tmp_path: Path) -> None:
    """The year was 1970: an archive's lines had no mtime to infer it from."""
    _gzip_text(tmp_path / "messages.1.gz", syslog(2, "archived"), T0 - 60)  # Nov 2023: the lines are of Aug 30, 2023
    clock = Clock()
    f = make([str(tmp_path / "messages*")], clock)
    f.open(None)
    got = poll(f, clock)
    assert lines(got) == syslog(2, "archived").splitlines()
    assert years(got) == {"2023"}


def test_an_archive_of_what_was_read_is_not_read_again_though_it_was_modified_just_now(tmp_path: Path) -> None:
    """Rotated, then compressed while shipper was down, the archive touched (or compressed
    without keeping the mtime): it is recent, so not read until it settles, and its content was
    forgotten meanwhile, as if it had vanished; the archive was then read again from its start."""
    log = tmp_path / "app.log"
    log.write_text(syslog(5, "first"))
    clock = Clock()
    f = make([str(tmp_path / "app.log*")], clock)
    f.open(None)
    poll(f, clock)
    os.rename(log, tmp_path / "app.log.1")
    log.write_text(syslog(3, "second"))
    assert lines(poll(f, clock)) == syslog(3, "second").splitlines()
    commit_all(f)
    saved = f.state()
    f.close()
    os.rename(tmp_path / "app.log.1", tmp_path / "app.log.2")  # while shipper is down
    _gzip(tmp_path / "app.log.2", clock.now)
    os.rename(log, tmp_path / "app.log.1")
    log.write_text(syslog(2, "third"))
    f2 = make([str(tmp_path / "app.log*")], clock)
    got = f2.open(saved) + poll(f2, clock, rounds=8)  # for longer than the archive takes to settle
    assert lines(got) == syslog(2, "third").splitlines()
    assert not any(isinstance(i, Gap) for i in got)


def test_the_rest_of_a_file_is_read_from_its_archive_once_it_settles_with_the_archive_s_year(tmp_path: Path) -> None:
    clock = Clock()
    saved = _read_while_stopped(tmp_path, clock)
    _gzip(tmp_path / "maillog.1", clock.now)  # compressed just before shipper starts again
    f2 = make([str(tmp_path / "maillog*")], clock)
    got = f2.open(saved) + poll(f2, clock, rounds=8)
    assert lines(got) == syslog(6).splitlines()[2:]
    assert years(got) == {"2023"} and not any(isinstance(i, Gap) for i in got)


def test_a_line_longer_than_a_poll_reads_is_cut_and_reading_goes_on(tmp_path: Path) -> None:
    """Each poll reads at most `READ_BYTES` of a file; a line longer than that was never complete
    within them, and the file was stuck there for good."""
    log = tmp_path / "app.log"
    huge = "HUGE" + "x" * (READ_BYTES + 100_000)
    log.write_text(f"before\n{huge}\nafter huge\n")
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    got = poll(f, clock, step=0.1)
    assert lines(got) == ["before", huge[:65536], "after huge"]
    assert truncated(got) == [huge[:65536]]
    append(log, "appended later\n")
    assert lines(poll(f, clock, step=0.1)) == ["appended later"]


def test_a_long_line_still_being_written_waits_for_its_end_or_for_the_file_to_be_idle(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("before\nHUGE" + "x" * (READ_BYTES + 10))
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    assert lines(poll(f, clock, step=0.1)) == ["before"]
    append(log, "y" * 10 + "\nafter\n")
    got = poll(f, clock, step=0.1)
    assert lines(got) == [("HUGE" + "x" * READ_BYTES)[:65536], "after"] and truncated(got) == lines(got)[:1]
    append(log, "z" * (READ_BYTES + 10))
    got = poll(f, clock, step=0.5, rounds=8)  # idle for longer than flush_after
    assert lines(got) == truncated(got) == ["z" * 65536]
