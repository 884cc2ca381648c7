"""`shipper report -o` through a symbolic link, into a FIFO, a device, a descriptor or stdout.

A file is replaced whole (written beside it, then renamed); a link is followed, so the file it names
gets the page and the link stays; a FIFO, a character device or a descriptor the shell opened is
written to as it is (never replaced by a regular file); a block device is refused.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from shipper.env import Env
from shipper.errors import ExitCode
from tests.helpers.browser import replay, report, text

SEED_LOG = Path(__file__).resolve().parents[2] / "tests" / "data" / "seed" / "messages-sendmail.log"


@pytest.fixture
def store(tmp_path: Path, env: Env) -> Path:
    return replay([SEED_LOG], tmp_path / "s.db", env)


def _is_page(data: bytes) -> bool:
    return data.startswith(b"<!doctype html>") and data.rstrip().endswith(b"</html>") and b"shipper-data" in data


def test_a_link_is_followed_and_kept(store: Path, env: Env, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    target = tmp_path / "site" / "report.html"
    target.write_text("yesterday's report")
    link = tmp_path / "latest.html"
    link.symlink_to(target)
    assert report(store, link, env) == ExitCode.OK, text(env.stderr)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert _is_page(target.read_bytes())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in target.parent.iterdir()] == ["report.html"], "no temporary file left"
    assert text(env.stdout).splitlines()[-1] == str(link)


def test_a_dangling_link_creates_its_target(store: Path, env: Env, tmp_path: Path) -> None:
    link = tmp_path / "latest.html"
    link.symlink_to("made.html")  # relative: beside the link
    assert report(store, link, env) == ExitCode.OK, text(env.stderr)
    assert link.is_symlink() and _is_page((tmp_path / "made.html").read_bytes())


def test_a_fifo_is_written_to_and_stays_a_fifo(store: Path, env: Env, tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    # The read end is open before the command runs; a write end is held open while it runs, so the
    # reader's end of file comes once the test closes it, whether the command wrote there or not.
    keeper = os.open(fifo, os.O_RDWR)
    got: list[bytes] = []
    with open(os.open(fifo, os.O_RDONLY), "rb") as end:
        reader = threading.Thread(target=lambda: got.append(end.read()), daemon=True)
        reader.start()
        try:
            assert report(store, fifo, env) == ExitCode.OK, text(env.stderr)
        finally:
            os.close(keeper)
            reader.join(30)
    assert got and _is_page(got[0])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_character_device_stays_a_device(store: Path, env: Env, tmp_path: Path) -> None:
    """Its own /dev/null (1, 3) under the test's directory where it can make one (as root), so that
    a regression cannot replace the system's /dev/null; a user cannot replace /dev/null anyway."""
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        null = Path("/dev/null")
    before = os.stat(null)
    assert report(store, null, env) == ExitCode.OK, text(env.stderr)
    after = os.lstat(null)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


def test_a_descriptor_the_shell_opened_gets_the_page(store: Path, env: Env, tmp_path: Path) -> None:
    """``3>out.html shipper report -o /dev/fd/3``: written through the descriptor, not beside its file."""
    out = tmp_path / "out.html"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        assert report(store, Path(f"/dev/fd/{fd}"), env) == ExitCode.OK, text(env.stderr)
        assert os.fstat(fd).st_size > 0, "the file the descriptor holds got the page"
    finally:
        os.close(fd)
    assert _is_page(out.read_bytes())


def test_dash_is_stdout(store: Path, env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert report(store, Path("-"), env) == ExitCode.OK, text(env.stderr)
    assert _is_page(env.stdout.buffer.getvalue())  # type: ignore[attr-defined]
    assert text(env.stdout) == "", "no path printed after the page"
    assert not (tmp_path / "-").exists()


def test_a_block_device_is_refused(store: Path, env: Env, tmp_path: Path) -> None:
    disk = tmp_path / "loop"
    try:
        os.mknod(disk, stat.S_IFBLK | 0o600, os.makedev(7, 0))
    except PermissionError:
        pytest.skip("making a block device node needs root")
    assert report(store, disk, env) == ExitCode.USAGE
    assert "is a block device" in text(env.stderr)
    assert stat.S_ISBLK(os.lstat(disk).st_mode)


def test_a_link_to_the_store_is_still_refused(store: Path, env: Env, tmp_path: Path) -> None:
    link = tmp_path / "report.html"
    link.symlink_to(store)
    before = store.read_bytes()
    assert report(store, link, env) == ExitCode.USAGE
    assert "the report would overwrite it" in text(env.stderr)
    assert store.read_bytes() == before and link.is_symlink()
