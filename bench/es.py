"""Elasticsearch output throughput: prints docs/s and the shipper's CPU seconds.

    python bench/es.py [--lines 1000000] [--runs 3] [--only sink|replay]

Into a local Elasticsearch-protocol endpoint that costs little CPU (another process,
bench/endpoint.py: it counts the documents of each bulk body on the raw bytes and answers in one
send), each case twice: every item created (201), and every item already there (409, what a
replay of data already indexed gets; the endpoint answers with Elasticsearch's error objects):
  * `shipper replay --output es` of N generated RFC 3164 lines: parsing, recognition, the sink;
  * the sink alone, fed items already encoded (as worker processes hand them over): chunking,
    sending, reading replies, retry decisions and acks, i.e. the sink's main-process CPU.
The replay's CPU-s are those of every process it starts (worker processes included, see
`measure_tree`). Reference on this machine (issue 4): rsyslog's omelasticsearch, raw lines,
~180k docs/s and 6.6 CPU-s per 1M. Figures are printed, never asserted; medians of --runs, CPU-s
per 1M documents alongside (other work on the machine moves them by ±20 %).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from endpoint import Endpoint  # noqa: E402
from replay import SHIPPER  # noqa: E402

BATCH = 1000  # documents per batch handed to the sink, as the pipeline's batches
PR_SET_CHILD_SUBREAPER = 36


def _children() -> set[int]:
    """This process's living and unreaped children (every thread's)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        pids.update(int(p) for p in (task / "children").read_text().split())
    return pids


def measure_tree(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of ``cmd`` and of every process it started, peak RSS (KiB) of ``cmd``.

    Worker processes made by a forkserver are not ``cmd``'s children, so its own rusage misses them:
    this process becomes their subreaper, reaps them once ``cmd`` is done and counts their CPU too.
    """
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")
    ours = _children()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        while orphans := _children() - ours:
            for pid in orphans:
                os.waitpid(pid, 0)
        if status != 0:
            err.seek(0)
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read().decode(errors='replace')}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, usage.ru_maxrss


def encoded_items(lines: int) -> list[bytes]:
    """Bulk items of ``lines`` syslog-shaped documents, encoded by the sink's own encoder."""
    from shipper.sinks.bulk import Encoder

    docs = [{"@timestamp": f"2024-03-01T12:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
             "message": f"{i:08x}: to=<ops@example.com>, delay=00:00:01, mailer=esmtp, stat=Sent",
             "event": {"id": f"bench{i:017d}", "dataset": "syslog", "kind": "event"},
             "host": {"name": "gorp"}, "process": {"name": "sendmail", "pid": 4242},
             "log": {"file": {"path": "/var/log/maillog"}, "offset": i * 120}} for i in range(lines)]
    return Encoder("default").encode(docs)


def sink_only(url: str, items: list[bytes], state: Path) -> tuple[float, float]:
    """Wall and CPU seconds (this process, the sink's request threads included) to deliver ``items``."""
    from shipper.config.elasticsearch import ElasticsearchOutput
    from shipper.env import Env
    from shipper.event import Batch
    from shipper.sinks.elasticsearch import ElasticsearchSink

    sink = ElasticsearchSink(ElasticsearchOutput(hosts=[url]), state, Env())
    acks: list[int] = []
    sink.open(acks.append)
    wall, cpu = time.perf_counter(), time.process_time()
    for seq, start in enumerate(range(0, len(items), BATCH)):
        sink.write(Batch([], seq=seq, encoded={sink.name: items[start:start + BATCH]}))
    sink.flush()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sink.close()
    if len(acks) != -(-len(items) // BATCH):
        raise SystemExit(f"the sink acknowledged {len(acks)} batches of {-(-len(items) // BATCH)}")
    return wall, cpu


def report(name: str, n: int, runs: list[tuple[float, float]], extra: str = "") -> None:
    wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    print(f"{name:<40} {n / wall:>10,.0f} docs/s  {wall:6.2f} s wall  {cpu:6.2f} CPU-s  "
          f"{cpu * 1e6 / n:5.2f} CPU-s/1M{extra}  (median of {len(runs)})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=("sink", "replay"), help="run one kind of case")
    args = ap.parse_args()
    with Endpoint() as endpoint, tempfile.TemporaryDirectory(prefix="shipper-bench-es-") as tmp:
        work = Path(tmp)
        print(f"{args.lines:,} documents; endpoint {endpoint.url}", flush=True)
        if args.only != "sink":
            text = work / "messages"  # made in a child: this process's peak RSS would pass to the replays'
            subprocess.run([sys.executable, str(HERE / "gen.py"), "syslog", str(args.lines), str(text)], check=True)
            config = work / "shipper.yml"
            config.write_text(f"state_dir: {work / 'state'}\n")
            cmd = [*SHIPPER, "replay", "--output", "es", "--es-url", endpoint.url, "--config", str(config),
                   "--timezone", "UTC", "--year", "2024", "--quiet", str(text)]
            for conflict in (False, True):
                endpoint.conflict(conflict)
                measured = [measure_tree(cmd) for _ in range(args.runs)]
                report(f"replay --output es, {'all 409' if conflict else 'all 201'}", args.lines,
                       [(wall, cpu) for wall, cpu, _ in measured],
                       f"  {max(rss for *_, rss in measured) / 1024:5.0f} MB peak RSS")
        if args.only != "replay":
            items = encoded_items(args.lines)
            for conflict in (False, True):
                endpoint.conflict(conflict)
                report(f"the sink alone, {'all 409' if conflict else 'all 201'}", args.lines,
                       [sink_only(endpoint.url, items, work / "state") for _ in range(args.runs)])


if __name__ == "__main__":
    main()
