"""After a copytruncate with a writer that does not open its file in append mode, the new content
starts with a run of NUL bytes (a hole). Its fingerprint is taken over the first bytes after that
run, so that the next such content is not taken for it (they used to share the fingerprint of 1,024
NULs, and the follower went on in the new content from the earlier read position, losing lines).
A file that holds only NULs so far has no fingerprint yet; fingerprints of files that start with
text are the same as before (existing checkpoints still match their files)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from pathlib import Path

from shipper.sources.fileid import FP_BYTES, fingerprint, read_head
from shipper.sources.live import End, Gap, Polled, TextMark
from shipper.sources.tail import FileFollower
from shipper.sources.tailfile import Tracked
from tests.unit.test_tail_files import Clock, lines, make, poll


def text(n: int, tag: str) -> bytes:
    return "".join(f"Aug 30 14:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: {tag} line {i}\n"
                   for i in range(n)).encode()


def copytruncate(log: Path) -> None:
    """logrotate's copytruncate with ``rotate 2``: maillog.1 -> maillog.2, copy maillog -> maillog.1, truncate."""
    one = log.with_name(log.name + ".1")
    if one.exists():
        os.replace(one, log.with_name(log.name + ".2"))
    shutil.copyfile(log, one)
    os.truncate(log, 0)


def acknowledged(f: FileFollower, items: list[Polled]) -> None:
    for item in items:
        if isinstance(item, End) and item.checkpoint is not None:
            f.commit(item.source_id, item.checkpoint)


def test_two_copytruncates_with_plain_writers_at_different_offsets_lose_no_line(tmp_path: Path) -> None:
    """Two processes write the log without O_APPEND: the first at the offsets of the first content,
    the second (started later) at a smaller offset. After the second copytruncate the new content
    starts with a shorter run of NULs than the first one did: it is a new stream, read from where
    its text starts; the first content's last lines are read from its copy."""
    log = tmp_path / "maillog"
    clock, said = Clock(), list[str]()
    f = make([str(tmp_path / "maillog*")], clock, said)
    first = os.open(log, os.O_WRONLY | os.O_CREAT, 0o644)
    second = os.open(log, os.O_WRONLY)
    try:
        os.write(first, text(400, "first"))  # about 20 KiB
        f.open(None)
        got = poll(f, clock)
        copytruncate(log)
        os.write(first, text(60, "second"))  # after a hole of 20 KiB
        got += poll(f, clock)
        os.write(first, text(3, "unread"))  # written, not read before the next rotation
        copytruncate(log)
        os.lseek(second, 8192, os.SEEK_SET)  # the second writer's own offset, below the first's
        os.write(second, text(50, "third"))
        got += poll(f, clock, rounds=15)
        acknowledged(f, got)
    finally:
        os.close(first)
        os.close(second)
    want = text(400, "first") + text(60, "second") + text(3, "unread") + text(50, "third")
    assert Counter(lines(got)) == Counter(want.decode().splitlines())
    assert not [m for m in said if "may be missing" in m], said


def test_one_writer_going_on_at_its_offset_after_the_second_copytruncate(tmp_path: Path) -> None:
    """The same writer goes on after the second copytruncate at its own (larger) offset: the content
    read so far is gone from the file (its first text is not where it was), so its last lines are
    read from the copy, not skipped as NULs of the new content's hole."""
    log = tmp_path / "maillog"
    clock = Clock()
    f = make([str(tmp_path / "maillog*")], clock)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, text(100, "first"))
        f.open(None)
        got = poll(f, clock)
        copytruncate(log)
        os.write(fd, text(40, "second"))
        got += poll(f, clock)
        os.write(fd, text(5, "unread"))
        copytruncate(log)
        os.write(fd, text(20, "third"))
        got += poll(f, clock, rounds=15)
    finally:
        os.close(fd)
    want = text(100, "first") + text(40, "second") + text(5, "unread") + text(20, "third")
    assert Counter(lines(got)) == Counter(want.decode().splitlines())


def test_the_fingerprint_skips_a_leading_nul_run_and_is_unchanged_for_other_files(tmp_path: Path) -> None:
    plain = text(100, "x")
    # Files that start with text: the hash of their first FP_BYTES bytes, as the current release saves it.
    assert fingerprint(plain[:FP_BYTES]) == hashlib.blake2b(plain[:FP_BYTES], digest_size=16).hexdigest()
    (tmp_path / "plain").write_bytes(plain)
    head = read_head(str(tmp_path / "plain"))
    assert (head.data, head.at) == (plain[:FP_BYTES], 0)
    holed = tmp_path / "holed"
    with open(holed, "wb") as fh:  # a real hole, then text: what the writer leaves
        fh.seek(300_000)
        fh.write(plain)
    head = read_head(str(holed))
    assert (head.data, head.at) == (plain[:FP_BYTES], 300_000)
    (tmp_path / "zeros").write_bytes(b"\0" * 5000 + b"x" * 10)  # NULs written out (a copy without holes)
    head = read_head(str(tmp_path / "zeros"))
    assert (head.data, head.at) == (b"x" * 10, 5000)
    (tmp_path / "only").write_bytes(b"\0" * 3000)
    assert read_head(str(tmp_path / "only")).data == b""  # no fingerprint yet


def test_a_file_of_nuls_only_is_not_tracked_until_text_comes(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_bytes(b"\0" * 4096)
    clock = Clock()
    f = make([str(log)], clock)
    f.open(None)
    assert lines(poll(f, clock)) == [] and f.state() == {"files": []}
    with open(log, "ab") as fh:
        fh.write(text(2, "late"))
    assert lines(poll(f, clock)) == text(2, "late").decode().splitlines()
    [saved] = f.state()["files"]
    assert saved["fp_at"] == 4096 and saved["fp"] == fingerprint(text(2, "late"))
    end = 4096 + len(text(2, "late"))
    f.commit(f"file-test/{saved['key']}", TextMark(end, end))
    state = f.state()
    f.close()
    with open(log, "ab") as fh:  # a restart: the content is recognised where its text starts
        fh.write(text(3, "late")[len(text(2, "late")):])
    again = make([str(log)], clock)
    again.open(state)
    got = poll(again, clock)
    assert lines(got) == text(3, "late").decode().splitlines()[2:] and not [i for i in got if isinstance(i, Gap)]


def test_a_checkpoint_of_the_current_release_still_matches(tmp_path: Path) -> None:
    """A normal file: the saved fingerprint matches and reading resumes at the offset (nothing read
    again). A content saved with the fingerprint of NULs (its hole) is fingerprinted again when read."""
    log = tmp_path / "messages"
    log.write_bytes(text(10, "old"))
    st = log.stat()
    head = text(10, "old")[:FP_BYTES]
    saved = {"key": "k", "path": str(log), "first_path": str(log), "dev": st.st_dev, "ino": st.st_ino,
             "fp": hashlib.blake2b(head, digest_size=16).hexdigest(), "fp_len": len(head),
             "offset": len(text(4, "old")), "shipped": len(text(4, "old")), "size": len(text(10, "old")),
             "updated": 0.0, "done": False, "copies": []}
    clock = Clock()
    f = make([str(log)], clock)
    f.open({"files": [saved]})
    assert lines(poll(f, clock)) == text(10, "old").decode().splitlines()[4:]
    assert [t["key"] for t in f.state()["files"]] == ["k"]
    holed = {**saved, "fp": fingerprint(b"\0" * FP_BYTES), "fp_len": FP_BYTES}
    t = Tracked.from_json(holed)
    assert (t.fp_len, t.fp_at) == (0, 0)  # not a fingerprint of its content: taken again
