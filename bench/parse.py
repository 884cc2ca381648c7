"""Parser throughput, parsing alone (no sources, ids, enrichers or sinks): prints figures.

    python bench/parse.py [--lines 1000000] [--entries 100000] [--runs 3]

* syslog: ``gen.py``'s RFC 3164 mix (sendmail with SYSERR bursts, sshd, systemd, kernel, cron,
  postfix), written to a file and read back as a source would (lines + byte offsets), parsed in
  2,000-line chunks. Target: >= 400k lines/s on one core. Then the same lines with rsyslog's
  high-precision ISO stamps (``2017-08-30T14:55:47.000123+02:00``, Debian 12's default).
* journal: ``journal_doc`` over field dicts in 2,000-entry chunks: the real Fedora entries of
  ``tests/data/corpus/derived/fedora37-no-rtc/failures.json`` (36 fields each) and ``gen.py``'s
  export entries (9 fields). Target: >= 120k entries/s.

Medians of ``--runs`` runs are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import gen  # noqa: E402

from shipper.parse.base import ParseContext  # noqa: E402
from shipper.parse.dispatch import make_parser  # noqa: E402
from shipper.sources.base import Origin, RawChunk  # noqa: E402

CHUNK = 2000
FAILURES = HERE.parent / "tests/data/corpus/derived/fedora37-no-rtc/failures.json"


def syslog_file(n: int, directory: Path, iso: bool = False) -> tuple[Path, list[str], list[int]]:
    path = directory / ("messages.iso" if iso else "messages")
    lines = gen.syslog_lines(n)
    if iso:
        lines = [_iso(line, i) for i, line in enumerate(lines)]
    path.write_text("\n".join(lines) + "\n")
    raw = path.read_bytes().split(b"\n")[:-1]
    offsets, pos = [], 0
    for line in raw:
        offsets.append(pos)
        pos += len(line) + 1
    return path, [line.decode() for line in raw], offsets


def _iso(line: str, i: int) -> str:
    month = gen.MONTHS.index(line[:3]) + 1
    return f"2017-{month:02d}-{int(line[4:6]):02d}T{line[7:15]}.{i % 1_000_000:06d}+02:00{line[15:]}"


def run_syslog(path: Path, lines: list[str], offsets: list[int]) -> float:
    origin = Origin(str(path), "syslog", str(path), mtime=path.stat().st_mtime)
    parser = make_parser(origin, ParseContext("Europe/Berlin"))
    docs = 0
    start = time.perf_counter()
    for i in range(0, len(lines), CHUNK):
        docs += len(parser.parse(RawChunk(origin, "text", lines[i : i + CHUNK], offsets[i : i + CHUNK])))
    docs += len(parser.flush())
    seconds = time.perf_counter() - start
    assert docs == len(lines)
    return len(lines) / seconds


def run_journal(entries: list[dict[str, Any]]) -> float:
    origin = Origin("journal", "journal")
    parser = make_parser(origin, ParseContext("UTC"))
    start = time.perf_counter()
    for i in range(0, len(entries), CHUNK):
        parser.parse(RawChunk(origin, "fields", entries[i : i + CHUNK]))
    return len(entries) / (time.perf_counter() - start)


def gen_entries(n: int) -> list[dict[str, Any]]:
    entries = []
    for block in gen.export_entries(n).decode().split("\n\n"):
        if block:
            entries.append(dict(line.split("=", 1) for line in block.splitlines()))
    return entries


def median(runs: int, fn: Callable[[], float]) -> tuple[float, float, float]:
    rates = [fn() for _ in range(runs)]
    return statistics.median(rates), min(rates), max(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        for iso in (False, True):
            path, lines, offsets = syslog_file(args.lines, Path(tmp), iso)
            mb = path.stat().st_size / 1e6
            rate, lo, hi = median(args.runs, lambda: run_syslog(path, lines, offsets))
            label = "ISO stamps" if iso else "RFC 3164"
            size = f"{len(lines):>9,} lines, {label:<10} ({mb:.0f} MB)"
            print(f"syslog   {size} {rate:>10,.0f} lines/s   (min {lo:,.0f}, max {hi:,.0f})")
            del lines, offsets

    fedora = [json.loads(line) for line in FAILURES.read_text().splitlines()]
    real = (fedora * (args.entries // len(fedora) + 1))[: args.entries]
    rate, lo, hi = median(args.runs, lambda: run_journal(real))
    print(f"journal  {len(real):>9,} Fedora entries (36 fields)   {rate:>10,.0f} entries/s (min {lo:,.0f}, max {hi:,.0f})")
    small = gen_entries(args.entries)
    rate, lo, hi = median(args.runs, lambda: run_journal(small))
    print(f"journal  {len(small):>9,} gen.py entries (9 fields)   {rate:>10,.0f} entries/s (min {lo:,.0f}, max {hi:,.0f})")


if __name__ == "__main__":
    main()
