"""A journal file truncated while shipper reads it: sd_journal maps the files, and reading a mapped
page past the new end raised SIGBUS, which killed ``shipper replay`` (and the daemon). Now the C
reader's SIGBUS handler (`shipper.sources.journal_faults`) turns it into a read error that names
the file; the entries before the cut are shipped, none after it, no garbage.

The files are real (systemd-journal-remote), the truncation is a real ``os.truncate`` of the file
a running ``shipper replay`` reads, while its output pipe holds it mid-read."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.sources import journal_entries, journal_faults
from shipper.sources.journal_entries import journal_module, native_reader, read_entries
from tests.helpers.follow import drain, follower, messages
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal
from tests.helpers.journal_damage import _item, _le

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)
if native_reader() is None:
    pytest.skip("the C reader (its SIGBUS handler) is not built", allow_module_level=True)

N = 30_000  # ~25 MB: one file, read for a while
CHANGED = "changed under shipper while it was read (truncated, or an I/O error): entries after this point in it were not read"


@pytest.fixture(scope="module")
def big_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pad = "x" * 200
    export = b"".join(export_entry({"MESSAGE": f"line {i} {pad}", "SYSLOG_IDENTIFIER": "app", "SEQ": f"{i:06}"}, seq=i)
                      for i in range(N))
    path = make_journal(tmp_path_factory.mktemp("big"), export)
    assert len(list(path.parent.iterdir())) == 1  # (not rotated)
    return path


def entries_before(path: Path, size: int) -> int:
    """How many entries of the file lie wholly in its first ``size`` bytes, in the order of its
    entry array (systemd-journal-remote writes an entry's data objects, then the entry)."""
    data = path.read_bytes()
    index = 0
    while index < N:
        at, width = _item(data, index)
        entry = _le(data, at, width)
        if at + width > size or entry + _le(data, entry + 8) > size:
            break
        index += 1
    return index


def replay_cut(original: Path, work: Path, workers: int) -> tuple[int, list[int], list[str], int]:
    """``shipper replay`` of a copy of ``original``, truncated to a quarter once 100 documents are out:
    its exit status, the SEQ of the documents, the read errors, and the size it was cut to."""
    path = work / "cut.journal"
    shutil.copy(original, path)
    proc = subprocess.Popen([sys.executable, "-m", "shipper", "replay", "--output", "ndjson", "--workers", str(workers),
                             str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=work)
    assert proc.stdout is not None
    head = [proc.stdout.readline() for _ in range(100)]  # (the rest waits in the pipe: shipper is mid-read)
    cut = path.stat().st_size // 4
    os.truncate(path, cut)
    lines = head + proc.stdout.read().splitlines()
    proc.wait(timeout=120)
    docs = [orjson.loads(line) for line in lines]
    seqs = [int(d["journald"]["custom"]["SEQ"]) for d in docs if "read_error" not in d.get("tags", ())]
    errors = [d["message"] for d in docs if "read_error" in d.get("tags", ())]
    return proc.returncode, seqs, errors, cut


def test_a_journal_file_truncated_under_a_replay_is_a_read_error(big_journal: Path, tmp_path: Path) -> None:
    status, seqs, errors, cut = replay_cut(big_journal, tmp_path, 0)
    assert status == 0, f"shipper replay ended with {status}" + (" (SIGBUS)" if status == -signal.SIGBUS else "")
    assert seqs == list(range(entries_before(big_journal, cut)))  # all before the cut, none after, no garbage
    assert 100 < len(seqs) < N // 2
    assert errors == [f"shipper: reading the journal stopped after cursor {cursor_of(big_journal, len(seqs))}: the "
                      f"journal file {tmp_path / 'cut.journal'} {CHANGED}; check the disk (dmesg) and journalctl "
                      "--verify --file FILE"]  # (one: not again as "no reader could go on after it")


def test_a_journal_file_truncated_under_a_parallel_replay_is_a_read_error(big_journal: Path, tmp_path: Path) -> None:
    """The workers read segments ahead (those read before the cut are whole); the result of the
    segment that meets the cut is kept (read again in the main process, which cannot open the
    file any more, it would give nothing: `ParallelReplay._ended`): every entry before the cut is
    delivered (and those the workers read ahead before the cut), no garbage."""
    status, seqs, errors, cut = replay_cut(big_journal, tmp_path, 2)
    assert status == 0, f"shipper replay ended with {status}" + (" (SIGBUS)" if status == -signal.SIGBUS else "")
    assert seqs == list(range(len(seqs))) and entries_before(big_journal, cut) <= len(seqs) < N
    assert errors == [f"shipper: reading the journal stopped after cursor {cursor_of(big_journal, len(seqs))}: the "
                      f"journal file {tmp_path / 'cut.journal'} {CHANGED}; check the disk (dmesg) and journalctl "
                      "--verify --file FILE"]


def test_the_entry_being_read_at_the_fault_is_left_out(big_journal: Path, tmp_path: Path) -> None:
    """In one process, the file cut between two batches: the C reader stops at the fault, and the
    entries it gives are those before the cut (none read from the zero pages)."""
    path = tmp_path / "cut.journal"
    shutil.copy(big_journal, path)
    reader = journal_module()._Reader(0, None, [str(path)])
    errors: list[str] = []
    seqs: list[int] = []
    before = journal_faults.count()
    try:
        reader.seek_head()
        for items, _ in read_entries(reader, errors, chunk=1000):
            if not seqs:
                os.truncate(path, path.stat().st_size // 4)
            seqs += [int(str(entry["SEQ"])) for entry in items]
    finally:
        reader.close()
    assert journal_faults.count() > before
    assert seqs == list(range(entries_before(big_journal, path.stat().st_size)))
    # (not named: sd_journal closed the file, and nothing else holds it open as a replay does)
    assert errors == [f"shipper: reading the journal stopped after cursor {cursor_of(big_journal, len(seqs))}: a "
                      f"journal file {CHANGED}; check the disk (dmesg) and journalctl --verify --file FILE"]


def cursor_of(path: Path, count: int) -> str:
    """The cursor of the ``count``-th entry of the intact file ``path``."""
    reader = journal_module()._Reader(0, None, [str(path)])
    try:
        reader.seek_head()
        assert reader._next(count)
        return str(reader._get_cursor())
    finally:
        reader.close()


def test_a_followed_journal_file_truncated_is_a_read_error_and_the_other_writers_go_on(
        big_journal: Path, tmp_path: Path) -> None:
    """The daemon's follower: the writer whose file was cut says so and reads no more of it (a new
    reader leaves the file out: sd_journal no longer opens it); another writer's file is read."""
    j = tmp_path / "j"
    j.mkdir()
    cut = j / "a.journal"
    shutil.copy(big_journal, cut)
    make_journal(j, b"".join(export_entry({"MESSAGE": f"other {i}", "SYSLOG_IDENTIFIER": "b"}, seq=i) for i in range(50)),
                 name="b")
    f = follower(j)
    f.open(None)
    first = messages(f.poll(0.0))
    assert first and all(m.startswith("line ") for m in first[:100])
    os.truncate(cut, cut.stat().st_size // 4)
    got = first + messages(drain(f))
    lines = [int(m.split()[1]) for m in got if m.startswith("line ")]
    assert lines == list(range(entries_before(big_journal, cut.stat().st_size)))
    assert sorted(m for m in got if m.startswith("other ")) == sorted(f"other {i}" for i in range(50))
    errors = [m for m in got if m.startswith("shipper:")]
    assert errors[0] == (f"shipper: reading the journal stopped after cursor {cursor_of(big_journal, len(lines))}: the "
                         f"journal file {cut} {CHANGED}; check the disk (dmesg) and journalctl --verify --file FILE")
    assert errors[1:] == [f"shipper: cannot read the journal file {cut}: No data available; skipping it (it is tried "
                          "again later)"]
    f.close()


def test_the_python_reader_stops_at_the_fault_too(big_journal: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the C reader is built but does not know systemd-python's reader (the handler is there),
    the Python loop stops at the fault as the C reader does."""
    monkeypatch.setattr(journal_entries, "native_reader", lambda: None)
    test_the_entry_being_read_at_the_fault_is_left_out(big_journal, tmp_path)


def test_a_segment_cut_under_a_worker_keeps_the_entries_it_read(big_journal: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Four segments, all cut (and the workers' readers open) before the first batch is written,
    when the file is cut in half: a reader opened after the cut would not open it. The worker whose segment
    meets the cut reads up to it; its result is kept (`ParallelReplay._cut`): read again in the main
    process, which no longer opens the file, it gave nothing, and the entries before the cut in
    that segment were lost."""
    import io  # noqa: PLC0415

    from shipper.config.model import RecogniseConfig  # noqa: PLC0415
    from shipper.enrich.chain import default_enrichers  # noqa: PLC0415
    from shipper.parallel import replay as parallel_replay  # noqa: PLC0415
    from shipper.parse.base import ParseContext  # noqa: PLC0415
    from shipper.sinks.ndjson import NdjsonSink  # noqa: PLC0415
    from shipper.sources.open import open_inputs  # noqa: PLC0415

    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", N // 4)  # (two workers take four jobs at once)
    monkeypatch.setattr(parallel_replay, "WARM_ENTRIES", 16)
    (tmp_path / "j").mkdir()
    path = tmp_path / "j" / "cut.journal"
    shutil.copy(big_journal, path)
    out = io.BytesIO()

    class Cutting(NdjsonSink):
        def write(self, batch: Any) -> None:
            if path.stat().st_size == big_journal.stat().st_size:
                os.truncate(path, path.stat().st_size // 2)
            super().write(batch)

    groups = open_inputs([str(path.parent)], fmt="auto", max_line_bytes=4096)
    enricher = default_enrichers(RecogniseConfig())[-1]
    parallel_replay.ParallelReplay(groups, ParseContext(timezone="UTC"), enricher, [Cutting(out)], 2).run()
    docs = [orjson.loads(line) for line in out.getvalue().splitlines()]
    seqs = [int(d["journald"]["custom"]["SEQ"]) for d in docs if "read_error" not in d.get("tags", ())]
    errors = [d["message"] for d in docs if "read_error" in d.get("tags", ())]
    assert seqs == list(range(len(seqs))) and entries_before(big_journal, path.stat().st_size) <= len(seqs) < N
    assert len(errors) == 1 and CHANGED in errors[0] and str(path) in errors[0]


def test_the_other_files_of_an_input_are_read_after_one_is_cut(big_journal: Path, tmp_path: Path) -> None:
    """Two files in one input, the other's entries all after the cut one's: sd_journal (252) no
    longer opens the cut file, so the readers after the cut leave it out and read the other (they
    failed as a whole, and the other file's entries were not read)."""
    j = tmp_path / "j"
    j.mkdir()
    cut = j / "a.journal"
    shutil.copy(big_journal, cut)
    make_journal(j, b"".join(export_entry({"MESSAGE": f"other {i}", "SYSLOG_IDENTIFIER": "b"}, seq=N + i)
                             for i in range(50)), name="b")
    proc = subprocess.Popen([sys.executable, "-m", "shipper", "replay", "--output", "ndjson", "--workers", "0", str(j)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path)
    assert proc.stdout is not None
    head = [proc.stdout.readline() for _ in range(100)]  # (the rest waits in the pipe: shipper is mid-read)
    os.truncate(cut, cut.stat().st_size // 4)
    docs = [orjson.loads(line) for line in head + proc.stdout.read().splitlines()]
    assert proc.wait(timeout=120) == 0
    got = [d["message"] for d in docs if "read_error" not in d.get("tags", ())]
    errors = [d["message"] for d in docs if "read_error" in d.get("tags", ())]
    lines = [int(m.split()[1]) for m in got if m.startswith("line ")]
    assert lines == list(range(entries_before(big_journal, cut.stat().st_size)))
    assert [m for m in got if m.startswith("other ")] == [f"other {i}" for i in range(50)]
    assert len(errors) == 2 and CHANGED in errors[0] and str(cut) in errors[0]
    assert errors[1].startswith(f"shipper: reading the journal went on after cursor {cursor_of(big_journal, len(lines))}")
