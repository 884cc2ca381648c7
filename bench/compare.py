"""Side by side: shipper against rsyslog, syslog-ng and a Python floor, into the same endpoint.

    bench/compare [--lines 1000000] [--runs 3] [--journal 100000] [--shipper-bulk N]

Installs what it needs when missing (rsyslog + rsyslog-elasticsearch from Debian; syslog-ng
unpacked with `apt-get download` + `dpkg -x` under /var/tmp, run from there with its own config,
pid, control and persist files), generates one RFC 3164 file (bench/gen.py), starts the endpoint
(bench/endpoint.py) on 127.0.0.1 and runs the contestants interleaved (A B C D A B C D ...).
Per contestant: wall seconds from its start until the last document arrived, docs/s, CPU-s
(user+sys of its process tree from /proc, sampled just before it is stopped, or its rusage when
it exits by itself), peak RSS, and the ratios shipper/peer computed run by run (medians).
Journal case: a journal directory made by systemd-journal-remote, shipper versus
`journalctl -o json | floor.py json` (the path Filebeat and Vector take). Figures are printed,
never asserted; a contestant that fails is reported with the tail of its stderr.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from functools import partial
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from endpoint import Endpoint  # noqa: E402

WORK = Path("/var/tmp/shipper-bench-compare")
SYSLOG_NG = Path("/var/tmp/shipper-bench-syslog-ng")
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

DOES = {
    "rsyslog": "imfile reads lines; omelasticsearch sends each raw line as {\"message\": line} (no parsing)",
    "syslog-ng": "file(flags(no-parse)) reads lines; elasticsearch-http() sends {\"message\": line} (no parsing)",
    "floor": "one RFC 3164 regex per line, a 4-field dict, orjson; no recognition, no ids (bench/floor.py)",
    "shipper": "parses RFC 3164 into ECS fields, recognises failures, links them to causes, deterministic ids",
    "journalctl|reader": "journalctl -o json renders every field; the reader sends each line as it is",
    "shipper(journal)": "reads the journal files itself, builds ECS documents, recognises, links, ids",
}


def compile_shipper() -> None:
    """Byte-compile shipper's modules, as installing a wheel does: with an editable install and
    PYTHONDONTWRITEBYTECODE set (as on some CI machines) every start would compile every module
    again, in each worker too, and the figures would measure the compiler."""
    import compileall

    import shipper

    compileall.compile_dir(str(Path(shipper.__file__).parent), quiet=1)


# -- installing the peers ---------------------------------------------------------------------
def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", *args], check=True, env=env, stdout=subprocess.DEVNULL)


def ensure_rsyslog() -> None:
    if not Path("/usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so").exists():
        print("installing rsyslog and rsyslog-elasticsearch (apt-get)", flush=True)
        _apt("update", "-q")
        _apt("install", "-y", "-q", "rsyslog", "rsyslog-elasticsearch")


def _missing_depends(debs: list[Path]) -> list[str]:
    names = set()
    for deb in debs:
        out = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True).stdout
        for alt in out.split(","):
            names.add(alt.split("|")[0].split("(")[0].strip())
    names -= {"syslog-ng-core", ""}
    return sorted(n for n in names if subprocess.run(["dpkg", "-s", n], capture_output=True).returncode != 0)


def ensure_syslog_ng() -> Path:
    """The unpacked tree (never installed: its packages conflict with rsyslog's)."""
    root = SYSLOG_NG / "root"
    if (root / "usr/sbin/syslog-ng").exists():
        return root
    print(f"unpacking syslog-ng into {SYSLOG_NG} (apt-get download + dpkg -x)", flush=True)
    pkgs = SYSLOG_NG / "debs"
    pkgs.mkdir(parents=True, exist_ok=True)
    _apt("update", "-q")
    subprocess.run(["apt-get", "download", "syslog-ng-core", "syslog-ng-mod-http", "syslog-ng-scl"], cwd=pkgs,
                   check=True, capture_output=True)
    deps = _missing_depends(sorted(pkgs.glob("*.deb")))
    if deps:
        subprocess.run(["apt-get", "download", *deps], cwd=pkgs, check=True, capture_output=True)
    for deb in sorted(pkgs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


# -- configs ------------------------------------------------------------------------------------
def rsyslog_cmd(run: Path, text: Path, port: int, _n: int) -> list[str]:
    (run / "work").mkdir()
    conf = run / "rsyslog.conf"
    conf.write_text(f"""global(workDirectory="{run / 'work'}")
module(load="imfile")
module(load="omelasticsearch")
template(name="raw" type="string" string="{{\\"message\\":\\"%rawmsg:::json%\\"}}")
input(type="imfile" file="{text}" tag="bench" freshStartTail="off" ruleset="es")
ruleset(name="es") {{
  action(type="omelasticsearch" server="127.0.0.1" serverport="{port}" template="raw" searchIndex="bench"
         bulkmode="on" maxbytes="100m" queue.type="linkedlist" queue.size="5000"
         queue.dequeuebatchsize="300" action.resumeretrycount="-1")
}}
""")
    return ["/usr/sbin/rsyslogd", "-n", "-f", str(conf), "-i", str(run / "rsyslogd.pid")]


def syslog_ng_cmd(run: Path, text: Path, port: int, _n: int) -> list[str]:
    root = SYSLOG_NG / "root"
    conf = run / "syslog-ng.conf"
    conf.write_text(f"""@version: 3.38
@include "{root}/usr/share/syslog-ng/include/scl/elasticsearch/elastic-http.conf"
options {{ stats-freq(0); }};
source s_bench {{ file("{text}" flags(no-parse) follow-freq(1) log-fetch-limit(1000) log-iw-size(20000)); }};
destination d_es {{
  elasticsearch-http(url("http://127.0.0.1:{port}/_bulk") index("bench") type("")
                     workers(2) batch-lines(5000) batch-bytes(8MB) batch-timeout(1000)
                     template("$(format-json message=$MESSAGE)"));
}};
log {{ source(s_bench); destination(d_es); flags(flow-control); }};
""")
    return [str(root / "usr/sbin/syslog-ng"), "--foreground", "--no-caps", "--stderr", "-f", str(conf),
            f"--module-path={root}/usr/lib/syslog-ng/3.38", f"--persist-file={run}/syslog-ng.persist",
            f"--pidfile={run}/syslog-ng.pid", f"--control={run}/syslog-ng.ctl"]


def syslog_ng_env() -> dict[str, str]:
    root = SYSLOG_NG / "root"
    libs = [root / "usr/lib/syslog-ng", root / "usr/lib/x86_64-linux-gnu", root / "lib/x86_64-linux-gnu"]
    return {**os.environ, "LD_LIBRARY_PATH": ":".join(map(str, libs))}


def floor_cmd(run: Path, text: Path, port: int, _n: int) -> list[str]:
    return [PY, str(HERE / "floor.py"), "syslog", f"http://127.0.0.1:{port}", str(text)]


def shipper_cmd(run: Path, source: Path, port: int, _n: int, bulk_docs: int = 0) -> list[str]:
    """``bulk_docs``: documents per bulk request (--shipper-bulk), the events held at shipper's
    default (6,000) or one request's worth if that is more; 0: shipper's defaults (5,000)."""
    config = run / "shipper.yml"
    held = f"    max_held_events: {bulk_docs}\n" if bulk_docs > 6000 else ""
    bulk = f"output:\n  elasticsearch:\n    bulk_max_docs: {bulk_docs}\n{held}" if bulk_docs else ""
    config.write_text(f"state_dir: {run / 'state'}\n{bulk}")
    return [PY, "-P", "-m", "shipper", "replay", "--output", "es", "--es-url", f"http://127.0.0.1:{port}",
            "--config", str(config), "--timezone", "UTC", "--year", "2024", "--quiet", str(source)]


def journalctl_cmd(run: Path, jdir: Path, port: int, _n: int) -> list[str]:
    reader = f"{PY} {HERE / 'floor.py'} json http://127.0.0.1:{port}"
    return ["bash", "-c", f"set -o pipefail; journalctl -o json --no-pager --directory={jdir} | {reader}"]


@dataclass
class Contestant:
    name: str
    build: Callable[[Path, Path, int, int], list[str]]  # (run dir, input, port, n) -> argv
    daemon: bool  # keeps running: stopped once the endpoint has every document
    env: dict[str, str] | None = None


@dataclass
class Result:
    ok: bool
    docs: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    rss_kb: int = 0
    pss_kb: int = 0
    endpoint_cpu: float = 0.0
    bulks: int = 0
    error: str = ""

    @property
    def rate(self) -> float:
        return self.docs / self.wall if self.ok and self.wall > 0 else 0.0


# -- measuring ----------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[float, int] | None:
    """CPU seconds (own + reaped children) and resident KiB of one process."""
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return sum(int(x) for x in rest[11:15]) / TICK, int(rest[21]) * PAGE_KB


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return out


def _hwm(pid: int) -> int:
    try:
        line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("VmHWM"))
        return int(line.split()[1])
    except (OSError, StopIteration):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size (KiB): each page shared by n processes counts 1/n in each, so that a
    sum over processes counts every page once (a sum of RSS counts a shared page in each)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


@dataclass
class Sampler:
    """Peaks over a process tree: summed RSS (shared pages counted in each process) and summed
    PSS (each page once); for one process, RSS is the peak the kernel recorded (VmHWM)."""

    root: int
    cpu: float = 0.0
    rss_kb: int = 0
    pss_kb: int = 0

    def sample(self) -> None:
        stats = [(p, s) for p in _tree(self.root) if (s := _stat(p)) is not None]
        if stats:
            self.cpu = sum(s[0] for _, s in stats)
            self.rss_kb = max(self.rss_kb, sum(s[1] for _, s in stats), *(_hwm(p) for p, _ in stats))
            self.pss_kb = max(self.pss_kb, sum(_pss(p) for p, _ in stats))


def _tail(path: Path, lines: int = 8) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return "\n".join(text[-lines:]) or "(no stderr)"


def run_one(c: Contestant, source: Path, n: int, endpoint: Endpoint, run: Path) -> Result:
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    argv = c.build(run, source, endpoint.port, n)
    endpoint.reset()
    ep_before = (_stat(endpoint.pid) or (0.0, 0))[0]
    err = run / "stderr"
    deadline = time.monotonic() + 60 + n / 10_000
    start = time.monotonic()
    with err.open("wb") as errf:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errf, env=c.env, start_new_session=True)
    sampler = Sampler(proc.pid)
    exit_status, usage, last_docs, progress_at = None, None, -1, start
    while time.monotonic() < deadline and time.monotonic() - progress_at < 30:
        time.sleep(0.05)
        sampler.sample()
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            exit_status, usage = os.waitstatus_to_exitcode(status), ru
            break
        docs = endpoint.stats()["docs"]
        if docs != last_docs:
            last_docs, progress_at = docs, time.monotonic()
        if c.daemon and docs >= n:
            break
    if exit_status is None:
        sampler.sample()  # just before it is stopped
        _stop(proc.pid)
    stats = endpoint.stats()
    r = Result(ok=stats["docs"] >= n, docs=stats["docs"], bulks=stats["bulks"], wall=stats["last"] - start, cpu=sampler.cpu,
               rss_kb=sampler.rss_kb, pss_kb=sampler.pss_kb, endpoint_cpu=(_stat(endpoint.pid) or (0.0, 0))[0] - ep_before)
    if usage is not None:  # it exited by itself: its rusage counts every child it waited for
        r.cpu = max(r.cpu, usage.ru_utime + usage.ru_stime)  # (not ru_maxrss: it keeps the pre-exec peak of the fork)
    if exit_status not in (None, 0) or (c.daemon and exit_status is not None):
        r.ok, r.error = False, f"exited with status {exit_status}"
    elif not r.ok:
        r.error = f"delivered {r.docs:,} of {n:,} documents ({'timed out' if time.monotonic() >= deadline else 'stalled'})"
    if not r.ok:
        r.error += "\n" + _tail(err)
    return r


