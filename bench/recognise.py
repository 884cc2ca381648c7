"""What recognition costs: parse-only vs parse + the recognition enrichers, on the same 1M lines.

    python bench/recognise.py [--lines 1000000] [--runs 3]

The input is `gen.py`'s RFC 3164 mix (sendmail deliveries, sshd, cron, kernel, systemd; a SYSERR
burst with systemd's verdict every 1,000 lines). Each case runs in this process on the lines in
memory, in 2,000-line chunks as `replay` reads them, with ids assigned:

    parse                 SyslogParser + IdAssigner
    parse + recognise     the same + default_enrichers() (Recognise with the sendmail fields, Incidents)
    ... + serialise       both again with orjson-serialising every document (what the NDJSON sink
                          does), which is closer to a whole replay
    replay -> NDJSON      the real `shipper replay --output ndjson -o OUT FILE`, in this process,
                          with `default_enrichers` as shipped and replaced by no enrichers

Times are CPU seconds of this process (less disturbed by a busy machine than wall time), the
best of --runs, with the cases interleaved. Figures are printed, never asserted. The target of
issue 3: with the recognisers the replay keeps at least 80% of its speed without them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

import shipper.enrich.chain  # noqa: E402
from shipper.cli import main as shipper_main  # noqa: E402
from shipper.config.model import RecogniseConfig  # noqa: E402
from shipper.enrich.chain import default_enrichers  # noqa: E402
from shipper.event import Doc, IdAssigner  # noqa: E402
from shipper.parse.base import ParseContext  # noqa: E402
from shipper.parse.dispatch import make_parser  # noqa: E402
from shipper.sources.base import Origin, RawChunk  # noqa: E402

CHUNK = 2000


def run(lines: list[str], *, recognise: bool, serialise: bool) -> tuple[float, int, int]:
    """Seconds, documents and recognised documents for one pass over ``lines``."""
    origin = Origin(source_id="bench", format="syslog", path="bench.log")
    parser = make_parser(origin, ParseContext(timezone="UTC", year=2024))
    ids = IdAssigner()
    enrichers = default_enrichers(RecogniseConfig()) if recognise else []
    dumps: Callable[[Doc], bytes] = orjson.dumps
    docs_out = recognised = 0
    start = time.process_time()
    for i in range(0, len(lines), CHUNK):
        docs = parser.parse(RawChunk(origin, "text", lines[i : i + CHUNK]))
        ids.assign(docs)
        for enricher in enrichers:
            docs = enricher.enrich(docs)
        if serialise:
            b"\n".join(map(dumps, docs))
        docs_out += len(docs)
        if recognise:
            recognised += sum(1 for d in docs if "rootcause" in d)
    tail = parser.flush()
    for enricher in enrichers:
        tail = enricher.enrich(tail) + enricher.flush()
    return time.process_time() - start, docs_out + len(tail), recognised


def best_pair(lines: list[str], runs: int, serialise: bool) -> tuple[tuple[float, int, int], tuple[float, int, int]]:
    """The best run without and with the recognisers, runs interleaved (A B A B ...)."""
    without, with_ = [], []
    for _ in range(runs):
        without.append(run(lines, recognise=False, serialise=serialise))
        with_.append(run(lines, recognise=True, serialise=serialise))
    return min(without, key=lambda r: r[0]), min(with_, key=lambda r: r[0])


def replay(path: Path, out: Path, *, recognise: bool) -> float:
    """CPU seconds of one in-process `shipper replay` of ``path`` to NDJSON in ``out``."""
    original = shipper.enrich.chain.default_enrichers
    if not recognise:
        shipper.enrich.chain.default_enrichers = lambda cfg: []  # type: ignore[assignment]
    try:
        start = time.process_time()
        argv = ["replay", "--output", "ndjson", "-o", str(out), "--timezone", "UTC", "--year", "2024", "--quiet", str(path)]
        if shipper_main(argv) != 0:
            raise SystemExit("replay failed")
        return time.process_time() - start
    finally:
        shipper.enrich.chain.default_enrichers = original


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    lines = gen.syslog_lines(args.lines)
    print(f"input: {len(lines):,} RFC 3164 lines (bench/gen.py mix); python {sys.version.split()[0]}; best of {args.runs}")
    for serialise in (False, True):
        (base, n, _), (full, m, hits) = best_pair(lines, args.runs, serialise)
        label = " + serialise" if serialise else ""
        print(f"{'parse' + label:<30} {n / base:>10,.0f} lines/s  {base:6.2f} CPU-s")
        print(f"{'parse + recognise' + label:<30} {n / full:>10,.0f} lines/s  {full:6.2f} CPU-s  "
              f"({m - n:,} derived documents, {hits:,} recognised)")
        per_line = (full - base) / n * 1e6
        print(f"  -> with recognisers: {base / full:.1%} of the speed without them; "
              f"recognition costs {per_line:.2f} µs/line")
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        path = Path(tmp) / "messages"
        path.write_text("\n".join(lines) + "\n")
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.runs):
            for rec in (False, True):
                times[rec].append(replay(path, Path(tmp) / "out.ndjson", recognise=rec))
        base, full = min(times[False]), min(times[True])
        n = len(lines)
        print(f"{'replay -> ndjson':<30} {n / base:>10,.0f} lines/s  {base:6.2f} CPU-s")
        print(f"{'replay -> ndjson, recognising':<30} {n / full:>10,.0f} lines/s  {full:6.2f} CPU-s")
        print(f"  -> with recognisers: {base / full:.1%} of the speed without them; "
              f"recognition costs {(full - base) / n * 1e6:.2f} µs/line")


if __name__ == "__main__":
    main()
