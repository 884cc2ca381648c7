"""`shipper report -o FILE` replacing a report keeps its mode (a 0600 report became 0644), its owner and
its group, and never gives the old group's access to another group; a new file is 0644 less the umask."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from shipper.env import Env
from shipper.errors import ExitCode
from shipper.report.html import write
from tests.helpers.browser import replay, report, text

SEED_LOG = Path(__file__).resolve().parents[2] / "tests" / "data" / "seed" / "messages-sendmail.log"
NOBODY = 65534


@pytest.fixture
def store(tmp_path: Path, env: Env) -> Path:
    return replay([SEED_LOG], tmp_path / "s.db", env)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400, 0o664], ids=oct)
def test_a_replaced_report_keeps_its_mode(store: Path, env: Env, tmp_path: Path, mode: int) -> None:
    out = tmp_path / "report.html"
    out.write_text("old")
    out.chmod(mode)
    inode = os.stat(out).st_ino
    assert report(store, out, env) == ExitCode.OK, text(env.stderr)
    assert out.read_bytes().startswith(b"<!doctype html>") and os.stat(out).st_ino != inode  # replaced
    assert _mode(out) == mode


def test_through_a_link_the_file_it_names_keeps_its_mode(store: Path, env: Env, tmp_path: Path) -> None:
    target = tmp_path / "real.html"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.html"
    link.symlink_to(target)
    assert report(store, link, env) == ExitCode.OK, text(env.stderr)
    assert link.is_symlink() and _mode(target) == 0o600


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640)])
def test_a_new_report_is_0644_less_the_umask(store: Path, env: Env, tmp_path: Path, umask: int, mode: int) -> None:
    out = tmp_path / "new.html"
    old = os.umask(umask)
    try:
        assert report(store, out, env) == ExitCode.OK, text(env.stderr)
    finally:
        os.umask(old)
    assert _mode(out) == mode


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to own files as another user)")
def test_root_replacing_a_users_report_keeps_its_owner_and_group(store: Path, env: Env, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old")
    os.chown(out, NOBODY, NOBODY)
    out.chmod(0o640)
    assert report(store, out, env) == ExitCode.OK, text(env.stderr)
    after = os.stat(out)
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (NOBODY, NOBODY, 0o640)


@pytest.fixture
def nobodys_dir() -> Iterator[Path]:
    """A directory of user nobody that nobody can reach (pytest's directories are root's, 0700)."""
    work = Path(tempfile.mkdtemp(prefix="shipper-report-mode-"))
    os.chown(work, NOBODY, NOBODY)
    yield work
    shutil.rmtree(work)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to write as another user)")
def test_a_group_the_user_cannot_keep_loses_its_access(nobodys_dir: Path) -> None:
    """A user replacing a 0640 report whose group is not one of theirs: the new file's group (their
    own) must not get the old group's read access. The page is written by a child process that
    became that user (the report's writer, as `shipper report` calls it)."""
    out = nobodys_dir / "report.html"
    out.write_text("old")
    os.chown(out, NOBODY, 0)  # group root: nobody is not a member
    out.chmod(0o640)
    pid = os.fork()
    if pid == 0:  # the child: nobody, writing the page
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            write(out, "<!doctype html><html></html>")
            code = 0
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    after = os.stat(out)
    assert out.read_text().startswith("<!doctype html>")
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (NOBODY, NOBODY, 0o600)