def _stop(pid: int) -> None:
    """SIGTERM to the contestant's process group, SIGKILL after 10 s; reaps it."""
    os.killpg(pid, signal.SIGTERM)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if os.wait4(pid, os.WNOHANG)[0]:
            return
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)
    os.wait4(pid, 0)


# -- reporting ----------------------------------------------------------------------------------
def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def report(title: str, n: int, names: list[str], results: dict[str, list[Result]], pairs: list[tuple[str, str]]) -> list[str]:
    out = [f"\n{title}", f"{'contestant':<20}{'docs/s':>10}{'wall s':>9}{'CPU-s':>8}{'peak RSS':>10}{'peak PSS':>10}{'endpoint CPU-s':>16}  runs ok"]
    for name in names:
        ok = [r for r in results[name] if r.ok]
        out.append(f"{name:<20}{_median([r.rate for r in ok]):>10,.0f}{_median([r.wall for r in ok]):>9.2f}"
                   f"{_median([r.cpu for r in ok]):>8.2f}{max((r.rss_kb for r in ok), default=0) / 1024:>8.0f}MB"
                   f"{max((r.pss_kb for r in ok), default=0) / 1024:>8.0f}MB"
                   f"{_median([r.endpoint_cpu for r in ok]):>16.2f}  {len(ok)}/{len(results[name])}")
    for a, b in pairs:
        both = [(x, y) for x, y in zip(results[a], results[b]) if x.ok and y.ok]
        speed = _median([x.rate / y.rate for x, y in both])
        cpu = _median([x.cpu / y.cpu for x, y in both])
        out.append(f"{a}/{b}: docs/s ×{speed:.2f}, CPU-s ×{cpu:.2f} (median of {len(both)} pairs)")
    for name in names:
        for i, r in enumerate(results[name]):
            if not r.ok:
                out.append(f"FAILED {name} run {i + 1}: {r.error}")
    out.append("per line: " + "; ".join(f"{name}: {DOES[name]}" for name in names))
    return out


