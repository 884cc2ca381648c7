"""``failing`` is part of the sink interface (`shipper.sinks.base.Sink`): every sink has it, the
courier reads it as it is (no ``getattr`` default), and mypy rejects a sink that lacks it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from shipper.sinks.base import Sink
from shipper.sinks.local import LocalSink
from shipper.sinks.ndjson import NdjsonSink

ROOT = Path(__file__).resolve().parents[2]
NO_FAILING = """
from collections import Counter
from pathlib import Path
from shipper.event import Batch
from shipper.sinks.base import Ack, Encode, Sink

class NoFailing:
    name = "no-failing"
    counters: Counter[str] = Counter()

    def open(self, ack: Ack) -> None: ...
    def encoder(self) -> Encode: return lambda docs: list(docs)
    def write(self, batch: Batch) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def files(self) -> list[Path]: return []

sink: Sink = NoFailing()
"""


def test_h3_the_local_and_ndjson_sinks_are_not_failing_once_open(tmp_path: Path) -> None:
    sinks: list[Sink] = [LocalSink(tmp_path / "events.db"), NdjsonSink(path=tmp_path / "events.ndjson")]
    for sink in sinks:
        sink.open(lambda seq: None)
        try:
            assert sink.failing is False, sink.name
        finally:
            sink.close()


def test_h3_mypy_rejects_a_sink_without_failing(tmp_path: Path) -> None:
    module = tmp_path / "no_failing.py"
    module.write_text(NO_FAILING)
    checked = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), str(module)],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    said = checked.stdout + checked.stderr
    assert checked.returncode == 1, said
    assert 'Incompatible types in assignment (expression has type "NoFailing", variable has type "Sink")' in said, said
    assert 'following member(s) of "NoFailing" have conflicts' not in said  # missing, not different
    assert re.search(r'"NoFailing" is missing following "Sink" protocol member:\n.*note: +failing\n', said), said
