"""Replay's summary counts the events whose line was cut (tagged ``truncated``: longer than
``parse.max_line_bytes``, or cut where an input broke), with workers as without: among parsed,
unparsed and recognised lines, in many blocks."""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.event import TAG_TRUNCATED
from shipper.parallel.replay import ParallelReplay
from shipper.pipeline import Summary
from shipper.sources.files import TextSource

CAP = 200
SYSERR = "NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: cannot bind: Address already in use"


def lines() -> tuple[list[str], int]:
    """3,000 lines; every 37th is longer than ``CAP`` (parsed, unparsed or recognised in turn)."""
    out, long = [], 0
    for i in range(3000):
        stamp = f"Aug 30 14:{i // 60 % 60:02d}:{i % 60:02d}"
        if i % 37 == 0:
            long += 1
            shape = (i // 37) % 3
            pad = " " + "x" * CAP
            if shape == 0:
                out.append(f"{stamp} gorp app[{i}]: a long message{pad}")
            elif shape == 1:
                out.append(f"no header at all, long{pad}")
            else:
                out.append(f"{stamp} gorp sendmail[{i}]: {SYSERR}{pad}")
        else:
            out.append(f"{stamp} gorp app[{i}]: line {i}")
    return out, long


def replay(env: Env, tmp_path: Path, workers: str, *paths: Path) -> tuple[str, list[dict]]:
    """The summary line and the documents of a replay into NDJSON."""
    config = tmp_path / "shipper.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nparse:\n  max_line_bytes: {CAP}\n")
    out = tmp_path / f"w{workers}.ndjson"
    stderr = io.StringIO()
    args = ["replay", "--config", str(config), "--timezone", "UTC", "--year", "2017", "--workers", workers,
            "--output", "ndjson", "-o", str(out), *map(str, paths)]
    assert main(args, replace(env, stderr=stderr)) == 0, stderr.getvalue()
    (summary,) = [line for line in stderr.getvalue().splitlines() if "entries read from" in line]
    return summary, [orjson.loads(line) for line in out.read_bytes().splitlines()]


def counts(summary: str) -> str:
    """The summary's events part (the rest holds times)."""
    found = re.search(r"; ([\d,]+ events [^;]*);", summary)
    assert found is not None, summary
    return found.group(1)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Many blocks (many jobs for the workers); the workers of each parallel replay run."""
    monkeypatch.setattr(TextSource, "block_size", 4096)
    parallel: list[int] = []
    run = ParallelReplay.run

    def counted(self: ParallelReplay) -> Summary:
        parallel.append(self.workers)
        return run(self)

    monkeypatch.setattr(ParallelReplay, "run", counted)
    return parallel


def test_the_summary_counts_the_truncated_events_with_and_without_workers(env: Env, tmp_path: Path,
                                                                         small_blocks: list[int]) -> None:
    text, long = lines()
    log = tmp_path / "maillog"
    log.write_text("\n".join(text) + "\n")
    one, docs = replay(env, tmp_path, "0", log)
    two, docs_2 = replay(env, tmp_path, "2", log)
    assert small_blocks == [2]
    assert docs_2 == docs
    tagged = [d for d in docs if TAG_TRUNCATED in d.get("tags", ())]
    assert len(tagged) == long == 82
    assert any("rootcause" in d for d in tagged)  # recognised ones too (linked in the main process)
    assert counts(one) == counts(two) == (
        "3,000 events (2,973 parsed, 27 unparsed), 82 of them truncated (cut at parse.max_line_bytes or where an "
        "input broke)")


@pytest.mark.usefixtures("small_blocks")
def test_a_line_cut_where_its_archive_broke_is_counted_too(env: Env, tmp_path: Path) -> None:
    text = [f"Aug 30 14:55:{i % 60:02d} gorp app[{i}]: line {i} " + "y" * 40 for i in range(2000)]
    whole = gzip.compress(("\n".join(text) + "\n").encode())
    archive = tmp_path / "messages.1.gz"
    archive.write_bytes(whole[: len(whole) * 2 // 3])  # cut short: its last line read is cut
    one, docs = replay(env, tmp_path, "0", archive)
    two, docs_2 = replay(env, tmp_path, "2", archive)
    assert docs_2 == docs
    assert [d["message"] for d in docs if TAG_TRUNCATED in d.get("tags", ())] != []
    assert counts(one) == counts(two)
    assert counts(one).endswith("1 read error), 1 of them truncated (cut at parse.max_line_bytes or where an input broke)")


def test_no_truncated_line_no_mention(env: Env, tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("Aug 30 14:55:47 gorp app[1]: short\n")
    for workers in ("0", "2"):
        summary, _ = replay(env, tmp_path, workers, log)
        assert counts(summary) == "1 events (1 parsed, 0 unparsed)"
