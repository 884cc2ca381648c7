"""`shipper replay` end to end through the CLI: real files, real archives, the real SQLite store."""

from __future__ import annotations

import gzip
import os
import pty
import random
import select
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.sinks.local import LocalStore

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "logs"


def replay(env: Env, *args: str) -> int:
    return main(["replay", "--timezone", "UTC", *args], env)


def stored(db: Path) -> list[dict]:
    store = LocalStore(db)
    try:
        return list(store.iter_docs())
    finally:
        store.close()


def test_version_and_help(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"], env) == 0
    assert "shipper 0." in capsys.readouterr().out
    assert main([], env) == 2


def test_a_command_imports_its_own_module_only() -> None:
    """`shipper replay` builds the parser of `replay` alone: the other commands' modules are not
    imported (a faster start, and a replay's workers are forked from a smaller process)."""
    code = ("import sys; from shipper.cli import main; rc = main(['replay', '--help']); "
            "print(sorted(m for m in sys.modules if m.startswith('shipper.commands.')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines()[-1] == "['shipper.commands.replay']"
    assert "usage: shipper replay" in proc.stdout


def test_an_unknown_command_lists_them_all(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bogus"], env) == 2
    said = capsys.readouterr().err  # argparse writes to the real stderr
    assert "invalid choice: 'bogus'" in said and "'print-unit'" in said


def test_seed_incident_is_merged_in_time_order_with_hosts_and_pids(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    assert replay(env, "--year", "2017", "--output", "ndjson", "-o", str(out), str(DEMO / "messages"), str(DEMO / "maillog")) == 0
    docs = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    base = [d for d in docs if "rootcause" not in d or d["rootcause"].get("role") != "summary"]
    stamps = [d["@timestamp"] for d in docs]
    assert stamps == sorted(stamps)
    assert stamps[0] == "2017-08-30T14:55:47.000000Z"
    sendmail = [d for d in base if d["process"]["name"] == "sendmail"]
    systemd = [d for d in base if d["process"]["name"] == "systemd"]
    assert len(sendmail) == 7 and len(systemd) == 3
    assert {d["process"]["pid"] for d in sendmail} == {24097}
    assert {d["process"]["pid"] for d in systemd} == {1}
    assert {d["host"]["name"] for d in docs} == {"gorp"}
    assert all(d["log"]["file"]["path"].endswith(("maillog", "messages")) for d in docs)
    assert "replay:" in env.stderr.getvalue()  # type: ignore[attr-defined]


def test_replaying_twice_and_through_a_rotated_archive_stores_once(env: Env, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(DEMO / "maillog", logs / "maillog.1")
    db = tmp_path / "events.db"
    assert replay(env, "--year", "2017", "--store", str(db), str(logs)) == 0
    first = stored(db)
    assert len(first) >= 7
    assert replay(env, "--year", "2017", "--store", str(db), str(logs)) == 0
    assert "duplicates" in env.stderr.getvalue()  # type: ignore[attr-defined]
    # logrotate moves maillog.1 to maillog.2.gz: the same lines, another path, compressed
    (logs / "maillog.2.gz").write_bytes(gzip.compress((logs / "maillog.1").read_bytes()))
    (logs / "maillog.1").unlink()
    assert replay(env, "--year", "2017", "--store", str(db), str(logs)) == 0
    again = stored(db)
    assert [d["event"]["id"] for d in again] == [d["event"]["id"] for d in first]


def test_bad_input_loses_nothing(env: Env, tmp_path: Path) -> None:
    rnd = random.Random(7)
    bad = tmp_path / "bad.log"
    lines = [
        b"Aug 30 14:55:47 gorp sendmail[24097]: valid line",
        bytes(rnd.randrange(256) for _ in range(300)).replace(b"\n", b" "),
        b"Aug 30 14:55:48 gorp app[1]: invalid \xff\xfe utf-8",
        b"Aug 30 14:55:49 gorp app[1]: NUL \x00 inside",
        b"x" * (1024 * 1024),
        b"Aug 30 14:55:50 gorp app[1]: last line without newline",
    ]
    bad.write_bytes(b"\n".join(lines))
    db = tmp_path / "events.db"
    assert replay(env, "--year", "2017", "--store", str(db), str(bad)) == 0
    docs = stored(db)
    assert len(docs) == len(lines)
    tags = [set(d.get("tags", ())) for d in docs]
    assert any("truncated" in t for t in tags)
    assert any("invalid_utf8" in t for t in tags)
    assert max(len(d["message"]) for d in docs) <= 64 * 1024
    assert any("NUL \x00 inside" in d["message"] for d in docs)


def test_random_bytes_file_is_replayed_not_crashed(env: Env, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(200_000))
    db = tmp_path / "events.db"
    assert replay(env, "--store", str(db), str(junk)) == 0
    docs = stored(db)
    assert docs and all("unparsed" in d.get("tags", ()) for d in docs)


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["/nonexistent/maillog"], 4, "/nonexistent/maillog"),
        (["--since", "yesterday-ish", str(DEMO)], 2, "--since"),
        (["--timezone", "Mars/Olympus", str(DEMO)], 2, "unknown time zone"),
        (["--out", "x.ndjson", str(DEMO)], 2, "--output ndjson"),
    ],
)
def test_errors_are_one_clear_line_with_an_exit_code(env: Env, args: list[str], code: int, text: str) -> None:
    assert replay(env, *args) == code
    err = env.stderr.getvalue()  # type: ignore[attr-defined]
    assert text in err and "Traceback" not in err


def test_bad_config_exits_3_naming_the_key(env: Env, tmp_path: Path) -> None:
    cfg = tmp_path / "shipper.yml"
    cfg.write_text("parse:\n  timezon: UTC\n")
    assert replay(env, "--config", str(cfg), str(DEMO)) == 3
    assert "parse.timezon: unknown key" in env.stderr.getvalue()  # type: ignore[attr-defined]


def test_since_until_window(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "w.ndjson"
    assert replay(env, "--year", "2017", "--since", "2017-08-30T14:55:52Z", "--until", "2017-08-30T14:56:00Z",
                  "--output", "ndjson", "-o", str(out), str(DEMO / "maillog")) == 0
    stamps = {orjson.loads(x)["@timestamp"] for x in out.read_bytes().splitlines()}
    assert stamps == {"2017-08-30T14:55:52.000000Z", "2017-08-30T14:55:57.000000Z"}


def test_causes_and_report_find_the_store_of_a_config(env: Env, tmp_path: Path) -> None:
    state = tmp_path / "state"
    cfg = tmp_path / "shipper.yml"
    cfg.write_text(f"state_dir: {state}\n")
    assert replay(env, "--year", "2017", "--store", str(state / "events.db"), str(DEMO)) == 0
    assert main(["causes", "--config", str(cfg), "--format", "json"], env) == 0
    assert "sendmail.bind_address_in_use" in env.stdout.getvalue()  # type: ignore[attr-defined]
    assert main(["report", "--config", str(cfg), "-o", str(tmp_path / "r.html")], env) == 0
    assert (tmp_path / "r.html").stat().st_size > 1000


def test_progress_bar_on_a_terminal(env: Env, tmp_path: Path) -> None:
    class Terminal(type(env.stderr)):  # type: ignore[misc]
        def isatty(self) -> bool:
            return True

    env.stderr = Terminal()
    assert replay(env, "--year", "2017", "--store", str(tmp_path / "e.db"), str(DEMO)) == 0
    shown = env.stderr.getvalue()  # type: ignore[attr-defined]
    assert "replay: 100%" in shown and "B/s" in shown  # bytes done, rate
    assert shown.rstrip().splitlines()[-1].startswith("replay: 27 entries read")


def test_progress_bar_on_a_real_terminal_that_reports_no_size(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new pty reports 0 rows and 0 columns (as under `script` or some CI runners): the bar is
    still drawn (tqdm, asking the terminal itself, would hide it below the last of 0 rows)."""
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)  # tqdm asks the terminal only for sys.stderr
        env.stderr = terminal
        assert replay(env, "--year", "2017", "--store", str(tmp_path / "e.db"), str(DEMO)) == 0
    shown = b""
    while chunk := _read_available(master):
        shown += chunk
    os.close(master)
    assert b"replay: 100%|" in shown and b"B/s" in shown


def _read_available(fd: int) -> bytes:
    ready, _, _ = select.select([fd], [], [], 0.5)
    try:
        return os.read(fd, 65536) if ready else b""
    except OSError:  # the terminal's other end is closed: everything was read
        return b""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_read_error_is_said_at_the_end_even_when_quiet(env: Env, tmp_path: Path, workers: str) -> None:
    """A truncated archive: what it holds is written, the break is an event tagged read_error, and
    a warning says so after the replay (an investigator who reads only the exit status and the
    last lines would not see the unparsed count go up by one)."""
    lines = b"".join(b"Aug 30 14:55:%02d gorp app[1]: line %d\n" % (i % 60, i) for i in range(20_000))
    whole = gzip.compress(lines)
    cut = tmp_path / "messages.1.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out.ndjson"
    assert replay(env, "--quiet", "--workers", workers, "--year", "2017", "--output", "ndjson", "-o", str(out), str(cut)) == 0
    docs = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert 0 < len(docs) < 20_000 and "read_error" in docs[-1]["tags"] and str(cut) in docs[-1]["message"]
    err = env.stderr.getvalue()  # type: ignore[attr-defined]
    assert err.count("replay: warning: 1 read error: part of an input could not be read") == 1
    assert "tagged read_error" in err


def test_a_damaged_journal_file_is_said_at_the_end(env: Env, tmp_path: Path, corpus: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    shutil.copy(corpus / "real" / "systemd" / "no-rtc" / "system.journal.zst", journal)
    (journal / "user-1000.journal").write_bytes(b"LPKSHHRH" + os.urandom(5000))
    db = tmp_path / "events.db"
    assert replay(env, "--store", str(db), str(journal)) == 0
    err = env.stderr.getvalue()  # type: ignore[attr-defined]
    assert "replay: warning: 1 read error" in err and "user-1000.journal" not in err
    broken = [d for d in stored(db) if "read_error" in d.get("tags", ())]
    assert len(broken) == 1 and "user-1000.journal" in broken[0]["message"]


def test_a_clean_replay_warns_of_nothing(env: Env, tmp_path: Path) -> None:
    assert replay(env, "--store", str(tmp_path / "events.db"), str(DEMO)) == 0
    assert "warning" not in env.stderr.getvalue()  # type: ignore[attr-defined]


def test_o_writes_the_file_afresh_and_a_configured_file_is_appended_to(env: Env, tmp_path: Path) -> None:
    """`-o FILE` as `sort -o`: a second replay gives the same file, not every line twice. The
    configured `output.ndjson.path` is the daemon's file, which collects: a replay adds to it."""
    out = tmp_path / "out.ndjson"
    out.write_bytes(b"what was there before\n")
    for _ in range(2):
        assert replay(env, "--year", "2017", "--output", "ndjson", "-o", str(out), str(DEMO / "maillog")) == 0
    once = out.read_bytes()
    assert b"before" not in once and once.count(b"\n") == len((DEMO / "maillog").read_bytes().splitlines())
    config = tmp_path / "shipper.yml"
    collected = tmp_path / "collected.ndjson"
    config.write_text(f"state_dir: {tmp_path / 'state'}\noutput:\n  ndjson:\n    path: {collected}\n")
    for _ in range(2):
        assert replay(env, "--year", "2017", "--config", str(config), str(DEMO / "maillog")) == 0
    assert collected.read_bytes() == once * 2


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_replay_never_reads_its_own_output(env: Env, tmp_path: Path, workers: str) -> None:
    """Named as an input, the output is refused before it is touched (it was read while it grew,
    without end: 3.8 GB in 20 s from a 633 KB file). In a directory that is read, it is skipped:
    replaying a directory twice, with the output (or the store and its -wal file) inside it,
    reads the logs alone."""
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(DEMO / "maillog", logs / "maillog")
    lines = len((logs / "maillog").read_bytes().splitlines())
    kept = (logs / "maillog").read_bytes()
    assert replay(env, "--workers", workers, "--output", "ndjson", "-o", str(logs / "maillog"), str(logs / "maillog")) == 2
    assert "is where this replay writes its output, so it cannot be an input too" in env.stderr.getvalue()  # type: ignore[attr-defined]
    assert (logs / "maillog").read_bytes() == kept
    out = logs / "out.ndjson"
    for _ in range(2):
        assert replay(env, "--workers", workers, "--year", "2017", "--output", "ndjson", "-o", str(out), str(logs)) == 0
        assert out.read_bytes().count(b"\n") == lines
    db = logs / "events.db"
    (logs / "out.ndjson").unlink()
    for _ in range(2):
        assert replay(env, "--workers", workers, "--year", "2017", "--store", str(db), str(logs)) == 0
    docs = stored(db)
    assert len(docs) == lines and not any("unparsed" in d.get("tags", ()) for d in docs)
