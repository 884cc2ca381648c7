"""The kernel's "Out of memory: Killed process 4242 (java)" got its unit, and so joined the unit's
incident, only when systemd's "elasticsearch.service: A process of this unit has been killed by
the OOM killer." was in the same batch. Linking (the main process, in time order) now joins them
whatever the batches: with the kernel line the last of a batch and systemd's the first of the next,
in one process and with workers, the unit's failure has the kill in its incident and its cause says
"the OOM killer killed java (pid 4242)"."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.sources.files import TextSource

DATA = Path(__file__).resolve().parents[1] / "data"
FILLER = DATA / "corpus" / "real" / "loghub" / "Linux_2k.log"  # a real host's log, earlier in the year
TESTER = DATA / "tester" / "sysd.log"
KERNEL = "Out of memory: Killed process 4242 (java)"
# One process: the parser holds back the last line of each 2,000-line chunk (it may continue), so
# with 1,998 lines before it the kernel line ends the first batch and systemd's line starts the next.
FILLER_LINES = 1998


def _log(tmp_path: Path) -> tuple[Path, int]:
    """The tester's OOM kill (kernel line, systemd's lines) after real lines; and the byte just
    after systemd's first line: a block that ends there has the kernel line as its last document
    (the parser holds its last line back, for the next block: it may continue)."""
    filler = FILLER.read_bytes().split(b"\n")[:FILLER_LINES]
    oom = [line for line in TESTER.read_bytes().split(b"\n") if b" db1 " in line]
    assert KERNEL.encode() in oom[0] and b"killed by the OOM killer" in oom[1]
    data = b"\n".join(filler + oom) + b"\n"
    path = tmp_path / "oom.log"
    path.write_bytes(data)
    after_kernel = data.index(b"\n", data.index(KERNEL.encode())) + 1
    return path, data.index(b"\n", after_kernel) + 1


def _replay(log: Path, out: Path, *workers: str) -> list[dict[str, Any]]:
    env = Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})
    assert main(["replay", "--quiet", "--output", "ndjson", "-o", str(out), "--year", "2017", "--timezone", "UTC",
                 *workers, str(log)], env) == 0
    return [doc for doc in map(orjson.loads, out.read_bytes().splitlines())  # (not the filler's boot banner)
            if "rootcause" in doc and doc["rootcause"]["role"] != "boot"]


def _check_joined(docs: list[dict[str, Any]]) -> None:
    kernel, oom, exited, failed = docs
    assert KERNEL in kernel["message"] and kernel["rootcause"]["signature"] == "kernel.oom_kill"
    assert len({d["rootcause"]["incident"] for d in docs}) == 1  # the kill is in the unit's incident
    for failure in (exited, failed):
        assert failure["rootcause"]["unit"] == "elasticsearch.service"
        assert failure["rootcause"]["cause"]["title"] == "the OOM killer killed java (pid 4242) of elasticsearch.service"
    assert "killed java (pid 4242)" in oom["rootcause"]["hint"]


def test_in_one_process_across_batches(tmp_path: Path) -> None:
    log, _ = _log(tmp_path)
    docs = _replay(log, tmp_path / "one.nd", "--workers", "0")
    _check_joined(docs)
    assert "unit" not in docs[0]["rootcause"]  # written before systemd's line was read: in another batch


def test_with_workers_the_kill_ends_a_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log, block = _log(tmp_path)
    one = _replay(log, tmp_path / "one.nd", "--workers", "0")
    monkeypatch.setattr(TextSource, "block_size", block)  # a worker's block ends with the kernel line
    two = _replay(log, tmp_path / "two.nd", "--workers", "2")
    _check_joined(two)
    assert "unit" not in two[0]["rootcause"]  # its block knew no unit
    assert two == one


def test_store_and_causes_show_one_incident(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log, block = _log(tmp_path)
    monkeypatch.setattr(TextSource, "block_size", block)
    for workers in ("0", "2"):
        store = tmp_path / f"s{workers}.db"
        env = Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})
        assert main(["replay", "--quiet", "--store", str(store), "--year", "2017", "--workers", workers, str(log)],
                    env) == 0
        assert main(["causes", "--store", str(store), "--format", "json"], env) == 0
        [incident] = orjson.loads(env.stdout.getvalue())["incidents"]  # type: ignore[attr-defined]
        assert incident["unit"] == "elasticsearch.service" and incident["events"] == 4
        assert {c["signature"] for c in incident["causes"]} == {"systemd.oom_killed", "kernel.oom_kill"}
