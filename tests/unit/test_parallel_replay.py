"""The parallel replay gives the same documents, batch for batch, as one process.

Inputs are cut into small blocks so that block boundaries fall everywhere: inside multi-line
records, ``systemctl status`` blocks, bootstrap reports, bursts of identical lines in one second.
The real corpus (sendmail, systemd, the seed) is the main input.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest

from shipper.cli import main
from shipper.commands import replay as replay_command
from shipper.config.model import RecogniseConfig
from shipper.enrich.chain import default_enrichers
from shipper.env import Env
from shipper.parallel import replay as parallel_replay
from shipper.parallel.replay import ParallelReplay, eligible
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.pipeline import Pipeline, Summary, Window
from shipper.sinks.local import LocalStore
from shipper.sinks.ndjson import NdjsonSink
from shipper.sources.base import Origin, RawChunk, pieces
from shipper.sources.files import TextSource
from shipper.sources.open import open_inputs
from tests.fakees import FakeES
from tests.helpers.journal import export_entry, make_journal
from tests.helpers.rsyslog import maillog_and_messages

CTX = ParseContext(timezone="Europe/Berlin", year=2017)


def _groups(paths: list[Path], block_size: int) -> list:
    groups = open_inputs([str(p) for p in paths], fmt="syslog", max_line_bytes=4096)
    for group in groups:
        for source in group.sources:
            assert isinstance(source, TextSource)
            source.block_size = block_size
    return groups


def one_process(paths: list[Path], block_size: int, window: Window = Window()) -> tuple[bytes, Summary]:
    out = io.BytesIO()
    groups = _groups(paths, block_size)
    enrichers = default_enrichers(RecogniseConfig())
    summary = Pipeline(groups, CTX, make_parser, enrichers, [NdjsonSink(out)], window).run()
    return out.getvalue(), summary


def in_parallel(paths: list[Path], block_size: int, window: Window = Window(), workers: int = 2) -> tuple[bytes, Summary]:
    out = io.BytesIO()
    groups = _groups(paths, block_size)
    incidents = default_enrichers(RecogniseConfig())[-1]
    summary = ParallelReplay(groups, CTX, incidents, [NdjsonSink(out)], workers, window).run()
    return out.getvalue(), summary


DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "corpus"
LARGER = [  # real logs of other shapes: loghub's, and a Fedora journal as short-iso text
    CORPUS / "real" / "loghub" / "Linux_2k.log",
    CORPUS / "real" / "loghub" / "Mac_2k.log",
    CORPUS / "real" / "loghub" / "OpenSSH_2k.log",
    CORPUS / "derived" / "fedora37-no-rtc" / "unit-lifecycle.short-iso.log",
    CORPUS / "derived" / "fedora37-no-rtc" / "journal.short-iso.log",
]


def _concat(path: Path, parts: list[Path]) -> Path:
    path.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in parts if p.is_file()))
    return path


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every sendmail and systemd excerpt of the corpus and the seed, one after the other."""
    parts = sorted((CORPUS / "excerpts" / "sendmail").iterdir())
    parts += sorted((CORPUS / "excerpts" / "systemd").iterdir())
    parts += sorted((DATA / "seed").iterdir())
    return _concat(tmp_path_factory.mktemp("corpus") / "all.log", parts)


@pytest.fixture(scope="module")
def larger_file(tmp_path_factory: pytest.TempPathFactory, corpus_file: Path) -> Path:
    return _concat(tmp_path_factory.mktemp("larger") / "all.log", [corpus_file, *LARGER, corpus_file])


@pytest.mark.parametrize("block_size", [512, 4096])
def test_the_corpus_excerpts_give_the_same_documents_in_parallel(corpus_file: Path, block_size: int) -> None:
    expected, seq = one_process([corpus_file], block_size)
    got, par = in_parallel([corpus_file], block_size)
    assert got == expected
    assert par.counters["documents"] == seq.counters["documents"] > 250


@pytest.mark.parametrize("block_size", [8192, 65536])
def test_larger_real_logs_give_the_same_documents_in_parallel(larger_file: Path, block_size: int) -> None:
    expected, seq = one_process([larger_file], block_size)
    got, par = in_parallel([larger_file], block_size)
    assert got == expected
    assert par.counters["documents"] == seq.counters["documents"] > 20000
    assert par.counters["unparsed"] == seq.counters["unparsed"]
    assert par.counters["read"] == seq.counters["read"]
    recognised = [d for d in map(orjson.loads, got.splitlines()) if "rootcause" in d]
    assert any("cause" in d["rootcause"] for d in recognised), "failures are linked to causes across blocks"


