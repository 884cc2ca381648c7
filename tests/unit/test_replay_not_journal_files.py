"""A file named like a binary journal (``*.journal``) that is none was replayed as text: its bytes
became unparsed lines. Named, it is refused (exit 4, naming the file and what it is not); in a
directory it is left out with a note, as an SQLite store is. So is a real journal file that is
empty or shorter than its header (a writer has just created it). An export dump named ``.journal``
is still read, and ``--format`` reads a misnamed text log."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import orjson

from tests.helpers.journal import export_entry, make_journal
from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode
from shipper.sources.sniff import sniff

DATA = Path(__file__).resolve().parents[1] / "data"
SYSLOG = DATA / "tester" / "sysd.log"
EXPORT = DATA / "corpus" / "real" / "beats" / "journal1.export"


def _err(env: Env) -> str:
    return env.stderr.getvalue()  # type: ignore[attr-defined]


def _journal(directory: Path) -> Path:
    """A real journal file of two entries, made by systemd-journal-remote."""
    return make_journal(directory, export_entry({"MESSAGE": "one", "SYSLOG_IDENTIFIER": "app"})
                        + export_entry({"MESSAGE": "two", "SYSLOG_IDENTIFIER": "app"}, seq=1))


def _messages(out: Path) -> list[str]:
    return sorted(orjson.loads(line)["message"] for line in out.read_text().splitlines())


def _replay(env: Env, out: Path, *paths: Path | str) -> int:
    return main(["replay", "--output", "ndjson", "-o", str(out), "--year", "2017", "--timezone", "UTC",
                 *map(str, paths)], env)


def test_not_a_log_tells_journal_names_and_headers(tmp_path: Path) -> None:
    from shipper.sources.sniff import not_a_log  # noqa: PLC0415 (the other tests run without it)

    journal = _journal(tmp_path / "j").read_bytes()
    text = SYSLOG.read_bytes()
    assert not_a_log("system.journal", journal[:65536], "journal-file") is None
    assert not_a_log("system.journal", text, sniff(text)) == "not-journal"
    assert not_a_log("user-1000@0005-a5.journal~.zst", text, sniff(text)) == "not-journal"
    assert not_a_log("sysd.log", text, sniff(text)) is None  # only the name makes a text suspect
    assert not_a_log("x.journal", EXPORT.read_bytes(), "journal-export") is None
    assert not_a_log("system.journal", b"", "syslog") == "unwritten-journal"
    assert not_a_log("system.journal", journal[:5], "syslog") == "unwritten-journal"
    assert not_a_log("copy.bin", journal[:100], "journal-file") == "unwritten-journal"
    header = int.from_bytes(journal[88:96], "little")
    assert not_a_log("system.journal", journal[: header - 1], "journal-file") == "unwritten-journal"
    assert not_a_log("system.journal", journal[:header], "journal-file") is None
    damaged = journal[:88] + (1 << 40).to_bytes(8, "little") + journal[96:1000]  # no header's size
    assert not_a_log("system.journal", damaged, "journal-file") is None  # damaged: the reader says so


def test_a_named_text_file_called_journal_is_refused(env: Env, tmp_path: Path) -> None:
    fake = tmp_path / "system.journal"
    shutil.copy(SYSLOG, fake)
    out = tmp_path / "o.nd"
    assert _replay(env, out, fake) == ExitCode.INPUT
    assert (f"cannot read {fake}: it is named like a binary journal file, but it is not one (it does not start with "
            "the journal signature LPKSHHRH), nor a journal export or JSON dump") in _err(env)
    assert f"shipper replay --format syslog {fake}" in _err(env)
    assert not out.exists()
    env.stderr = io.StringIO()
    assert main(["replay", "--quiet", "--format", "syslog", "--output", "ndjson", "-o", str(out), "--year", "2017",
                 str(fake)], env) == 0  # its format given: read as text
    assert len(out.read_text().splitlines()) == len(SYSLOG.read_text().splitlines())
    dump = tmp_path / "dump.journal"
    shutil.copy(EXPORT, dump)  # `journalctl -o export > dump.journal`: a journal, in export form
    assert _replay(env, out, dump) == 0
    assert out.read_text().count("\n") > 0


def test_an_empty_or_short_journal_file_is_refused(env: Env, tmp_path: Path) -> None:
    real = _journal(tmp_path / "j")
    out = tmp_path / "o.nd"
    empty = tmp_path / "new.journal"
    empty.write_bytes(b"")
    short = tmp_path / "short.journal"
    short.write_bytes(real.read_bytes()[:120])
    for path in (empty, short):
        env.stderr = io.StringIO()
        assert _replay(env, out, path) == ExitCode.INPUT
        assert (f"cannot read {path}: it is a journal file with no header yet (empty, or shorter than a journal "
                "file's header): a writer (journald, systemd-journal-remote) has just created it, or it was cut"
                ) in _err(env)
        assert not out.exists()


def test_in_a_directory_they_are_left_out_with_a_note(env: Env, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    real = _journal(logs)
    shutil.copy(SYSLOG, logs / "sysd.log")
    shutil.copy(SYSLOG, logs / "fake.journal")
    (logs / "new.journal").write_bytes(b"")
    (logs / "cut.journal").write_bytes(real.read_bytes()[:60])
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(real, clean / "test.journal")
    shutil.copy(SYSLOG, clean / "sysd.log")
    out = tmp_path / "o.nd"
    assert _replay(env, out, clean) == 0
    expected = _messages(out)
    env.stderr = io.StringIO()

    assert _replay(env, out, logs) == 0
    assert _messages(out) == expected  # nothing read from the three
    notes = [line for line in _err(env).splitlines() if line.startswith("replay: left out")]
    assert notes == [
        f"replay: left out 2 journal files with no header yet found in the directories replayed (empty or shorter "
        f"than a journal file's header: just created by a writer, or cut): {logs / 'cut.journal'}, "
        f"{logs / 'new.journal'}; replay again once they are written to",
        f"replay: left out a file named like a binary journal file found in the directories replayed (not journal "
        f"files: no journal signature at the start, nor a journal export or JSON dump): {logs / 'fake.journal'}; "
        "give a text log's path with --format syslog to read it as text",
    ]
    assert "read error" not in _err(env) and " 0 unparsed" in _err(env)
