"""What recognition costs: the 1M-line replay with and without the recognition enrichers.

    python bench/recognise.py [--lines 1000000] [--runs 3]

Input: `gen.py`'s RFC 3164 mix (sendmail deliveries, sshd, cron, kernel, systemd; a SYSERR burst
with systemd's verdict every 1,000 lines), written to a temporary file.

1. ``replay -> NDJSON``: the real ``shipper replay --output ndjson -o OUT FILE`` in this process,
   with each enricher of `default_enrichers` wrapped in a timer. The time spent inside the
   enrichers, against the whole run, gives the speed without them in the *same* run — on a busy
   machine that is far steadier than comparing two separate runs.
2. ``parse`` vs ``parse + recognise``: the parser over the lines in memory (2,000-line chunks, ids
   assigned), then the enrichers on each chunk, both timed in the same pass.

Figures are printed (best of --runs), never asserted. Issue 3's target: with the recognisers the
replay keeps at least 80% of its speed without them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

import shipper.enrich.chain  # noqa: E402
from shipper.cli import main as shipper_main  # noqa: E402
from shipper.config.model import RecogniseConfig  # noqa: E402
from shipper.enrich.base import Enricher  # noqa: E402
from shipper.event import Doc  # noqa: E402
from shipper.ids import IdAssigner
from shipper.parse.base import ParseContext  # noqa: E402
from shipper.parse.dispatch import make_parser  # noqa: E402
from shipper.sources.base import Origin, RawChunk  # noqa: E402

CHUNK = 2000


class Timed:
    """An enricher that adds the time its inner enricher takes to ``spent[name]``."""

    def __init__(self, inner: Enricher, spent: dict[str, float]) -> None:
        self.inner, self.spent, self.name = inner, spent, inner.name

    def enrich(self, docs: list[Doc]) -> list[Doc]:
        start = time.perf_counter()
        out = self.inner.enrich(docs)
        self.spent[self.name] = self.spent.get(self.name, 0.0) + time.perf_counter() - start
        return out

    def flush(self) -> list[Doc]:
        return self.inner.flush()


def timed_replay(path: Path, out: Path) -> tuple[float, dict[str, float]]:
    """Wall seconds of one in-process replay of ``path`` to NDJSON, and the seconds per enricher."""
    original = shipper.enrich.chain.default_enrichers
    spent: dict[str, float] = {}
    shipper.enrich.chain.default_enrichers = lambda cfg: [Timed(e, spent) for e in original(cfg)]  # type: ignore[assignment]
    try:
        argv = ["replay", "--output", "ndjson", "-o", str(out), "--timezone", "UTC", "--year", "2024", "--quiet", str(path)]
        start = time.perf_counter()
        if shipper_main(argv) != 0:
            raise SystemExit("replay failed")
        return time.perf_counter() - start, spent
    finally:
        shipper.enrich.chain.default_enrichers = original


def parse_run(lines: list[str]) -> tuple[float, float]:
    """Seconds spent parsing ``lines`` (with ids) and seconds spent in the enrichers, in one pass."""
    origin = Origin(source_id="bench", format="syslog", path="bench.log")
    parser = make_parser(origin, ParseContext(timezone="UTC", year=2024))
    ids = IdAssigner()
    enrichers = shipper.enrich.chain.default_enrichers(RecogniseConfig())
    parsing = enriching = 0.0
    for i in range(0, len(lines), CHUNK):
        t0 = time.perf_counter()
        docs = parser.parse(RawChunk(origin, "text", lines[i : i + CHUNK]))
        ids.assign(docs)
        t1 = time.perf_counter()
        for enricher in enrichers:
            docs = enricher.enrich(docs)
        enriching += time.perf_counter() - t1
        parsing += t1 - t0
    parser.flush()
    return parsing, enriching


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    lines = gen.syslog_lines(args.lines)
    n = len(lines)
    print(f"input: {n:,} RFC 3164 lines (bench/gen.py mix); python {sys.version.split()[0]}; best of {args.runs}")
    with tempfile.TemporaryDirectory(prefix="shipper-bench-") as tmp:
        path = Path(tmp) / "messages"
        path.write_text("\n".join(lines) + "\n")
        total, spent = min((timed_replay(path, Path(tmp) / "out.ndjson") for _ in range(args.runs)), key=lambda r: r[0])
    inside = sum(spent.values())
    parts = ", ".join(f"{k} {v / n * 1e6:.2f}" for k, v in spent.items())
    print(f"replay -> ndjson, recognising   {n / total:>10,.0f} lines/s  {total:6.2f} s wall")
    print(f"  of which in the enrichers     {inside:6.2f} s  ({parts} µs/line)")
    print(f"  -> {(total - inside) / total:.1%} of the speed without them ({n / (total - inside):,.0f} lines/s)")
    parsing, enriching = min((parse_run(lines) for _ in range(args.runs)), key=sum)
    print(f"parse                            {n / parsing:>10,.0f} lines/s  {parsing:6.2f} s")
    print(f"parse + recognise                {n / (parsing + enriching):>10,.0f} lines/s  {parsing + enriching:6.2f} s")
    print(f"  -> {parsing / (parsing + enriching):.1%} of the speed without them; {enriching / n * 1e6:.2f} µs/line")

if __name__ == "__main__":
    main()