def test_twins_whose_second_comes_back_are_kept_apart_in_parallel_too(tmp_path: Path) -> None:
    """Two writers, one 3 seconds behind, some of their lines the same: every line is its own event
    (ids count twins over the latest seconds, `IdAssigner`), with workers as in one process. Only
    blocks with twins of the previous block's lines in its first seconds are done again."""
    rng = random.Random(3)
    lines, now = [], 0
    for _ in range(4000):
        now += rng.choice([0, 1])
        second = now - rng.choice([0, 0, 3])
        message = rng.choice("AB") if rng.random() < 0.2 else f"line {len(lines)}"  # some twins
        lines.append(f"Aug 30 14:{second // 60 % 60:02d}:{second % 60:02d} gorp app[7]: {message}")
    path = tmp_path / "messages"
    path.write_text("\n".join(lines) + "\n")
    expected, seq = one_process([path], 2048)
    got, par = in_parallel([path], 2048)
    assert got == expected
    assert len({orjson.loads(line)["event"]["id"] for line in got.splitlines()}) == len(lines)
    assert 0 < par.counters["reruns"] < 20


@pytest.mark.parametrize(("block_size", "workers"), [(1024, 2), (8192, 2), (512, 12)])
def test_several_groups_give_in_parallel_the_documents_and_links_of_one_process(tmp_path: Path, block_size: int,
                                                                                workers: int) -> None:
    """Each group keeps its own chain of state; a failure in messages is linked with the SYSERRs
    of maillog, which the workers read in other blocks, as when one process merges the groups by
    time; and the NDJSON is merged by time as one process merges it, byte for byte. With more
    workers, more parts wait for the other group (`PARTS_WAITING_PER_JOB`)."""
    paths = maillog_and_messages(tmp_path, 40)
    expected, seq = one_process(paths, block_size)
    got, par = in_parallel(paths, block_size, workers=workers)
    assert got == expected
    assert [par.counters[k] for k in ("read", "documents", "unparsed")] == [seq.counters[k] for k in ("read", "documents", "unparsed")]
    failures = [d["rootcause"] for d in map(orjson.loads, got.splitlines()) if d.get("rootcause", {}).get("role") == "failure"]
    assert len(failures) == 40 * 3
    assert all(f.get("cause", {}).get("signature") == "sendmail.bind_address_in_use" for f in failures)
    assert len({f["incident"] for f in failures}) == 40


@pytest.mark.parametrize("minutes", ["first", "last"])
def test_a_short_group_does_not_hold_back_the_others_ndjson(tmp_path: Path, minutes: str) -> None:
    """NDJSON of a long messages and a short maillog of its first or last minutes: once maillog's
    only result is taken, the merge stops waiting for maillog's next line (and a part of maillog
    still being linked holds back only what comes after it), so messages' lines are written as
    they come, not held to the end."""
    maillog, messages = maillog_and_messages(tmp_path, 30)
    lines = maillog.read_text().splitlines(keepends=True)
    maillog.write_text("".join(lines[:10] if minutes == "first" else lines[-10:]))
    expected, _ = one_process([maillog, messages], 1024)
    writes: list[int] = []
    out = io.BytesIO()

    class Counting(NdjsonSink):
        def write(self, batch: Any) -> None:
            writes.append(len(batch.encoded[self.name]))
            super().write(batch)

    groups = _groups([maillog, messages], 1024)
    ParallelReplay(groups, CTX, default_enrichers(RecogniseConfig())[-1], [Counting(out)], 2).run()
    assert out.getvalue() == expected
    assert len(writes) > 20 and max(writes) < sum(writes) // 4


def test_a_record_longer_than_the_warm_up_is_done_again_from_the_exact_state(tmp_path: Path) -> None:
    head = b"Aug 30 14:55:47 host app[1]: first\n"
    record = b"Aug 30 14:55:48 host app[1]: a trace follows\n" + b"".join(b"\tat frame %d\n" % i for i in range(600))
    path = tmp_path / "messages"
    path.write_bytes(head * 50 + record + head * 50)
    expected, _ = one_process([path], 4096)
    got, summary = in_parallel([path], 4096)
    assert got == expected
    assert summary.counters["reruns"] >= 1
    docs = [orjson.loads(line) for line in got.splitlines()]
    assert docs[50]["message"].count("\n") == 600  # the continuation lines stayed with their record


