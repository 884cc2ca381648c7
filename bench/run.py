"""`shipper run` under load: sustained events/s, lag and RSS, following live inputs into an
Elasticsearch-protocol endpoint.

    python bench/run.py [--entries 1000000] [--backlog 1000000] [--lines 1000000] [--outage 60]
                        [--outage-rate 20000] [--runs 1] [--journal-tmp /dev/shm] [--profile DIR]

Cases (each a fresh `shipper run` process):
  journal  a journal directory that systemd-journal-remote writes ``--entries`` entries into as fast
           as it can (it rotates files on the way); the export text it reads is generated before
           the clock starts;
  backlog  ``--backlog`` entries are in the journal directory before shipper starts: how fast the
           daemon reads, with no writer competing for the CPU (then it follows the directory);
  file     a file that a writer appends ``--lines`` lines to as fast as it can;
  outage   the endpoint refuses connections for ``--outage`` seconds while the journal receives
           ``--outage-rate`` entries/s; RSS while down, then the time to catch up.
With ``--runs N`` the journal, backlog and file cases run N times each and the medians are printed.
The journal directories live under ``--journal-tmp`` (default /dev/shm, a tmpfs, when it exists:
on a slow disk systemd-journal-remote itself writes only ~20k entries/s, which would be measured
instead of shipper); shipper's state directory and disk buffer stay on the disk (the system
temporary directory).
Each case prints shipper's CPU time per event (µs, from the moment it is ready to the last event:
the figure to compare on a noisy machine). ``--profile DIR`` records every case with py-spy
(``--py-spy PATH``) into ``DIR/<case><n>.txt`` (raw, collapsed stacks, all threads).
Shipper's modules are compiled once before the first case, and ``shipper run`` starts without
PYTHONDONTWRITEBYTECODE (which would make every start compile every module again).
The endpoint is a minimal bulk server in this process (it answers ``_bulk`` without parsing
documents), so that the figures are shipper's, not the test server's. Figures are printed, never
asserted (targets: >=100k journal entries/s; RSS <=100 MB steady, <=150 MB during the outage).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

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
            self.server.requests += 1
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
        self.requests = 0  # bulk requests
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
        self.anon: list[int] = []
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
                    elif line.startswith("RssAnon:"):
                        self.anon.append(int(line.split()[1]))
                status = json.loads((self.state / "status.json").read_text())
                self.lags.append(float(status["lag_seconds"]))
            except (OSError, ValueError, KeyError):
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        """MB and seconds: peaks, and the median of the second half of the samples (steady)."""
        rss, anon = self.rss or [0], self.anon or [0]
        lags = self.lags or [0.0]
        return {"rss_peak": max(rss) / 1024, "rss_steady": statistics.median(rss[len(rss) // 2:]) / 1024,
                "anon_peak": max(anon) / 1024, "anon_steady": statistics.median(anon[len(anon) // 2:]) / 1024,
                "lag_median": statistics.median(lags), "lag_max": max(lags)}


def memory_text(f: dict[str, float]) -> str:
    return (f"RSS peak {f['rss_peak']:.0f} MB, steady {f['rss_steady']:.0f} MB (anonymous memory: peak "
            f"{f['anon_peak']:.0f} MB, steady {f['anon_steady']:.0f} MB; the rest is mapped files: libraries, and the journal's); "
            f"lag median {f['lag_median']:.2f} s, max {f['lag_max']:.2f} s")


def start_shipper(work: Path, inputs: list[dict[str, Any]], url: str) -> subprocess.Popen[bytes]:
    cfg = {"state_dir": str(work / "state"), "inputs": inputs, "parse": {"timezone": "UTC", "year": 2017},
           "output": {"elasticsearch": {"hosts": [url], "retry_initial": 0.1, "retry_max": 1}},
           "run": {"status_interval": "500ms"}}
    for spec in inputs:
        if spec["type"] == "file":
            spec["flush_after"] = "200ms"  # the last line is not held back for long
    (work / "shipper.yml").write_text(json.dumps(cfg))
    # `shipper run` through the CLI (tests/helpers/daemon.py falls back to the command module if
    # the CLI does not list it yet)
    proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.daemon", "run", "--config", str(work / "shipper.yml")],
                            stdout=subprocess.DEVNULL, stderr=open(work / "stderr.txt", "wb"), cwd=ROOT,
                            env={**_env(), "PYTHONPATH": str(ROOT)})
    return proc


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_modules() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", "shipper", "tests/helpers"], cwd=ROOT, env=_env(), check=True)


class Profiler:
    """py-spy recording a process into a raw (collapsed stacks) file, when asked for."""

    exe: str | None = None
    directory: Path | None = None

    def __init__(self, pid: int, name: str) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        if self.exe is None or self.directory is None:
            return
        n = sum(1 for _ in self.directory.glob(f"{name}*.txt"))
        self.proc = subprocess.Popen([self.exe, "record", "-p", str(pid), "-f", "raw", "-r", "250", "--nonblocking",
                                      "-o", str(self.directory / f"{name}{n}.txt")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)


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
             feed: Callable[[], float | None] | None) -> dict[str, float]:
    """Start shipper, start ``feed`` (None: the input is complete already; it returns the writer's
    CPU-s when it knows them), wait for ``total`` documents at the endpoint; prints and returns
    the figures."""
    work.mkdir(parents=True, exist_ok=True)
    endpoint = Endpoint()
    proc = start_shipper(work, inputs, endpoint.url)
    try:
        wait(lambda: (work / "state" / "status.json").exists(), 60, proc)
        sampler = Sampler(proc.pid, work / "state")
        profiler = Profiler(proc.pid, name)
        cpu_start, own_start = _cpu(proc.pid), time.process_time()
        start = time.perf_counter()
        fed: list[float] = []
        writer_cpu: list[float | None] = [None]

        def writer() -> None:
            if feed is not None:
                writer_cpu[0] = feed()
            fed.append(time.perf_counter())

        feeder = threading.Thread(target=writer)
        feeder.start()
        wait(lambda: endpoint.docs >= total, 1800, proc)
        done = time.perf_counter()
        cpu, own = _cpu(proc.pid) - cpu_start, time.process_time() - own_start
        seconds = done - start
        profiler.stop()
        feeder.join()
        sampler.stop()
        figures = {"rate": total / seconds, "seconds": seconds, "cpu": cpu, "us": cpu / total * 1e6, **sampler.figures()}
        wrote = (f"the writer took {fed[0] - start:.1f} s" + (f" and {writer_cpu[0]:.1f} CPU-s" if writer_cpu[0] else "")
                 + f"; the last event arrived {done - fed[0]:.1f} s after it finished; " if feed else "")
        print(f"{name:8s} {total:,} events in {seconds:.1f} s = {figures['rate']:,.0f} events/s sustained "
              f"({wrote}shipper CPU {figures['cpu']:.1f} s, {figures['us']:.1f} µs an event; "
              f"{endpoint.requests:,} bulk requests, {total / max(1, endpoint.requests):,.0f} documents each; "
              f"the endpoint and this harness {own:.1f} CPU-s); "
              f"{memory_text(figures)}", flush=True)
        return figures
    finally:
        proc.terminate()
        proc.wait(60)
        endpoint.shutdown()


def export_blocks(total: int, block: int = 10_000) -> Iterator[bytes]:
    """Journal export text for ``total`` entries, ``block`` at a time (realistic messages from
    `gen`, realtime stamps 10 µs apart), without holding them all in memory."""
    lines = gen.syslog_lines(min(total, 100_000))
    base = 1_700_000_000_000_000
    for lo in range(0, total, block):
        parts = []
        for i in range(lo, min(lo + block, total)):
            host, rest = lines[i % len(lines)][16:].split(" ", 1)
            ident, msg = rest.split(": ", 1)
            name, _, pid = ident.partition("[")
            parts.append(f"__REALTIME_TIMESTAMP={base + i * 10}\n__MONOTONIC_TIMESTAMP={1_000_000 + i * 10}\n"
                         f"_BOOT_ID=6e6b8d6de0a54c21b4ee3e1cf0b1d4a1\n_HOSTNAME={host}\nSYSLOG_IDENTIFIER={name}\n"
                         f"_PID={pid.rstrip(']') or '1'}\nPRIORITY=6\n_TRANSPORT=syslog\nMESSAGE={msg} #{i}\n\n")
        yield "".join(parts).encode()


def export_file(path: Path, total: int) -> Path:
    """``total`` entries of export text in ``path``, made once (before any clock starts)."""
    if not path.exists():
        with open(path, "wb") as out:
            for data in export_blocks(total):
                out.write(data)
    return path


def journal_remote(directory: Path, source: str = "-") -> subprocess.Popen[bytes]:
    return subprocess.Popen([JOURNAL_REMOTE, "--split-mode=none", "--compress=no", f"--output={directory}/remote.journal",
                             source], stdin=subprocess.PIPE if source == "-" else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def journal_feed(directory: Path, export: Path) -> Callable[[], float | None]:
    """systemd-journal-remote reading the export file as fast as it can; returns its CPU-s."""
    def feed() -> float:
        proc = journal_remote(directory, str(export))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit("systemd-journal-remote failed")
        return usage.ru_utime + usage.ru_stime
    return feed


def file_feed(path: Path, lines: list[str]) -> Callable[[], float | None]:
    def feed() -> None:
        with open(path, "a") as out:
            for i in range(0, len(lines), 5000):
                out.write("\n".join(lines[i:i + 5000]) + "\n")
                out.flush()
    return feed


def outage_case(work: Path, journal: Path, seconds: float, rate: int) -> None:
    """The endpoint is down while entries arrive at ``rate``/s; then it comes back."""
    journal.mkdir()
    total = int(seconds * rate)
    endpoint = Endpoint()
    port = endpoint.server_address[1]
    endpoint.shutdown()
    endpoint.server_close()
    remote = journal_remote(journal)
    assert remote.stdin is not None
    blocks = export_blocks(total, block=max(1, rate // 10))
    remote.stdin.write(next(blocks))
    remote.stdin.flush()
    wait(lambda: any(journal.glob("*.journal")), 60)
    proc = start_shipper(work, [{"type": "journal", "path": str(journal)}], f"http://127.0.0.1:{port}")
    try:
        wait(lambda: (work / "state" / "status.json").exists(), 60, proc)
        sampler = Sampler(proc.pid, work / "state")
        start = time.perf_counter()
        for n, data in enumerate(blocks, start=1):
            remote.stdin.write(data)
            remote.stdin.flush()
            time.sleep(max(0.0, start + n / 10 - time.perf_counter()))
        remote.stdin.close()
        remote.wait()
        down_rss, down_anon = max(sampler.rss or [0]), max(sampler.anon or [0])
        spool = sum(p.stat().st_size for p in (work / "state" / "spool").glob("*.seg"))
        back = Endpoint(port)
        caught_up = wait(lambda: back.docs >= total, 3600, proc)
        sampler.stop()
        print(f"outage   {seconds:.0f} s down while the journal got {rate:,} entries/s: RSS peak while down "
              f"{down_rss / 1024:.0f} MB ({down_anon / 1024:.0f} MB anonymous), disk buffer {spool / 1e6:.0f} MB at the end of the outage; {total:,} entries "
              f"delivered {caught_up:.1f} s after the endpoint came back ({total / caught_up:,.0f}/s); "
              f"{memory_text(sampler.figures())}", flush=True)
        back.shutdown()
    finally:
        proc.terminate()
        proc.wait(60)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def medians(name: str, runs: list[dict[str, float]]) -> None:
    if len(runs) < 2:
        return
    keys = ("rate", "cpu", "us", "rss_peak", "rss_steady", "anon_steady")
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(f"{name:8s} median of {len(runs)}: {med['rate']:,.0f} events/s (runs: "
          f"{', '.join(format(r['rate'], ',.0f') for r in runs)}), shipper CPU {med['cpu']:.1f} s ({med['us']:.1f} µs an event; runs: "
          f"{', '.join(format(r['us'], '.1f') for r in runs)}), RSS peak {med['rss_peak']:.0f} MB, "
          f"steady {med['rss_steady']:.0f} MB ({med['anon_steady']:.0f} MB anonymous)", flush=True)


def journal_runs(args: argparse.Namespace, tmp: Path, jtmp: Path) -> None:
    if args.entries:
        export = export_file(tmp / f"{args.entries}.export", args.entries)
        runs = []
        for n in range(args.runs):
            journal = jtmp / f"journal{n}"
            journal.mkdir()
            runs.append(run_case("journal", tmp / f"journal{n}", [{"type": "journal", "path": str(journal)}],
                                 args.entries, journal_feed(journal, export)))
            shutil.rmtree(journal)
        medians("journal", runs)
    if args.backlog:
        journal = jtmp / "backlog"
        journal.mkdir()
        journal_feed(journal, export_file(tmp / f"{args.backlog}.export", args.backlog))()  # read by every run
        runs = [run_case("backlog", tmp / f"backlog{n}", [{"type": "journal", "path": str(journal)}], args.backlog, None)
                for n in range(args.runs)]
        medians("backlog", runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--backlog", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--outage", type=float, default=60.0, help="seconds the endpoint is down (0: skip)")
    ap.add_argument("--outage-rate", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=1, help="runs of the journal, backlog and file cases (medians printed)")
    ap.add_argument("--profile", type=Path, help="record each case with py-spy into this directory")
    ap.add_argument("--py-spy", default=shutil.which("py-spy"), help="the py-spy executable (for --profile)")
    ap.add_argument("--journal-tmp", type=Path, default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,
                    help="where the journal directories are made (default /dev/shm)")
    args = ap.parse_args()
    if args.profile:
        if not args.py_spy:
            raise SystemExit("--profile needs py-spy: pass --py-spy PATH")
        args.profile.mkdir(parents=True, exist_ok=True)
        Profiler.exe, Profiler.directory = args.py_spy, args.profile
    compile_modules()
    tmp = Path(tempfile.mkdtemp(prefix="shipper-bench-run-"))
    jtmp = Path(tempfile.mkdtemp(prefix="shipper-bench-run-", dir=args.journal_tmp))
    print(f"journal directories in {jtmp}, state directories in {tmp}; load average {os.getloadavg()[0]:.1f}", flush=True)
    try:
        journal_runs(args, tmp, jtmp)
        if args.lines:
            lines = gen.syslog_lines(args.lines)
            runs = []
            for n in range(args.runs):
                work = tmp / f"file{n}"
                (work / "logs").mkdir(parents=True)
                runs.append(run_case("file", work, [{"type": "file", "paths": [str(work / "logs" / "messages")]}],
                                     args.lines, file_feed(work / "logs" / "messages", lines)))
            medians("file", runs)
        if args.outage:
            work = tmp / "outage"
            work.mkdir()
            outage_case(work, jtmp / "outage", args.outage, args.outage_rate)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(jtmp, ignore_errors=True)


if __name__ == "__main__":
    main()
