"""`shipper run` under load: sustained events/s, lag and RSS, following live inputs into an
Elasticsearch-protocol endpoint.

    python bench/run.py [--entries 1000000] [--lines 1000000] [--outage 60] [--outage-rate 20000]

Cases (each a fresh `shipper run` process):
  journal  a journal directory that systemd-journal-remote writes ``--entries`` entries into as fast
           as it can (it rotates files on the way);
  file     a file that a writer appends ``--lines`` lines to as fast as it can;
  outage   the endpoint refuses connections for ``--outage`` seconds while the journal receives
           ``--outage-rate`` entries/s; RSS while down, then the time to catch up.
The endpoint is a minimal bulk server in this process (it answers ``_bulk`` without parsing
documents), so that the figures are shipper's, not the test server's. Figures are printed, never
asserted (targets: >=100k journal entries/s; RSS <=100 MB steady, <=150 MB during the outage).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
INFO = {"name": "bench", "cluster_name": "bench", "version": {"number": "8.15.3", "build_flavor": "default"},
        "tagline": "You Know, for Search"}


class _Bulk(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "Endpoint"

    def do_GET(self) -> None:
        self._send(200, INFO)

    def do_PUT(self) -> None:
        self.do_POST()

    def do_HEAD(self) -> None:
        self._send(404, {}, body=False)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        docs = body.count(b"\n") // 2
        with self.server.lock:
            self.server.docs += docs
        self._send(200, {"errors": False})

    def _send(self, status: int, payload: Any, body: bool = True) -> None:
        data = json.dumps(payload).encode()
        head = (f"HTTP/1.1 {status} X\r\nX-elastic-product: Elasticsearch\r\ncontent-type: application/json\r\n"
                f"content-length: {len(data)}\r\n\r\n").encode()
        self.wfile.write(head + (data if body else b""))

    def log_message(self, *args: Any) -> None:
        pass


class Endpoint(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Bulk)
        self.lock = threading.Lock()
        self.docs = 0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Sampler:
    """RSS and lag of the shipper process, every 0.25 s."""

    def __init__(self, pid: int, state: Path) -> None:
        self.pid, self.state = pid, state
        self.rss: list[int] = []
        self.lags: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.rss.append(int(line.split()[1]))
                status = json.loads((self.state / "status.json").read_text())
                self.lags.append(float(status["lag_seconds"]))
            except (OSError, ValueError, KeyError):
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> str:
        rss = self.rss or [0]
        steady = statistics.median(rss[len(rss) // 2:])
        lags = self.lags or [0.0]
        return (f"RSS peak {max(rss) / 1024:.0f} MB, steady {steady / 1024:.0f} MB; lag median "
                f"{statistics.median(lags):.2f} s, max {max(lags):.2f} s")


def start_shipper(work: Path, inputs: list[dict[str, Any]], url: str) -> subprocess.Popen[bytes]:
    cfg = {"state_dir": str(work / "state"), "inputs": inputs, "parse": {"timezone": "UTC", "year": 2017},
           "output": {"elasticsearch": {"hosts": [url], "retry_initial": 0.1, "retry_max": 1}},
           "run": {"status_interval": "500ms"}}
    (work / "shipper.yml").write_text(json.dumps(cfg))
    # `shipper run` through the CLI (tests/helpers/daemon.py falls back to the command module if
    # the CLI does not list it yet)
    proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.daemon", "run", "--config", str(work / "shipper.yml")],
                            stdout=subprocess.DEVNULL, stderr=open(work / "stderr.txt", "wb"), cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc


def wait(condition: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out")
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"shipper run exited ({proc.returncode}); see its stderr.txt")
        time.sleep(0.05)
    return time.perf_counter() - start


def run_case(name: str, work: Path, inputs: list[dict[str, Any]], total: int,
             feed: Callable[[], None]) -> None:
    endpoint = Endpoint()
    proc = start_shipper(work, inputs, endpoint.url)
    try:
        wait(lambda: (work / "state" / "status.json").exists(), 60)
        sampler = Sampler(proc.pid, work / "state")
        start = time.perf_counter()
        feeder = threading.Thread(target=feed)
        feeder.start()
        wait(lambda: endpoint.docs >= total, 1800, proc)
        seconds = time.perf_counter() - start
        feeder.join()
        sampler.stop()
        cpu = _cpu(proc.pid)
        print(f"{name:8s} {total:,} events in {seconds:.1f} s = {total / seconds:,.0f} events/s sustained "
              f"(shipper CPU {cpu:.1f} s); {sampler.report()}")
    finally:
        proc.terminate()
        proc.wait(60)
        endpoint.shutdown()


def journal_feed(directory: Path, export: bytes) -> Callable[[], None]:
    def feed() -> None:
        subprocess.run([JOURNAL_REMOTE, "--split-mode=none", "--compress=no", f"--output={directory}/remote.journal", "-"],
                       input=export, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return feed


def file_feed(path: Path, lines: list[str]) -> Callable[[], None]:
    def feed() -> None:
        with open(path, "a") as out:
            for i in range(0, len(lines), 5000):
                out.write("\n".join(lines[i:i + 5000]) + "\n")
                out.flush()
    return feed


def outage_case(work: Path, seconds: float, rate: int) -> None:
    """The endpoint is down while entries arrive at ``rate``/s; then it comes back."""
    directory = work / "journal"
    directory.mkdir()
    export = gen.export_entries(int(seconds * rate), seed=3)
    entries = export.split(b"\n\n")
    endpoint = Endpoint()
    port = endpoint.server_address[1]
    endpoint.shutdown()
    endpoint.server_close()
    remote = subprocess.Popen([JOURNAL_REMOTE, "--split-mode=none", "--compress=no", f"--output={directory}/remote.journal",
                               "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert remote.stdin is not None
    remote.stdin.write(entries[0] + b"\n\n")
    remote.stdin.flush()
    wait(lambda: any(directory.glob("*.journal")), 60)
    proc = start_shipper(work, [{"type": "journal", "path": str(directory)}], f"http://127.0.0.1:{port}")
    try:
        wait(lambda: (work / "state" / "status.json").exists(), 60)
        sampler = Sampler(proc.pid, work / "state")
        start = time.perf_counter()
        step = max(1, rate // 10)
        for i in range(1, len(entries), step):
            remote.stdin.write(b"\n\n".join(entries[i:i + step]) + b"\n\n")
            remote.stdin.flush()
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        remote.stdin.close()
        remote.wait()
        down_rss = max(sampler.rss or [0])
        spool = sum(p.stat().st_size for p in (work / "state" / "spool").glob("*.seg"))
        back = Endpoint(port)
        total = len([e for e in entries if e.strip()])
        caught_up = wait(lambda: back.docs >= total, 1800, proc)
        sampler.stop()
        print(f"outage   {seconds:.0f} s down at {rate:,} entries/s: RSS peak while down {down_rss / 1024:.0f} MB, "
              f"disk buffer {spool / 1e6:.0f} MB; caught up {total:,} entries in {caught_up:.1f} s after the endpoint "
              f"came back ({total / caught_up:,.0f}/s); {sampler.report()}")
        back.shutdown()
    finally:
        proc.terminate()
        proc.wait(60)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--outage", type=float, default=60.0, help="seconds the endpoint is down (0: skip)")
    ap.add_argument("--outage-rate", type=int, default=20_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="shipper-bench-run-"))
    try:
        if args.entries:
            work = tmp / "journal"
            (work / "journal").mkdir(parents=True)
            export = gen.export_entries(args.entries)
            run_case("journal", work, [{"type": "journal", "path": str(work / "journal")}], args.entries,
                     journal_feed(work / "journal", export))
        if args.lines:
            work = tmp / "file"
            (work / "logs").mkdir(parents=True)
            lines = gen.syslog_lines(args.lines)
            run_case("file", work, [{"type": "file", "paths": [str(work / "logs" / "messages")]}], args.lines,
                     file_feed(work / "logs" / "messages", lines))
        if args.outage:
            work = tmp / "outage"
            work.mkdir()
            outage_case(work, args.outage, args.outage_rate)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