def play(title: str, contestants: list[Contestant], source: Path, n: int, runs: int, endpoint: Endpoint,
         pairs: list[tuple[str, str]]) -> list[str]:
    results: dict[str, list[Result]] = {c.name: [] for c in contestants}
    for i in range(runs):
        for c in contestants:
            r = run_one(c, source, n, endpoint, WORK / "runs" / c.name.replace("|", "-"))
            results[c.name].append(r)
            print(f"  run {i + 1} {c.name:<18} " + (f"{r.rate:>10,.0f} docs/s {r.wall:6.2f} s {r.cpu:6.2f} CPU-s "
                  f"{r.rss_kb / 1024:5.0f} MB RSS {r.pss_kb / 1024:5.0f} MB PSS  {r.docs:,} docs in {r.bulks:,} bulks" if r.ok else "FAILED: " + r.error.splitlines()[0]), flush=True)
    lines = report(title, n, [c.name for c in contestants], results, pairs)
    print("\n".join(lines), flush=True)
    return lines


def make_journal(n: int) -> Path:
    jdir = WORK / f"journal-{n}"
    if not any(jdir.glob("*.journal")):
        jdir.mkdir(parents=True, exist_ok=True)
        export = WORK / f"export-{n}"
        subprocess.run([PY, str(HERE / "gen.py"), "export", str(n), str(export)], check=True)
        with export.open("rb") as f:
            subprocess.run([JOURNAL_REMOTE, f"--output={jdir}/bench.journal", "-"], stdin=f, check=True, capture_output=True)
        export.unlink()
    return jdir


