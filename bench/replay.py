"""Replay throughput: prints events/s, CPU seconds and peak RSS for `shipper replay`.

    python bench/replay.py [--lines 1000000] [--journal 100000] [--runs 3]

Cases: 1M RFC 3164 lines → NDJSON (to /dev/null) and → the local store; a journal directory of
100k entries (made with systemd-journal-remote) → NDJSON. Targets (issue 2, 2-core machine):
≥150k lines/s to NDJSON, ≥100k/s into the local store, ≥120k journal entries/s. Figures are
printed, never asserted. Each run is a fresh `shipper` process; medians are reported.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

SHIPPER = [sys.executable, "-m", "shipper"]
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user+sys) and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def case(name: str, cmd: list[str], n: int, runs: int, before_each: list[Path] | None = None) -> None:
    walls, cpus, rss = [], [], []
    for _ in range(runs):
        for p in before_each or []:
            p.unlink(missing_ok=True)
        w, c, r = measure(cmd)
        walls.append(w)
        cpus.append(c)
        rss.append(r)
    wall = statistics.median(walls)
    print(f"{name:<34} {n / wall:>10,.0f} events/s  {wall:6.2f} s wall  {statistics.median(cpus):6.2f} CPU-s  "
          f"{max(rss) / 1024:6.0f} MB peak RSS  (median of {runs})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--journal", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shipper-bench-"))
    try:
        text = work / "messages"
        text.write_text("\n".join(gen.syslog_lines(args.lines)) + "\n")
        print(f"input: {args.lines:,} RFC 3164 lines, {text.stat().st_size / 1e6:.0f} MB; python {sys.version.split()[0]}; "
              f"{os.cpu_count()} cores", flush=True)
        common = ["--timezone", "UTC", "--year", "2024", "--quiet"]
        case("syslog → ndjson", [*SHIPPER, "replay", "--output", "ndjson", "-o", "/dev/null", *common, str(text)],
             args.lines, args.runs)
        store = work / "events.db"
        case("syslog → local store", [*SHIPPER, "replay", "--store", str(store), *common, str(text)], args.lines,
             args.runs, before_each=[store, Path(f"{store}-wal"), Path(f"{store}-shm")])
        if args.journal and Path(JOURNAL_REMOTE).exists():
            jdir = work / "journal"
            jdir.mkdir()
            subprocess.run([JOURNAL_REMOTE, f"--output={jdir}/bench.journal", "-"], input=gen.export_entries(args.journal),
                           check=True, capture_output=True)
            case("journal dir → ndjson", [*SHIPPER, "replay", "--output", "ndjson", "-o", "/dev/null", *common, str(jdir)],
                 args.journal, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
