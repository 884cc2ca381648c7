"""The journal lane (shipper/parallel/_express_journal.c) gives what the Python path gives, byte
for byte.

Each case runs a worker over the segments of real journal files twice: with the C paths (the
reader's packed entries, the lane, the tail), and with the Python stages alone (entries as dicts,
`journal_doc`, ids, recognition, encoders). It compares every result: the items of each sink, the
documents left for linking, the counts, and the state handed to the next segment. The inputs are
the corpus's Fedora journals, entries made for each rule of the lane (`examine_entry` in the C
file) and of the mapping, and random entries. A count of the entries the lane took keeps these
tests from passing on a lane that takes nothing.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest
import zstandard

from shipper.enrich.recognise import Recognise
from shipper.parallel import express, express_plans, work
from shipper.parallel.express import JournalLane
from shipper.ids import IdAssigner
from shipper.parallel.work import Done, Job, Setup, Worker
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.pipeline import Window
from shipper.sinks.base import Encode
from shipper.sinks.rows import encode_rows
from shipper.sources.base import Origin
from shipper.sources.journal import JournalFile, JournalSource
from shipper.sources.journal_segments import Segment
from tests.helpers.express import CORPUS, ES_AND_NDJSON, needs_lane
from tests.helpers.journal import export_entry, make_journal
from tests.helpers.memory import grown_after

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")

_express = express._express


def _results(done: Done) -> Any:
    """Everything a job's result holds, in a comparable form (bytes items, documents, states)."""
    parts = [(p.items, [(i, orjson.dumps(doc)) for i, doc in p.pending], p.unparsed, p.size) for p in done.parts]
    return parts, done.read, repr(done.start), repr(done.end), repr(done.ids_block), done.errors


def run(paths: list[Path], lane: bool, monkeypatch: pytest.MonkeyPatch, size: int, exact: bool,
        encoders: dict[str, Encode] = ES_AND_NDJSON) -> tuple[list[Any], int]:
    """Each segment's result, in order, as one worker of a replay gets them (``exact``: from the
    previous segment's end state; else after a warm-up, as a replay does); and how many entries
    the lane took."""
    taken = [0]
    with monkeypatch.context() as patch:
        if lane:
            entries = JournalLane.entries

            def counted(self: JournalLane, origin: Any, packed: bytes, outs: Any, add: Any, grow: Callable[[int], None]) -> None:
                def more(n: int) -> None:
                    taken[0] += n
                    grow(n)

                entries(self, origin, packed, outs, add, more)

            patch.setattr(JournalLane, "entries", counted)
        else:  # the Python stages alone
            patch.setattr(work.JournalLane, "make", classmethod(lambda cls, *args: None))
            patch.setattr(work.Tail, "make", classmethod(lambda cls, *args: None))
        source = JournalSource("j", [JournalFile(str(p), False) for p in paths])
        segments = list(source.segments(size, 40))
        worker = Worker(Setup(ParseContext(timezone="UTC"), Window(), encoders))
        results: list[Any] = []
        init = None
        for n, seg in enumerate(segments):
            last = n == len(segments) - 1
            done = worker.run(Job(n, 0, source.origin, seg, init=init, exact=exact and init is not None, first=n == 0,
                                  last=last, final=last))
            results.append(_results(done))
            init = done.end
        worker._journal.close()
    return results, taken[0]


def same_with_and_without(monkeypatch: pytest.MonkeyPatch, paths: list[Path], sizes: tuple[int, ...] = (97, 2500),
                          encoders: dict[str, Encode] = ES_AND_NDJSON) -> int:
    """Compare both paths for each segment size, both ways of starting a segment; the entries
    the lane took (at the largest size)."""
    taken = 0
    for size in sizes:
        for exact in (True, False):
            got, taken = run(paths, True, monkeypatch, size, exact, encoders)
            expected, _ = run(paths, False, monkeypatch, size, exact, encoders)
            assert len(got) == len(expected)
            for n, (a, b) in enumerate(zip(got, expected)):
                assert a == b, f"segment {n} of {size} entries, exact={exact}"
    return taken


