"""Source throughput: how fast `shipper.sources` hands on lines and journal entries (no parsing).

    python bench/sources.py [--lines 1000000] [--journal 100000] [--runs 3]

Cases: a generated RFC 3164 file read plain, gzip- and zstd-compressed (lines/s), a journal export
dump (entries/s), and a journal directory of about 100k entries made with systemd-journal-remote
(entries/s, the `_Reader` path against `systemd.journal.Reader` with its default converters).
Inputs are written under a temporary directory in /tmp and removed afterwards. Figures are
printed, never asserted; the best of ``--runs`` is reported (the least disturbed run).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import zstandard

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

from shipper.sources.open import open_inputs  # noqa: E402

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def count_items(path: Path) -> int:
    n = 0
    for group in open_inputs([str(path)]):
        for source in group.sources:
            for chunk in source.chunks():
                n += len(chunk.items)
            source.close()
    return n


def count_default_reader(path: Path) -> int:
    from systemd import journal

    reader = journal.Reader(path=str(path))
    n = sum(1 for _ in reader)
    reader.close()
    return n


def case(name: str, unit: str, runs: int, fn: Callable[[], int]) -> None:
    best = float("inf")
    n = 0
    for _ in range(runs):
        start = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{name:38s} {n:>10,} {unit}  {best:6.2f} s  {n / best:>12,.0f} {unit}/s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--journal", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shipper-bench-sources-", dir="/tmp"))
    try:
        text = work / "messages"
        text.write_text("\n".join(gen.syslog_lines(args.lines)) + "\n")
        data = text.read_bytes()
        (work / "messages.1.gz").write_bytes(gzip.compress(data, compresslevel=6))
        (work / "messages.2.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
        print(f"input: {args.lines:,} lines, {len(data) / 1e6:.0f} MB; python {sys.version.split()[0]}; "
              f"{os.cpu_count()} cores", flush=True)
        case("text, plain", "lines", args.runs, lambda: count_items(text))
        case("text, gzip", "lines", args.runs, lambda: count_items(work / "messages.1.gz"))
        case("text, zstd", "lines", args.runs, lambda: count_items(work / "messages.2.zst"))
        export = gen.export_entries(args.journal)
        (work / "dump.export").write_bytes(export)
        case("journal export dump", "entries", args.runs, lambda: count_items(work / "dump.export"))
        if Path(JOURNAL_REMOTE).exists():
            jdir = work / "journal"
            jdir.mkdir()
            subprocess.run([JOURNAL_REMOTE, "--split-mode=none", f"--output={jdir}/bench.journal", "-"],
                           input=export, check=True, capture_output=True)
            case("journal directory (_Reader)", "entries", args.runs, lambda: count_items(jdir))
            case("journal directory (Reader, converters)", "entries", 1, lambda: count_default_reader(jdir))
        else:
            print("journal directory: skipped (systemd-journal-remote is not installed)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
