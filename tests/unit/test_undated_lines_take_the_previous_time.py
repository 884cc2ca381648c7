"""A line with no time of its own (garbage, raw text a program wrote into a syslog file) takes the
time of the closest dated line before it in the same file, tagged ``timestamp_inferred``; the
file's modification time plays no part once a dated line was read, so a copy made without
``cp -p`` gives the same events and ids. With worker processes the result is the same, also for
a block whose warm-up (the previous block's last lines) holds no dated line. Real `shipper
replay` processes and files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipper.parallel.replay import WARM_LINES
from shipper.sources.lines import BLOCK_SIZE

RUN = 4 * WARM_LINES  # undated lines around each block boundary: the warm-up sees none dated


def _file(path: Path) -> None:
    """About 1.3 MB: three undated lines first, then dated lines with undated ones among them,
    and a run of `RUN` undated lines around each multiple of `BLOCK_SIZE` (where a worker's
    block begins)."""
    out = bytearray(b"leading garbage 1\nleading garbage 2\n  indented leading text\n")
    i = 0
    while len(out) < 5 * BLOCK_SIZE:
        i += 1
        stamp = f"Aug 30 {10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        out += f"{stamp} gorp app[9]: dated line {i}\n".encode()
        if i % 50 == 0:
            out += f"raw text {i % 7}\n".encode() * (1 + i % 3)
        boundary = -len(out) % BLOCK_SIZE
        if RUN * 5 < boundary < RUN * 5 + 100:  # the run (10 bytes a line) straddles the next boundary
            out += b"".join(f"undated {k % 5}\n".encode() for k in range(RUN))
    path.write_bytes(bytes(out))


def _replay(tmp_path: Path, path: Path, workers: str) -> bytes:
    out = tmp_path / f"out-{workers}.ndjson"
    proc = subprocess.run(
        [sys.executable, "-m", "shipper", "replay", "--quiet", "--timezone", "UTC", "--year", "2024",
         "--workers", workers, "--output", "ndjson", "-o", str(out), str(path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    tmp_path = tmp_path_factory.mktemp("undated")
    path = tmp_path / "messages"
    _file(path)
    os.utime(path, (1_600_000_000, 1_600_000_000))
    return path, {w: _replay(tmp_path, path, w) for w in ("0", "2")}


def test_an_undated_line_takes_the_time_of_the_dated_line_before_it(replayed: tuple[Path, dict[str, bytes]]) -> None:
    docs = [json.loads(line) for line in replayed[1]["0"].splitlines()]
    first_dated = next(d for d in docs if "timestamp_inferred" not in d.get("tags", ()))
    assert first_dated["@timestamp"] == "2024-08-30T10:00:01.000000Z"
    previous = None
    undated = 0
    for doc in docs:
        if "timestamp_inferred" in doc.get("tags", ()):
            undated += 1
            # Before any dated line: the first dated line's time (not the file's mtime).
            assert doc["@timestamp"] == (previous or first_dated)["@timestamp"], doc
            assert "unparsed" in doc["tags"]
        else:
            previous = doc
    assert undated > 4 * RUN


def test_workers_give_the_same_events_even_where_a_warm_up_holds_no_dated_line(
        replayed: tuple[Path, dict[str, bytes]]) -> None:
    path, outputs = replayed
    data = path.read_bytes()
    # The runs straddle the block boundaries (a block ends with the last whole line of each
    # `BLOCK_SIZE` bytes read): the warm-up lines and the block's first lines are all undated.
    for k in range(1, 5):
        warm = data[: k * BLOCK_SIZE].split(b"\n")[-WARM_LINES - 1 : -1]
        first = data[k * BLOCK_SIZE :].split(b"\n")[1:WARM_LINES]
        assert all(line.startswith(b"undated") for line in warm + first), k
    assert outputs["2"] == outputs["0"]


def test_a_copy_with_another_mtime_gives_the_same_ids(tmp_path: Path, replayed: tuple[Path, dict[str, bytes]]) -> None:
    path, outputs = replayed
    copy = tmp_path / "messages"  # cp without -p: the same name elsewhere, the copy's time
    copy.write_bytes(path.read_bytes())
    os.utime(copy, (1_700_000_000, 1_700_000_000))
    assert _replay(tmp_path, copy, "2").replace(str(copy).encode(), str(path).encode()) == outputs["0"]