def journal_of(tmp_path: Path, entries: list[bytes]) -> list[Path]:
    directory = tmp_path / "journal"
    make_journal(directory, b"".join(entries))
    return sorted(directory.iterdir())


def entry(fields: dict[str, str | bytes], seq: int, twice: tuple[str, str] | None = None) -> bytes:
    """One entry in export form; ``twice``: a field given a second value (a list in its dict)."""
    text = export_entry(fields, seq=seq)
    return text if twice is None else text[:-1] + f"{twice[0]}={twice[1]}\n\n".encode()


@needs_lane
def test_the_corpus_journals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "no-rtc"
    directory.mkdir()
    for f in sorted((CORPUS / "real" / "systemd" / "no-rtc").iterdir()):
        path = directory / f.name.removesuffix(".zst")
        path.write_bytes(zstandard.ZstdDecompressor().decompress(f.read_bytes(), max_output_size=1 << 28))
    paths = sorted(directory.iterdir())
    taken = same_with_and_without(monkeypatch, paths, (501, 20000))
    # (the service manager's "Started ..." entries, about 1,200 here, are the lane's when they end no
    # troubled unit: `systemd.unit_started`, shipper/parallel/_express_starts.c; 9,511 taken)
    assert taken > 10757 * 0.87, f"the lane took {taken} of 10,757 entries"
    assert same_with_and_without(monkeypatch, paths, (20000,), {"store": encode_rows}) == taken  # the store's rows


SENDMAIL = "sendmail"
# A MESSAGE_ID that a signature matches by fields (systemd's "unit failed"): the Python path's.
KNOWN_ID = "d9b373ed55a64feb8242e02dbe79a49c"
BASE: dict[str, str | bytes] = {"MESSAGE": "session opened", "SYSLOG_IDENTIFIER": "app", "_PID": "42"}

