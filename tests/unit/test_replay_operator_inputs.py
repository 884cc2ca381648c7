"""`shipper replay` as an operator uses it on archived logs: what it refuses to read and what its
summary says. stdin given twice is refused (it read nothing and exited 0); a tar archive is refused
with the command that extracts it (its headers were read as log lines, its members never); a
dangling link in a directory fails as it does when named (it was skipped silently); where the year
of RFC 3164 stamps came from is said when --year is not given; read errors are counted apart from
unparsed lines."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
from pathlib import Path

import orjson
import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode

SEED_LOG = Path(__file__).resolve().parents[2] / "tests" / "data" / "seed" / "messages-sendmail.log"


def _err(env: Env) -> str:
    return env.stderr.getvalue()  # type: ignore[attr-defined]


def _replay(env: Env, *args: str) -> int:
    return main(["replay", "--output", "ndjson", "--timezone", "UTC", *args], env)


def _docs(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_stdin_given_twice_is_refused(env: Env, tmp_path: Path) -> None:
    env.stdin = io.BytesIO(SEED_LOG.read_bytes())
    out = tmp_path / "o.nd"
    assert _replay(env, "-o", str(out), "-", "-") == ExitCode.USAGE
    assert "stdin (-) given twice" in _err(env) and not out.exists()


def _tarball(tmp_path: Path, compressed: bool) -> Path:
    logs = tmp_path / "demo" / "logs"
    logs.mkdir(parents=True)
    (logs / "maillog.1.gz").write_bytes(gzip.compress(SEED_LOG.read_bytes()))
    path = tmp_path / ("logs.tar.gz" if compressed else "logs.tar")
    with tarfile.open(path, "w:gz" if compressed else "w") as tar:
        tar.add(logs, arcname="demo/logs")
    return path


@pytest.mark.parametrize("compressed", [True, False], ids=["tar.gz", "tar"])
def test_a_tar_archive_is_refused_with_the_command_that_extracts_it(env: Env, tmp_path: Path, compressed: bool) -> None:
    tarball = _tarball(tmp_path, compressed)
    out = tmp_path / "o.nd"
    assert _replay(env, "-o", str(out), "--year", "2017", str(tarball)) == ExitCode.INPUT
    err = _err(env)
    assert f"cannot read {tarball}: it is a tar archive" in err
    assert f"mkdir X && tar -xf {tarball} -C X && shipper replay X" in err
    assert not out.exists()


def test_a_tar_archive_on_stdin_or_in_a_directory_is_refused(env: Env, tmp_path: Path) -> None:
    tarball = _tarball(tmp_path, True)
    env.stdin = io.BytesIO(tarball.read_bytes())
    assert _replay(env, "-o", str(tmp_path / "o.nd"), "-") == ExitCode.INPUT
    assert "cannot read stdin: it is a tar archive" in _err(env) and "tar -xf - -C X" in _err(env)
    assert _replay(env, "-o", str(tmp_path / "o.nd"), str(tmp_path)) == ExitCode.INPUT
    assert f"cannot read {tarball}: it is a tar archive" in _err(env)


def test_a_dangling_link_in_a_directory_fails_as_when_it_is_named(env: Env, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "messages").write_bytes(SEED_LOG.read_bytes())
    (logs / "maillog").symlink_to(tmp_path / "gone" / "maillog")
    (logs / "sockets").symlink_to(tmp_path)  # a link to a directory is not followed: skipped, as before
    out = tmp_path / "o.nd"
    assert _replay(env, "-o", str(out), "--year", "2017", str(logs / "maillog")) == ExitCode.INPUT
    assert _replay(env, "-o", str(out), "--year", "2017", str(logs)) == ExitCode.INPUT
    err = _err(env).splitlines()
    assert err[-2] == f"shipper: error: cannot read {logs / 'maillog'}: it is a symbolic link to " \
                      f"{tmp_path / 'gone' / 'maillog'}, which does not exist"
    assert not out.exists()
    (logs / "maillog").unlink()
    assert _replay(env, "-o", str(out), "--year", "2017", str(logs)) == ExitCode.OK, _err(env)
    assert len(_docs(out)) == 10


def test_the_summary_says_where_a_guessed_year_came_from(env: Env, tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_bytes(SEED_LOG.read_bytes())
    os.utime(log, (1_504_224_000, 1_504_224_000))  # 2017-09-01
    out = tmp_path / "o.nd"
    env.stdin = io.BytesIO(SEED_LOG.read_bytes())
    assert _replay(env, "-o", str(out), str(log), "-") == ExitCode.OK
    err = _err(env)
    assert (f"replay: {log}: RFC 3164 stamps carry no year: year 2017 taken from the file's modification time "
            "(2017-09-01; a later day of the year is of the year before); give --year") in err
    now = os.popen("date -u +%Y").read().strip()
    assert f"replay: stdin: RFC 3164 stamps carry no year: year {now} taken from stdin's arrival (now, " in err
    assert "the year of the first line" in err


def test_no_year_note_with_year_or_without_year_less_stamps(env: Env, tmp_path: Path) -> None:
    iso = tmp_path / "iso.log"
    iso.write_text("2017-08-30T14:00:00Z host proc[1]: hello\n")
    out = tmp_path / "o.nd"
    assert _replay(env, "-o", str(out), "--year", "2017", str(SEED_LOG)) == ExitCode.OK
    assert _replay(env, "-o", str(out), str(iso)) == ExitCode.OK
    assert "carry no year" not in _err(env)


def test_year_is_the_first_lines_and_rolls_over_at_new_year(env: Env, tmp_path: Path) -> None:
    """What README and --help say of --year (shipper.parse.timestamps: BsdStamps)."""
    log = tmp_path / "messages"
    log.write_text("Dec 31 23:59:58 h p[1]: old year\nJan  1 00:00:02 h p[1]: new year\n")
    out = tmp_path / "o.nd"
    assert _replay(env, "-o", str(out), "--year", "2018", str(log)) == ExitCode.OK
    assert [d["@timestamp"][:10] for d in _docs(out)] == ["2018-12-31", "2019-01-01"]  # type: ignore[index]


def test_read_errors_are_counted_apart_from_unparsed_lines(env: Env, tmp_path: Path) -> None:
    noise = random.Random(7)  # (incompressible, the same every run: the cut falls in the same place)
    lines = b"".join(b"Aug 30 14:%02d:%02d host p[%d]: line %d %s\n" % (i // 60 % 60, i % 60, i, i,
                                                                        noise.randbytes(30).hex().encode())
                     for i in range(20000))
    whole = gzip.compress(lines)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "o.nd"
    assert _replay(env, "-o", str(out), "--year", "2017", str(cut)) == ExitCode.OK
    docs = _docs(out)
    errors = [d for d in docs if "read_error" in d.get("tags", ())]  # type: ignore[operator]
    assert len(errors) == 1
    assert f"{len(docs):,} events ({len(docs) - 1:,} parsed, 0 unparsed, 1 read error)" in _err(env)