def syslog_case(args: argparse.Namespace, endpoint: Endpoint) -> list[str]:
    text = WORK / f"messages-{args.lines}"
    if not text.exists():  # in a child, so that this process stays small while it measures
        subprocess.run([PY, str(HERE / "gen.py"), "syslog", str(args.lines), str(text)], check=True)
    print(f"input: {args.lines:,} RFC 3164 lines, {text.stat().st_size / 1e6:.0f} MB ({text})", flush=True)
    syslog = [Contestant("rsyslog", rsyslog_cmd, daemon=True), Contestant("syslog-ng", syslog_ng_cmd, True, syslog_ng_env()),
              Contestant("floor", floor_cmd, False), Contestant("shipper", partial(shipper_cmd, bulk_docs=args.shipper_bulk), False)]
    return play(f"syslog file → endpoint, {args.lines:,} lines (medians of {args.runs})", syslog, text, args.lines,
                args.runs, endpoint, [("shipper", "rsyslog"), ("shipper", "syslog-ng"), ("shipper", "floor")])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000, help="syslog lines (0: skip the syslog case)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--journal", type=int, default=100_000, help="journal entries (0: skip the journal case)")
    ap.add_argument("--shipper-bulk", type=int, default=0, metavar="N",
                    help="documents per bulk request for shipper (default: its own, 5,000, as the floor and "
                         "syslog-ng send)")
    args = ap.parse_args()
    ensure_rsyslog()
    ensure_syslog_ng()
    compile_shipper()
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores; python {sys.version.split()[0]}", flush=True)
    lines = [f"{time.strftime('%Y-%m-%d %H:%M %Z')}: bench/compare --lines {args.lines} --runs {args.runs} "
             f"--journal {args.journal}" + (f" --shipper-bulk {args.shipper_bulk}" if args.shipper_bulk else "")]
    with Endpoint() as endpoint:
        if args.lines:
            lines += syslog_case(args, endpoint)
        if args.journal:
            jdir = make_journal(args.journal)
            shipper = partial(shipper_cmd, bulk_docs=args.shipper_bulk)
            journal = [Contestant("journalctl|reader", journalctl_cmd, False), Contestant("shipper(journal)", shipper, False)]
            lines += play(f"journal directory → endpoint, {args.journal:,} entries (medians of {args.runs})", journal,
                          jdir, args.journal, args.runs, endpoint, [("shipper(journal)", "journalctl|reader")])
    (WORK / "last.txt").write_text("\n".join(lines) + "\n")
    print(f"\n(also in {WORK / 'last.txt'})")


if __name__ == "__main__":
    main()
