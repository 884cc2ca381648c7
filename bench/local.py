"""The local store's write costs per row: `encode_rows` (workers), `insert_rows`, and the sink.

    python bench/local.py [--lines 300000] [--batch 2000] [--runs 5]

The documents are realistic: ``gen.py``'s RFC 3164 mix replayed by ``shipper replay --output
ndjson`` (parsed, recognised, linked, with ids; ~1 % carry a rootcause), loaded back, then split
into batches of ``--batch`` as the pipeline makes them. Per run:

* encode: ``encode_rows`` of every batch (a worker process does this in the pipeline);
* fresh: ``insert_rows`` of every batch into a new store (one transaction each), then
  ``update_text_index`` (what the sink's ``flush`` does at the end of a replay: the full-text
  index follows the table in steps of ``FTS_STEP`` rows);
* duplicates: the same rows inserted again into that store (nothing new is stored);
* sink: the same rows written through a `LocalSink` into a new store, as a parallel replay's main
  process hands them over (``Batch.encoded``), then flushed: its writer thread does the inserts,
  so the main thread's CPU is what the replay's main thread still pays per row (plus, once, the
  flush's catch-up of the full-text index, up to ``FTS_STEP`` rows: most of it below ~200k rows).

CPU time of the whole process (``time.process_time``) and of the main thread alone
(``time.thread_time``) per row, medians of ``--runs``; then the store's size per row and the
read side (``iter_docs``, ``counts``, ``search``) once on the last store. Issue 2's budget:
``insert_rows`` <= 5 us per row. Figures are printed, never asserted; other work on the machine
moves them, so compare medians of runs made at the same time.
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
from typing import Any, Callable

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from shipper.event import Batch, Doc  # noqa: E402
from shipper.sinks.local import SCHEMA_VERSION, LocalSink, LocalStore, encode_rows  # noqa: E402

Rows = list[tuple[Any, ...]]


def documents(lines: int, work: Path) -> list[Doc]:
    """``lines`` generated lines as shipper documents (made by child processes, loaded here)."""
    text, out = work / "messages", work / "docs.ndjson"
    subprocess.run([sys.executable, str(HERE / "gen.py"), "syslog", str(lines), str(text)], check=True)
    subprocess.run([sys.executable, "-P", "-m", "shipper", "replay", "--output", "ndjson", "-o", str(out), "--timezone", "UTC",
                    "--year", "2024", "--quiet", str(text)], check=True, cwd=HERE.parent)
    with out.open("rb") as f:
        return [orjson.loads(line) for line in f]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Process and main-thread CPU seconds of ``fn()``."""
    p0, t0 = time.process_time(), time.thread_time()
    fn()
    return time.process_time() - p0, time.thread_time() - t0


def fresh_store(path: Path) -> LocalStore:
    remove_store(path)
    return LocalStore(path)


def remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def insert_all(store: LocalStore, batches: list[Rows], expect: int) -> None:
    added = sum(store.insert_rows(rows) for rows in batches)
    store.update_text_index()
    if added != expect:
        raise SystemExit(f"insert_rows reported {added} new rows, expected {expect}")


def through_sink(path: Path, batches: list[Rows], expect: int) -> None:
    """The rows as encoded batches through a `LocalSink` (writer thread), flushed; checks the acks."""
    remove_store(path)
    acked: list[int] = []
    sink = LocalSink(path)
    sink.open(acked.append)
    try:
        for seq, rows in enumerate(batches):
            sink.write(Batch([], seq=seq, encoded={sink.name: rows}))
        sink.flush()
    finally:
        sink.close()
    if acked != list(range(len(batches))) or sink.counters["stored"] != expect:
        raise SystemExit(f"the sink acknowledged {len(acked)} of {len(batches)} batches, stored {sink.counters['stored']}")


def one_run(docs: list[list[Doc]], path: Path, n: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    batches: list[Rows] = []
    out["encode_rows"] = timed(lambda: batches.extend(encode_rows(d) for d in docs))
    store = fresh_store(path)
    try:
        out["insert_rows fresh"] = timed(lambda: insert_all(store, batches, n))
        out["insert_rows duplicates"] = timed(lambda: insert_all(store, batches, 0))
    finally:
        store.close()
    out["sink write+flush"] = timed(lambda: through_sink(path, batches, n))
    return out


def read_side(path: Path, n: int) -> None:
    store = LocalStore(path, create=False)
    try:
        cpu, _ = timed(lambda: sum(1 for _ in store.iter_docs()))
        print(f"{'iter_docs (all)':<24} {1e6 * cpu / n:8.2f} us/row")
        cpu, _ = timed(lambda: store.counts())
        print(f"{'counts':<24} {1e3 * cpu:8.1f} ms")
        for query in ('"address already in use"', "sshd OR cron", "nginx"):
            hits: list[Doc] = []
            cpu, _ = timed(lambda: hits.extend(store.search(query)))
            print(f"{'search ' + query:<24} {1e3 * cpu:8.1f} ms  ({len(hits)} hits)")
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shipper-bench-local-"))
    try:
        flat = documents(args.lines, work)
        n = len(flat)
        docs = [flat[i : i + args.batch] for i in range(0, n, args.batch)]
        print(f"{n:,} documents in batches of {args.batch:,}; schema {SCHEMA_VERSION}; python {sys.version.split()[0]}; "
              f"SQLite {__import__('sqlite3').sqlite_version}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
        path = work / "events.db"
        runs = [one_run(docs, path, n) for _ in range(args.runs)]
        for name in runs[0]:
            proc = statistics.median(r[name][0] for r in runs) * 1e6 / n
            main_thread = statistics.median(r[name][1] for r in runs) * 1e6 / n
            spread = [round(r[name][0] * 1e6 / n, 2) for r in runs]
            print(f"{name:<24} {proc:8.2f} us/row CPU  ({main_thread:.2f} main thread)  runs {spread}")
        size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
        print(f"{'store size':<24} {size / n:8.0f} bytes/row ({size / 1e6:.0f} MB)")
        read_side(path, n)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