def test_a_rotated_set_with_an_archive_and_a_time_window(corpus_file: Path, tmp_path: Path) -> None:
    data = corpus_file.read_bytes()
    half = data.index(b"\n", len(data) // 2) + 1
    (tmp_path / "messages.1.gz").write_bytes(gzip.compress(data[:half]))
    (tmp_path / "messages").write_bytes(data[half:])
    paths = [tmp_path / "messages.1.gz", tmp_path / "messages"]
    window = Window(since="2017-01-01T00:00:00.000000Z", until="2017-09-01T00:00:00.000000Z")
    expected, seq = one_process(paths, 4096, window)
    got, _ = in_parallel(paths, 4096, window)
    assert got == expected
    assert 0 < seq.counters["documents"] < seq.counters["read"]


def test_syslog_text_and_journals_are_read_in_parallel_other_formats_not(corpus_file: Path, corpus: Path) -> None:
    assert eligible(_groups([corpus_file], 4096))
    assert eligible(_groups([corpus_file, corpus / "excerpts" / "sendmail" / "sendmail-syserr-misc.log"], 4096))
    es_log = next((corpus / "excerpts" / "elasticsearch").iterdir())
    assert not eligible(open_inputs([str(es_log)], fmt="elasticsearch", max_line_bytes=4096))


def test_the_cli_stores_the_same_events_with_workers(env: Env, corpus_file: Path, tmp_path: Path) -> None:
    for workers in ("0", "1"):
        db = tmp_path / f"w{workers}.db"
        args = ["replay", "--timezone", "UTC", "--year", "2017", "--workers", workers, "--store", str(db), str(corpus_file)]
        assert main(args, env) == 0
    one, two = LocalStore(tmp_path / "w0.db"), LocalStore(tmp_path / "w1.db")
    try:
        assert list(two.iter_docs()) == list(one.iter_docs())
        assert two.counts()["recognised"] == one.counts()["recognised"] > 10
    finally:
        one.close()
        two.close()


def test_the_cli_stores_several_inputs_with_workers_as_one_process_does(env: Env, tmp_path: Path) -> None:
    """`shipper replay maillog messages` into the local store: the same rows with workers."""
    paths = [str(p) for p in maillog_and_messages(tmp_path, 30)]
    for workers in ("0", "2"):
        args = ["replay", "--timezone", "UTC", "--year", "2017", "--workers", workers, "--store", str(tmp_path / f"w{workers}.db"), *paths]
        assert main(args, env) == 0
    one, two = LocalStore(tmp_path / "w0.db"), LocalStore(tmp_path / "w2.db")
    try:
        assert sorted(two.iter_docs(), key=lambda d: d["event"]["id"]) == sorted(one.iter_docs(), key=lambda d: d["event"]["id"])
        assert two.counts()["recognised"] == one.counts()["recognised"] > 30 * 9
    finally:
        one.close()
        two.close()


def test_the_cli_indexes_the_same_documents_with_workers(env: Env, corpus_file: Path) -> None:
    indexed = []
    for workers in ("0", "2"):
        with FakeES() as es:
            args = ["replay", "--timezone", "UTC", "--year", "2017", "--workers", workers, "--output", "es",
                    "--es-url", es.url, str(corpus_file)]
            assert main(args, env) == 0
            indexed.append(es.docs("logs-shipper.syslog-default"))
    assert indexed[1] == indexed[0]
    assert len(indexed[0]) > 250


# Run in a fresh interpreter: records, when the workers are started, whether the official
# Elasticsearch client was imported already, then replays as `shipper replay` does.
_SPY = """
import sys
import shipper.parallel.pool as pool
from shipper.cli import main
real = pool.Workers.__init__
def spy(self, *args, **kwargs):
    print("client imported before the workers:", "elasticsearch" in sys.modules)
    real(self, *args, **kwargs)
pool.Workers.__init__ = spy
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("output", ["es", "ndjson"])
def test_the_client_is_imported_before_the_workers_start_if_they_use_it(corpus_file: Path, tmp_path: Path, output: str) -> None:
    """Into Elasticsearch the workers send their own bulks: the official client is imported before
    they are forked, so they share its modules' pages (13 MB) instead of each importing them. Into
    another output they never use it, and do not carry it."""
    with FakeES() as es:
        proc = subprocess.run(
            [sys.executable, "-c", _SPY, "replay", "--quiet", "--timezone", "UTC", "--year", "2017", "--workers", "2",
             "--output", output, *(["--es-url", es.url] if output == "es" else ["-o", "out.ndjson"]), str(corpus_file)],
            capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)},
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == [f"client imported before the workers: {output == 'es'}"]
        assert len(es.docs("logs-shipper.syslog-default")) > 250 if output == "es" else (tmp_path / "out.ndjson").stat().st_size


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_a_large_input_is_parsed_by_one_worker_per_cpu_even_on_one_cpu(env: Env, tmp_path: Path, cpus: int) -> None:
    big, small = tmp_path / "big.log", tmp_path / "small.log"
    line = b"Jan  1 00:00:00 host app[1]: a line of some length, to make up the size of a large input\n"
    big.write_bytes(line * (parallel_replay.MIN_PARALLEL_BYTES // len(line) + 1))
    small.write_bytes(line * 1000)
    env = replace(env, cpu_count=cpus)
    groups = lambda path: open_inputs([str(path)], fmt="auto", max_line_bytes=4096)  # noqa: E731
    assert replay_command._workers(argparse.Namespace(workers=None), groups(big), env) == cpus
    assert replay_command._workers(argparse.Namespace(workers=None), groups(small), env) == 0
    assert replay_command._workers(argparse.Namespace(workers=0), groups(big), env) == 0
    two = open_inputs([str(big), str(small)], fmt="auto", max_line_bytes=4096)
    assert replay_command._workers(argparse.Namespace(workers=None), two, env) == cpus


def test_workers_must_be_a_number_of_processes(env: Env, corpus_file: Path) -> None:
    assert main(["replay", "--workers", "-1", "--output", "ndjson", str(corpus_file)], env) == 2
    assert "--workers -1" in env.stderr.getvalue()


# -- journal files -----------------------------------------------------------------------------
JOURNALS = CORPUS / "real" / "systemd" / "no-rtc"


def _journal_groups(path: Path) -> list:
    return open_inputs([str(path)], fmt="auto", max_line_bytes=4096)


def journal_one_process(path: Path) -> tuple[bytes, Summary]:
    out = io.BytesIO()
    summary = Pipeline(_journal_groups(path), CTX, make_parser, default_enrichers(RecogniseConfig()), [NdjsonSink(out)]).run()
    return out.getvalue(), summary


def journal_in_parallel(path: Path) -> tuple[bytes, Summary]:
    out = io.BytesIO()
    summary = ParallelReplay(_journal_groups(path), CTX, default_enrichers(RecogniseConfig())[-1], [NdjsonSink(out)], 2).run()
    return out.getvalue(), summary


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", 300)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)


def test_real_journal_files_give_the_same_documents_in_parallel(small_segments: None) -> None:
    """Seven compressed journal files of a Fedora machine, interleaved by time by sd_journal."""
    expected, seq = journal_one_process(JOURNALS)
    got, par = journal_in_parallel(JOURNALS)
    assert got == expected
    assert par.counters["documents"] == seq.counters["documents"] > 5000


def test_many_entries_in_one_second_keep_their_ids_across_segments(small_segments: None, tmp_path: Path) -> None:
    """1,000 entries a second, and the same message several times within a second: a block's
    first second continues the previous block's, and the occurrence counts must carry over."""
    entries = [
        export_entry({"MESSAGE": f"tick {i % 7}", "_PID": "42", "SYSLOG_IDENTIFIER": "app",
                      "__REALTIME_TIMESTAMP": str(1_504_104_947_000_000 + i * 1000)})
        for i in range(3000)
    ]
    directory = tmp_path / "journal"
    make_journal(directory, b"".join(entries))
    expected, _ = journal_one_process(directory)
    got, par = journal_in_parallel(directory)
    assert got == expected
    ids = [orjson.loads(line)["event"]["id"] for line in got.splitlines()]
    assert len(set(ids)) == len(ids) == 3000
    assert par.counters["reruns"] >= 1  # some first seconds repeat the previous block's contents


def test_a_damaged_journal_file_is_reported_in_parallel_as_in_one_process(small_segments: None, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    entries = [export_entry({"MESSAGE": f"line {i}", "SYSLOG_IDENTIFIER": "app"}, seq=i) for i in range(900)]
    path = make_journal(directory, b"".join(entries))
    (directory / "broken.journal").write_bytes(path.read_bytes()[:4096])
    expected, seq = journal_one_process(directory)
    got, _ = journal_in_parallel(directory)
    assert got == expected
    assert seq.counters["unparsed"] >= 1


# -- real signals --------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.fixture(params=["ndjson", "es"])
def output(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Into NDJSON, and into Elasticsearch (the workers send their own bulks there)."""
    if request.param == "ndjson":
        yield ["--output", "ndjson", "-o", os.devnull]
        return
    with FakeES() as es:
        yield ["--output", "es", "--es-url", es.url]


def _start_replay(tmp_path: Path, corpus_file: Path, output: list[str]) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A replay of ~40 MB in a child process, once its two workers are running."""
    big = tmp_path / "big.log"
    data = corpus_file.read_bytes()
    big.write_bytes(data * (40_000_000 // len(data)))
    proc = subprocess.Popen([sys.executable, "-m", "shipper", "replay", "--quiet", "--workers", "2", "--timezone", "UTC",
                             "--year", "2017", *output, str(big)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "HOME": str(tmp_path)})
    deadline = time.monotonic() + 60
    while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert len(workers) == 2, "the replay started two worker processes"
    time.sleep(0.5)  # well into the replay
    return proc, workers


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_ctrl_c_stops_the_replay_and_its_workers(tmp_path: Path, corpus_file: Path, output: list[str]) -> None:
    proc, workers = _start_replay(tmp_path, corpus_file, output)
    proc.send_signal(signal.SIGINT)
    for pid in workers:  # a terminal sends Ctrl-C to the whole process group: the workers ignore it
        os.kill(pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert all(_gone(pid) for pid in workers)


def test_a_killed_worker_fails_the_replay_with_a_clear_message(tmp_path: Path, corpus_file: Path, output: list[str]) -> None:
    proc, workers = _start_replay(tmp_path, corpus_file, output)
    os.kill(workers[0], signal.SIGKILL)
    assert proc.wait(timeout=30) == 1
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "a worker process ended unexpectedly" in err and "--workers 0" in err
    assert "Traceback" not in err
    assert all(_gone(pid) for pid in workers)


def test_a_killed_replay_leaves_no_worker_behind(tmp_path: Path, corpus_file: Path, output: list[str]) -> None:
    proc, workers = _start_replay(tmp_path, corpus_file, output)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers), "each worker ends when its input closes"


# -- how workers start ---------------------------------------------------------------------------
_HOW_THEY_START = """
import json, sys, threading, time
from pathlib import Path
from typing import Any, Iterator
from shipper.parallel.pool import Workers
from shipper.parallel.work import Setup
from shipper.parse.base import ParseContext
from shipper.pipeline import Window

stop = threading.Event()
if sys.argv[1] == "thread":
    threading.Thread(target=stop.wait).start()
workers = Workers(2, Setup(ParseContext(timezone="UTC"), Window(), {}))

def cmdline(pid):  # empty for a moment while a new program is set up (Popen returns by then)
    deadline = time.monotonic() + 10
    while not (text := Path(f"/proc/{pid}/cmdline").read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return text.decode()

print(json.dumps([cmdline(c.pid) for c in workers._children]))
workers.close()
stop.set()
"""


@pytest.mark.parametrize("other_thread", [False, True])
def test_workers_are_forked_only_from_a_single_threaded_process(other_thread: bool) -> None:
    """Forked while the process runs no other thread (no imports to repeat); spawned otherwise,
    since a fork could copy a lock that the other thread holds. (In a fresh process: this one
    may run threads left by other tests.)"""
    out = subprocess.run([sys.executable, "-c", _HOW_THEY_START, "thread" if other_thread else "alone"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    cmdlines = json.loads(out)
    assert [("shipper.parallel.serve" in c) for c in cmdlines] == [other_thread, other_thread], cmdlines


def test_spawned_workers_give_the_same_documents(corpus_file: Path) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()  # so the workers are spawned, not forked
    try:
        expected, _ = one_process([corpus_file], 4096)
        got, _ = in_parallel([corpus_file], 4096)
    finally:
        stop.set()
        thread.join()
    assert got == expected


# -- pieces of a chunk ---------------------------------------------------------------------------
def test_a_chunk_in_pieces_keeps_each_line_with_its_offset_and_tags() -> None:
    origin = Origin(source_id="s", format="syslog", path="/var/log/messages")
    lines = [f"line {i}" for i in range(10)]
    chunk = RawChunk(origin, "text", lines, offsets=list(range(0, 100, 10)), tags={0: ("a",), 4: ("b",), 9: ("c",)},
                     checkpoint=("/var/log/messages", 100), progress=100)
    got = list(pieces(chunk, 4))
    assert [p.items for p in got] == [lines[0:4], lines[4:8], lines[8:10]]
    assert [p.offsets for p in got] == [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]]
    assert [p.tags for p in got] == [{0: ("a",)}, {0: ("b",)}, {1: ("c",)}]
    assert [p.checkpoint for p in got] == [None, None, ("/var/log/messages", 100)]  # the position after the chunk
    assert list(pieces(chunk, 10)) == [chunk]