# Each rule of the lane and of the mapping, on an entry made for it: those the lane takes and
# those it leaves to the Python path.
CASES: list[tuple[dict[str, str | bytes], tuple[str, str] | None]] = [
    ({}, None),
    (BASE, None),
    ({**BASE, "MESSAGE": 'quotes " and \\ and \x01 and \t and é ✓ 😀 and \x7f'}, None),
    ({**BASE, "MESSAGE": ""}, None),
    ({"SYSLOG_IDENTIFIER": "no message", "_PID": "1"}, None),
    ({**BASE, "_HOSTNAME": ""}, None),
    ({**BASE, "SYSLOG_IDENTIFIER": "", "_COMM": "comm-name"}, None),
    ({**BASE, "SYSLOG_IDENTIFIER": "", "_COMM": ""}, None),
    ({**BASE, "SYSLOG_IDENTIFIER": "ident", "_COMM": "comm-kept-in-custom"}, None),
    ({**BASE, "SYSLOG_PID": "0123", "_PID": "9"}, None),
    ({**BASE, "SYSLOG_PID": "12a", "_PID": "9"}, None),
    ({**BASE, "SYSLOG_PID": "", "_PID": "1234567890123456789"}, None),
    ({**BASE, "_PID": "999999999999999999"}, None),
    ({**BASE, "PRIORITY": "6", "SYSLOG_FACILITY": "3"}, None),
    ({**BASE, "PRIORITY": "0", "SYSLOG_FACILITY": "23"}, None),
    ({**BASE, "PRIORITY": "7"}, None),
    ({**BASE, "SYSLOG_FACILITY": "10"}, None),
    ({**BASE, "PRIORITY": "06"}, None),
    ({**BASE, "PRIORITY": "8"}, None),
    ({**BASE, "PRIORITY": ""}, None),
    ({**BASE, "SYSLOG_FACILITY": "24"}, None),
    ({**BASE, "SYSLOG_FACILITY": "03"}, None),
    ({**BASE, "_SOURCE_REALTIME_TIMESTAMP": "1504104946123456"}, None),
    ({**BASE, "_SOURCE_REALTIME_TIMESTAMP": "15041049461234x6"}, None),
    ({**BASE, "_SOURCE_REALTIME_TIMESTAMP": "253402300800000000"}, None),
    ({**BASE, "_SOURCE_REALTIME_TIMESTAMP": "1234567"}, None),
    ({**BASE, "UNIT": "gdm.service", "_SYSTEMD_UNIT": "init.scope", "USER_UNIT": "", "_SYSTEMD_USER_UNIT": "u.service"}, None),
    ({**BASE, "INVOCATION_ID": "", "USER_INVOCATION_ID": "", "_SYSTEMD_INVOCATION_ID": "e7cb", "_SYSTEMD_SLICE": "s",
      "_TRANSPORT": "journal"}, None),
    ({**BASE, "_SYSTEMD_SLICE": "", "_TRANSPORT": ""}, None),
    ({**BASE, "MESSAGE_ID": "0123456789abcdef0123456789abcdef"}, None),
    ({**BASE, "MESSAGE_ID": KNOWN_ID}, None),
    ({**BASE, "MESSAGE_ID": KNOWN_ID, "MESSAGE": ""}, None),
    ({**BASE, "MESSAGE_ID": ""}, None),
    ({**BASE, "UNIT_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "71", "COMMAND": "start"}, None),
    ({**BASE, "UNIT_RESULT": "", "EXIT_CODE": "", "EXIT_STATUS": "n/a", "COMMAND": "", "CODE_FUNC": ""}, None),
    ({**BASE, "CODE_FUNC": "unit_log_failure", "CODE_FILE": "src/core/unit.c", "CODE_LINE": "5624"}, None),
    ({**BASE, "JOB_TYPE": "start", "JOB_RESULT": "failed", "JOB_ID": "157"}, None),
    ({**BASE, "JOB_TYPE": "", "JOB_RESULT": "", "JOB_ID": ""}, None),
    ({**BASE, "JOB_ID": "88"}, None),
    ({**BASE, "EXIT_STATUS": "0"}, None),
    ({**BASE, "MESSAGE": b"\xff not UTF-8"}, None),
    ({**BASE, "CUSTOM_BINARY": b"\x00\x01\xfe"}, None),
    ({**BASE, "CUSTOM_SURROGATE": b"\xed\xa0\x80"}, None),
    ({**BASE, "CUSTOM_TEXT": "é ✓"}, None),
    (BASE, ("CUSTOM_TWICE", "second")),
    (BASE, ("MESSAGE", "second message")),
    ({**BASE, "A_VERY_LONG_FIELD_NAME_OF_SIXTY_FOUR_CHARACTERS_AAAAAAAAAAAAAAAAA": "x",
      "ANOTHER_NAME_LONGER_THAN_THE_LONGEST_KNOWN": "y"}, None),
    ({**BASE, **{f"F{i}": str(i) for i in range(200)}}, None),  # more fields than the lane holds
    ({**BASE, **{f"F{i}": str(i) for i in range(150)}}, None),
    ({"MESSAGE": "to=<root@example.com>, delay=00:00:01, stat=Sent (ok)", "SYSLOG_IDENTIFIER": SENDMAIL,
      "SYSLOG_PID": "1234"}, None),
    ({"MESSAGE": "v7QEi1aF012345: to=<root@example.com>, ctladdr=<a@b> (0/0), delay=00:00:01, mailer=local, "
                 "stat=Sent", "SYSLOG_IDENTIFIER": SENDMAIL, "SYSLOG_PID": "1234"}, None),
    ({"MESSAGE": "daemon MTA: problem creating SMTP socket", "SYSLOG_IDENTIFIER": SENDMAIL, "SYSLOG_PID": "71"}, None),
    ({"MESSAGE": "SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use",
      "SYSLOG_IDENTIFIER": SENDMAIL, "SYSLOG_PID": "71"}, None),
    ({"MESSAGE": "sendmail.service: Main process exited, code=exited, status=71/n/a", "SYSLOG_IDENTIFIER": "systemd",
      "_PID": "1", "UNIT": "sendmail.service"}, None),
    ({"MESSAGE": "sendmail.service: Failed with result 'exit-code'.", "SYSLOG_IDENTIFIER": "systemd", "_PID": "1",
      "UNIT": "sendmail.service", "MESSAGE_ID": KNOWN_ID, "UNIT_RESULT": "exit-code"}, None),
    ({"MESSAGE": "bootstrap check failure [1] of [1]: max virtual memory areas vm.max_map_count [65530] is too low",
      "SYSLOG_IDENTIFIER": "elasticsearch", "_PID": "900"}, None),
    # Last: a pasted `systemctl status` opens a context, and the entries after it go through the
    # Python stages (in pieces cut by `cut_entries`) until it ages.
    ({"MESSAGE": "● sendmail.service - Sendmail Mail Transport Agent", "SYSLOG_IDENTIFIER": "app"}, None),
    ({"MESSAGE": "   Main PID: 1234 (code=exited, status=71)", "SYSLOG_IDENTIFIER": "app"}, None),
    (BASE, None),
]


@needs_lane
def test_each_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each case three times, in a run of ordinary entries: the same second (ids counted), then
    # the next seconds.
    entries = [entry(BASE, 0)]
    for n, (fields, twice) in enumerate(CASES):
        entries += [entry(fields, 1 + n // 2, twice) for _ in range(3)] + [entry(BASE, 1 + n // 2)]
    taken = same_with_and_without(monkeypatch, journal_of(tmp_path, entries), (5, 1000))
    assert taken > len(entries) // 2, f"the lane took {taken} of {len(entries)} entries"
    with_store: dict[str, Encode] = {**ES_AND_NDJSON, "store": encode_rows}  # and the local store's rows
    assert same_with_and_without(monkeypatch, sorted((tmp_path / "journal").iterdir()), (1000,), with_store) == taken


POOL = ["MESSAGE", "SYSLOG_IDENTIFIER", "_COMM", "SYSLOG_PID", "_PID", "_HOSTNAME", "PRIORITY", "SYSLOG_FACILITY",
        "UNIT", "_SYSTEMD_UNIT", "USER_UNIT", "_SYSTEMD_INVOCATION_ID", "_TRANSPORT", "MESSAGE_ID", "EXIT_STATUS",
        "JOB_ID", "CODE_FUNC", "_SOURCE_REALTIME_TIMESTAMP", "CODE_FILE", "TID", "_UID", "OTHER"]
VALUES: list[str | bytes] = ["", "0", "3", "7", "23", "123", "0123", "x", "sendmail", "init.scope", "1504104947123456",
                             KNOWN_ID, "to=<a@b>, stat=Sent", "SYSERR(root): cannot bind", 'é "q" \\', b"\xff"]


def random_entries(rng: random.Random, n: int) -> list[bytes]:
    out = []
    for i in range(n):
        fields = {key: rng.choice(VALUES) if rng.random() < 0.2 else rng.choice(VALUES[:12])
                  for key in rng.sample(POOL, rng.randint(0, len(POOL)))}
        out.append(entry(fields, i // 7, ("OTHER", "again") if rng.random() < 0.05 and "OTHER" in fields else None))
    return out


@needs_lane
def test_random_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = random_entries(random.Random(20261127), 1500)
    taken = same_with_and_without(monkeypatch, journal_of(tmp_path, entries), (211, 1500))
    # (a fifth: many random entries name a unit but no process, which the lane leaves to Python: a unit's
    # process is read from the signature files, `UnitMap.process`; real entries name their process)
    assert taken > len(entries) // 5, f"the lane took {taken} of {len(entries)} entries"


@needs_lane
def test_packed_bytes_that_are_no_entries_are_refused() -> None:
    """The C functions read only bytes `_journalread.pack` wrote, but check every length."""
    plan = express_plans._plan(Recognise(), (), b"")
    routes = express.routes(ES_AND_NDJSON)
    assert routes is not None
    field = b"MESSAGE=x"
    good = (4 + len(field)).to_bytes(4, "little") + len(field).to_bytes(4, "little") + field
    assert _express.cut_entries(good, 0, 5) == len(good)
    assert plan.journal_scan(good, 0, 5, routes) == len(good)  # no stamp: the Python path's
    for bad in (good[:-1], good[:3], b"\xff\xff\xff\x7f" + good[4:], good[:4] + b"\xff\x00\x00\x00" + good[8:],
                good[:8] + b"MESSAGEx"):
        with pytest.raises(ValueError):
            plan.journal_scan(bad, 0, 5, routes)
        with pytest.raises(ValueError):
            plan.journal(bad, 0, IdAssigner().live(), [[], []], routes)
    with pytest.raises(ValueError, match="start"):
        plan.journal_scan(good, len(good) + 1, 5, routes)
    bare = _express.Plan((), (), (), (), (), b"")
    with pytest.raises(ValueError, match="journal"):
        bare.journal(good, 0, IdAssigner().live(), [[], []], routes)


def test_the_lane_serves_journal_parsers_into_bulk_items_ndjson_lines_and_store_rows_only() -> None:
    ctx = ParseContext(timezone="UTC")
    journal = make_parser(Origin("j", "journal"), ctx)
    recognise = Recognise()
    make = lambda parser, encoders: JournalLane.make(parser, IdAssigner(), recognise, encoders, 256)  # noqa: E731
    assert (make(journal, ES_AND_NDJSON) is not None) is express.NATIVE
    assert (make(journal, {"store": encode_rows}) is not None) is express.NATIVE
    assert make(journal, {"store": encode_rows, "other": lambda docs: [b"" for _ in docs]}) is None
    assert make(make_parser(Origin("t", "syslog", path="/x"), ctx), ES_AND_NDJSON) is None
    worker = Worker(Setup(ctx, Window(since="2017-01-01T00:00:00.000000Z"), ES_AND_NDJSON))
    segment = Segment(("/x.journal",), None, None, None, 0)
    assert worker._lane(Job(0, 0, Origin("j", "journal"), segment), journal, IdAssigner()) is None  # a time window


@needs_lane
def test_the_lane_leaks_nothing(tmp_path: Path) -> None:
    """The same packed entries through the lane many times: what Python allocates (the items, the
    ids counted, the C buffers: all through Python's allocator) does not grow."""
    from shipper.sources.journal_entries import journal_module, native_reader

    path = journal_of(tmp_path, [entry({**fields, "MESSAGE": f"entry {n}"}, n) for n, (fields, _) in enumerate(CASES[:40])])
    reader = journal_module()._Reader(0, None, [str(p) for p in path])
    packed, count, *_ = native_reader().pack(reader, 1000)
    reader.close()
    plan = express_plans._plan(Recognise(), (), b"")
    routes = express.routes({**ES_AND_NDJSON, "store": encode_rows})  # the store's rows too
    assert routes is not None

    def once() -> int:
        taken = 0
        pos = 0
        while pos < len(packed):
            pos = plan.journal_scan(packed, pos, 1000, routes)
            if pos < len(packed):
                outs: list[list[Any]] = [[], [], []]
                pos, n, *_ = plan.journal(packed, pos, IdAssigner(track=True).live(), outs, routes)
                assert len(outs[2]) == n
                taken += n
        return taken

    assert once() > count // 2
    grown = grown_after(once, 20, 200)
    assert grown < 20_000, f"{grown} bytes more after 200 rounds"
