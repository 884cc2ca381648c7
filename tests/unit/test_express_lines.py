"""The express lane (shipper/parallel/_express_lines.c) gives what the Python stages give, byte
for byte.

Each case runs a worker over the same text twice, with and without the C paths, in blocks small
enough that block and chunk boundaries fall everywhere, and compares every result: the items of
each sink, the documents left for linking, the counts, and the state handed to the next block
(parser, ids, recogniser). The inputs are the real corpus, lines built to hit each rule of the
lane (`examine` in the C file), and random lines. A check of how many lines the C paths took
keeps these tests from passing on a lane that takes nothing.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import replace
from typing import Any

import orjson
import pytest

from shipper.enrich.recognise import Recognise
from shipper.ids import IdAssigner
from shipper.parallel import express, work
from shipper.parallel.express import Express
from shipper.parallel.replay import _warm, _without_ids
from shipper.parallel.work import Done, Job, Setup, Worker
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.parse.syslog import SyslogParser
from shipper.pipeline import Window
from shipper.sinks.base import Encode
from shipper.sinks.bulk import Encoder
from shipper.sinks.rows import encode_rows
from shipper.sinks.ndjson import encode_lines
from shipper.sources.base import Origin
from shipper.sources.files import TextBlock
from shipper.sources.lines import iter_raw_blocks
from tests.helpers.express import ES_AND_NDJSON, corpus_text, needs_lane
from tests.helpers.memory import grown_after

_express = express._express  # None where it is not built (the tests that use it are skipped)


def test_the_lane_is_built_here() -> None:
    """setup.py builds it as optional: without this test a failed compile would only make replays
    slower, silently."""
    assert express.NATIVE


class Run:
    """A worker doing every block of a text in order, as one worker of a replay would."""

    def __init__(self, lane: bool, monkeypatch: pytest.MonkeyPatch, encoders: dict[str, Encode], warm: bool = False) -> None:
        self.taken = 0
        self.lane = lane
        self.warm = warm  # each job warms up on the previous block's end, as in a replay
        self.encoders = encoders
        self.monkeypatch = monkeypatch

    def __call__(self, data: bytes, block_size: int, ctx: ParseContext, origin: Origin) -> list[Any]:
        """Each job's result, taken as soon as it is done (a later job may change the documents
        that an earlier result's state holds: the held record it restores)."""
        with self.monkeypatch.context() as patch:
            if not self.lane:  # the Python stages alone
                patch.setattr(work.Express, "make", classmethod(lambda cls, *args: None))
                patch.setattr(work.Tail, "make", classmethod(lambda cls, *args: None))
            grow = work.Part.grow

            def counted(part: work.Part, count: int) -> None:
                self.taken += count
                grow(part, count)

            patch.setattr(work.Part, "grow", counted)
            worker = Worker(Setup(ctx, Window(), self.encoders))
            blocks = [TextBlock(raw, 0, False) for raw in iter_raw_blocks(io.BytesIO(data).read, 4096, block_size)]
            results: list[Any] = []
            init = None
            for n, block in enumerate(blocks):
                last = n == len(blocks) - 1
                job = Job(n, 0, origin, block, 4096, init=init, exact=True, first=n == 0, last=last, final=last)
                if self.warm and n:
                    job = replace(job, warm=_warm(blocks[n - 1]), init=_without_ids(init), exact=False)
                done = worker.run(job)
                results += _results([done])
                init = done.end
            return results


def _results(done: list[Done]) -> list[Any]:
    """Everything a job's result holds, in a comparable form (bytes items, documents, states)."""
    out: list[Any] = []
    for d in done:
        parts = [(p.items, [(i, orjson.dumps(doc)) for i, doc in p.pending], p.unparsed, p.size) for p in d.parts]
        out.append((parts, d.read, repr(d.start), repr(d.end), repr(d.ids_block)))
    return out


def same_with_and_without(
    monkeypatch: pytest.MonkeyPatch, data: bytes, block_sizes: tuple[int, ...] = (300, 4096, 1 << 20),
    ctx: ParseContext = ParseContext(timezone="Europe/Berlin", year=2017),
    origin: Origin = Origin("t", "syslog", path="/var/log/messages"),
    encoders: dict[str, Encode] = ES_AND_NDJSON,
    warm: bool = False,
) -> int:
    """Compare both paths for each block size; the lines the lane took (at the largest size).
    ``warm``: each job starts as in a replay, from a warm-up on the end of the previous block
    (which the lane reads too), so the states it rebuilds are compared as well."""
    taken = 0
    for size in block_sizes:
        lane = Run(True, monkeypatch, encoders, warm)
        got = lane(data, size, ctx, origin)
        expected = Run(False, monkeypatch, encoders, warm)(data, size, ctx, origin)
        assert got == expected, f"block size {size}"
        taken = lane.taken
    return taken


@needs_lane
def test_the_real_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = corpus_text().count(b"\n")
    taken = same_with_and_without(monkeypatch, corpus_text())
    assert taken > lines // 2, f"the lane took {taken} of {lines} lines"


@needs_lane
def test_seconds_that_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twins whose second comes back after others, while it is kept and after it was pushed out
    (`IdAssigner`): the lane counts them as the Python stages do, also from the states that warm-ups
    and blocks rebuild."""
    rng = random.Random(7)
    lines, now = [], 0
    for _ in range(3000):
        now += rng.choice([0, 1, 1, 2])
        back = rng.choice([0, 0, 0, 1, 5, 40])
        second = max(now - back, 0)
        lines.append(f"Jan  1 {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d} host app[1]: {rng.choice('AB')}")
    data = ("\n".join(lines) + "\n").encode()
    assert same_with_and_without(monkeypatch, data, (300, 4096, 1 << 20)) > 2900
    assert same_with_and_without(monkeypatch, data, (300, 4096), warm=True) > 2900


@needs_lane
@pytest.mark.parametrize("year, mtime", [(None, None), (None, 1_700_000_000.0), (2024, None)])
def test_years_inferred_and_rolled_over(monkeypatch: pytest.MonkeyPatch, year: int | None, mtime: float | None) -> None:
    """New minutes, a new year (Dec -> Jan), a late December line after it, an impossible date."""
    lines = []
    for month, day in (("Nov", 30), ("Dec", 31), ("Jan", 1), ("Dec", 31), ("Jan", 2), ("Feb", 29), ("Feb", 30)):
        for minute in range(3):
            for sec in (0, 0, 59):
                lines.append(f"{month} {day:2d} 23:{minute:02d}:{sec:02d} host app[1]: tick {minute}")
    data = ("\n".join(lines) + "\n").encode()
    origin = Origin("t", "syslog", path="/var/log/messages", mtime=mtime)
    taken = same_with_and_without(monkeypatch, data, (200, 1 << 20), ParseContext("America/New_York", year), origin)
    assert taken > len(lines) // 2


EDGES = """\
Jan  1 00:00:00 host sshd[007]: a pid with leading zeros
Jan  1 00:00:00 host sshd[1234567890]: ten digits
Jan  1 00:00:00 host sshd[12345678901]: eleven digits
Jan  1 00:00:00 host abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv: a tag of 48
Jan  1 00:00:00 host abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvw: a tag of 49
Jan  1 00:00:00 host: tag: the host ends with a colon
Jan  1 00:00:00 hôst-ünïcode tag: a non-ASCII host
Jan  1 00:00:00 host tâg: a non-ASCII tag
Jan  1 00:00:00 host tag: "quotes" \\ a backslash \x01 \x1f controls \x7f del \t tab é ü 漢字 \U0001f600
Jan  1 00:00:00 host tag: 
Jan  1 00:00:00 host tag:no space
Jan  1 00:00:00 host tag[12]:no space
Jan  1 00:00:00 host tag[12] no colon
Jan  1 00:00:00 host tag[x]: not a pid
Jan  1 00:00:00 host tag]: a bracket
Jan  1 00:00:00 <host tag: a host starting with <
Jan  1 00:00:00  host tag: two spaces
Jan 32 00:00:00 host tag: day 32
Jan  1 00:00:61 host tag: second 61
Jan  1 00:00:60 host tag: second 60
Jan  1 00:00:00 host tag: the same line thrice
Jan  1 00:00:00 host tag: the same line thrice
Jan  1 00:00:00 host tag: the same line thrice
Jan  1 00:00:01 host tag: the same line thrice
Jan  1 00:00:01 host app[1]: a record continued
\tby a tab
Jan  1 00:00:01 host app[1]: a record continued
  by spaces
Jan  1 00:00:01 host app[1]: a record continued
-- by a dash line
Jan  1 00:00:01 host app[1]: a record continued
░ by catalog text
Jan  1 00:00:01 host app[1]: a record continued
 abcdefgh:abc12 by a line shaped like a stamp (":" at 9, seconds at 13, " " at 15)
Jan  1 00:00:01 host app[1]: followed by an empty line

Jan  1 00:00:02 mail sendmail[1]: r5I9YcUV004201: from=<a@b.c>, size=1, class=0, nrcpts=1, msgid=<x@y>, proto=ESMTP, daemon=MTA, relay=localhost [127.0.0.1]
Jan  1 00:00:02 mail sendmail[1]: r5I9YcUV004201: to=<a@b>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=1, relay=x. [1.2.3.4], dsn=2.0.0, stat=Sent (ok, id=1)
Jan  1 00:00:02 mail sm-mta[2]: r5I9YcUV004201: to=<a>, stat=Deferred: 421 4.4.2, Connection timed out, mailer=esmtp, relay=a, b
Jan  1 00:00:02 mail sm-mta[2]: r5I9YcUV004201: dsn, stat=Sent
Jan  1 00:00:02 mail sm-mta[2]: r5I9YcUV004201: to=a, from=b, to=c, to=, , to=d,e
Jan  1 00:00:02 mail sendmail[3]: starting daemon (8.14.4): SMTP+queueing@01:00:00
Jan  1 00:00:02 mail sendmail[3]: NOQUEUE: connect from localhost [127.0.0.1]
Jan  1 00:00:02 mail sendmail[3]: ab: short, to=x
Jan  1 00:00:02 mail sendmail[3]: r5I9YcUV0042012345678: long id, to=x
Jan  1 00:00:02 mail sendmail[3]: ré5I9Yc: a non-ASCII id, to=x
Jan  1 00:00:02 mail sendmail[3]: r5I9Y-cUV: not alphanumeric, to=x
Jan  1 00:00:02 mail sendmail[3]: no list at all
Jan  1 00:00:02 mail sendmail[3]: r5I9YcUV004201: =, to==x, from=<é>, relay=[\x01]
Jan  1 00:00:02 mail sendmail: r5I9YcUV004201: no pid, stat=ok
Jan  1 00:00:02 mail sendmail[3]: 
Jan  1 00:00:03 mail sendmail[3]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use
Jan  1 00:00:03 mail systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a
Jan  1 00:00:03 mail systemd[1]: sendmail.service: Failed with result 'exit-code'.
Jan  1 00:00:03 mail systemd[1]: Started Session 1 of user root.
Jan  1 00:00:04 mail kernel: a socket word passes a gate
2017-01-01T00:00:07.123456+01:00 host app[6]: an ISO line
<13>1 2017-01-01T00:00:08Z host app 7 - - an RFC 5424 line
not a syslog line at all
Jan  1 00:00:09 host app[8]: the last line
"""

# A `systemctl status` block opens a recognition context for the lines after it.
STATUS = """\
Jan  1 00:00:05 mail systemd[1]: Stopping sendmail.service...
● sendmail.service - LSB: powerful, efficient, and scalable Mail Transport Agent
   Loaded: loaded (/etc/init.d/sendmail; generated)
   Active: failed (Result: exit-code) since Mon 2017-01-02 00:00:05 CET; 1min ago
Jan  1 00:00:06 mail sendmail[4]: r5I9YcUV004201: to=<a@b>, stat=Sent
Jan  1 00:00:06 mail app[5]: a line in the context's stream
"""


@needs_lane
def test_each_rule_of_the_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    head = b"Jan  1 00:00:09 host app[9]: "
    data = EDGES.encode() + head + b"invalid \xff\xfe utf-8\n" + head + b"x" * 5000 + b"\n"
    data += head + b"a surrogate \xed\xa0\x80\n" + head + "valid é 漢字\n".encode() + head + b"crlf\r\n" + head + b"crlf\r\n"
    data += b"".join(head + b"x" * (4096 - len(head) + d) + end + b"\n" for d in (-1, 0, 1) for end in (b"", b"\r"))
    data += EDGES.encode() + STATUS.encode() + EDGES.encode()
    taken = same_with_and_without(monkeypatch, data, (64, 300, 1 << 20), encoders={**ES_AND_NDJSON, "store": encode_rows})
    assert taken > 50


@needs_lane
def test_a_context_open_across_many_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a `systemctl status` context is open, every line goes through the Python stages."""
    body = [f"Jan  1 00:{m:02d}:{s:02d} mail app[5]: line {m} {s}" for m in range(10) for s in range(60)]
    status = STATUS.splitlines()
    data = "\n".join(body[:100] + status + body[100:] + status + body[:50]).encode() + b"\n"
    assert same_with_and_without(monkeypatch, data, (500, 1 << 20)) >= 95


@needs_lane
def test_warm_ups_rebuild_the_same_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that warms up on the previous block's end reads it with the lane too: the state it
    starts from (which the main process checks against the exact one), and so everything after,
    is the Python stages'."""
    body = [f"Jan  1 00:{m:02d}:{s:02d} mail app[5]: line {m} {s}" for m in range(10) for s in range(60)]
    status = STATUS.splitlines()
    held = "\n".join(body[:90] + status + body[100:] + status + body[:50]).encode() + b"\n"
    for data in (corpus_text(), held, EDGES.encode() + STATUS.encode() + EDGES.encode()):
        assert same_with_and_without(monkeypatch, data, (300, 4096), warm=True) > 10


@needs_lane
def test_store_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lane writes the local store's rows (`encode_rows`) as the Python stages make them, also
    beside other sinks; the rows of the lines it leaves (recognised, unparsed) are Python's."""
    with_store: dict[str, Encode] = {"store": encode_rows}
    lf = corpus_text().replace(b"\r\n", b"\n")  # loghub's lines end in CRLF, which the lane leaves to Python
    assert same_with_and_without(monkeypatch, lf, (300, 1 << 20), encoders=with_store) > 3000
    both: dict[str, Encode] = {**ES_AND_NDJSON, "store": encode_rows}
    head = b"Jan  1 00:00:09 host app[9]: "
    odd = head + "valid é 漢字 \"quoted\" \\ \x01\n".encode() + b"Jan  1 00:00:09 h\xc3\xa9 t: no pid\n"
    data = EDGES.encode() + odd + STATUS.encode() + odd
    assert same_with_and_without(monkeypatch, data, (64, 1 << 20), encoders=both, warm=True) > 10
    rng = random.Random(7)
    data = "\n".join(_random_line(rng) for _ in range(2000)).encode("utf-8", "surrogateescape") + b"\n"
    assert same_with_and_without(monkeypatch, data, (500, 1 << 20), encoders=both) > 200


@needs_lane
def test_rows_leak_nothing() -> None:
    """Every row and buffer `Plan.run` makes for a row form is released with its output lists."""
    parser = make_parser(Origin("t", "syslog", path="/x"), ParseContext(timezone="UTC", year=2024))
    assert isinstance(parser, SyslogParser)
    lane = Express.make(parser, IdAssigner(), Recognise(), {**ES_AND_NDJSON, "store": encode_rows}, 256)
    assert lane is not None
    data = b"".join(f"Jan  1 00:00:{s:02d} host app[{s + 1}]: line {s} é\n".encode() for s in range(60))
    parser.learn_minute("Jan  1 00:00:00")

    def once() -> int:
        outs: list[list[Any]] = [[], [], []]
        _, count, *_ = lane._plan.run(data, 0, len(data), 0, 4096, parser.minutes, IdAssigner().live(), outs)
        assert len(outs[2]) == count
        return count

    assert once() == 59  # not the last line: the lane cannot see whether a next line continues it
    grown = grown_after(once, 20, 200)
    assert grown < 20_000, f"{grown} bytes more after 200 rounds"


@needs_lane
def test_without_a_path_and_with_one_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = Origin("stdin", "syslog")
    one_sink: list[dict[str, Encode]] = [{"es": Encoder("prod")}, {"ndjson": encode_lines}]
    for encoders in one_sink:
        assert same_with_and_without(monkeypatch, corpus_text(), (1 << 20,), origin=stdin, encoders=encoders) > 1000


def _random_line(rng: random.Random) -> str:
    def pick(usual: list[str], odd: list[str] = []) -> str:  # noqa: B006 (never changed)
        return rng.choice(odd if odd and rng.random() < 0.15 else usual)

    head = f"{pick(['Jan', 'Feb', 'Dec'])} {rng.randint(1, 3):2d} 00:0{rng.randint(0, 2)}:{pick(['00', '01', '59'], ['60'])}"
    host = pick(["h", "db-1", "hé"], ["h:", "<x", "a b"])
    tag = pick(["sshd", "sendmail", "sm-mta", "systemd", "kernel", "t" * 48], ["t" * 49, "a:b", "ta[g", "漢"])
    pid = pick(["", "[1]", "[0042]"], ["[]", "[99999999999]", "[x]"])
    sep = pick([": "], [":", " "])
    words = ["to=<a>", "from=b", "stat=Sent", "dsn", "relay=x [1.2.3.4]", "r5I9YcUV004201:", "NOQUEUE:", "é", "\x01",
             '"', "\\", ",", ", ", "=", "starting daemon (8.14.4):", "Failed with result 'x'."]
    # Words that pass a recognition gate are rarer: some of them open a context for what follows.
    rare = ["socket", "SYSERR(root):", "process exited, code=exited", "bootstrap check", "● x"]
    msg = " ".join(pick(rare) if rng.random() < 0.002 else pick(words) for _ in range(rng.randint(0, 8)))
    line = f"{head} {host} {tag}{pid}{sep}{msg}"
    return pick([line], ["\tcontinued", " continued", "-- continued", "", "░ catalog", line[: rng.randint(0, len(line))]])


@needs_lane
@pytest.mark.parametrize("seed", range(6))
def test_random_lines(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    data = "\n".join(_random_line(rng) for _ in range(3000)).encode("utf-8", "surrogateescape") + b"\n"
    assert same_with_and_without(monkeypatch, data, (500, 1 << 20)) > 300


def test_the_lane_serves_bulk_items_ndjson_lines_and_store_rows_only() -> None:
    ctx = ParseContext(timezone="UTC")
    parser = make_parser(Origin("t", "syslog", path="/x"), ctx)
    recognise = Recognise()
    make = lambda encoders: Express.make(parser, IdAssigner(), recognise, encoders, 256)  # noqa: E731
    assert (make({"es": Encoder("default")}) is not None) is express.NATIVE
    assert (make({"es": Encoder("default"), "ndjson": encode_lines}) is not None) is express.NATIVE
    assert (make({"store": encode_rows}) is not None) is express.NATIVE
    assert (make({"es": Encoder("default"), "store": encode_rows}) is not None) is express.NATIVE
    assert make({"es": Encoder("default"), "other": lambda docs: [b"" for _ in docs]}) is None
    es_log = make_parser(Origin("t", "elasticsearch", path="/x"), ctx)
    assert Express.make(es_log, IdAssigner(), recognise, {"es": Encoder("default")}, 256) is None
    worker = Worker(Setup(ctx, Window(since="2017-01-01T00:00:00.000000Z"), {"es": Encoder("default")}))
    block = TextBlock(next(iter_raw_blocks(io.BytesIO(b"x\n").read, 4096, 4096)), 0, False)
    assert worker._lane(Job(0, 0, Origin("t", "syslog", path="/x"), block), parser, IdAssigner()) is None  # a time window: the Python stages


@needs_lane
def test_blake2b_and_json_strings_as_hashlib_and_orjson_give_them() -> None:
    from shipper.parallel import _express

    rng = random.Random(7)
    for n in [*range(300), 1000, 4096, 100_000]:
        data = rng.randbytes(n)
        assert _express.digest(data) == hashlib.blake2b(data, digest_size=16).hexdigest(), n
    chars = [*map(chr, range(0x80)), "é", "\u2028", "\ufeff", "漢", "\U0001f600"]
    for _ in range(3000):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 30)))
        assert _express.json_str(text.encode()) == orjson.dumps(text)


@needs_lane
def test_no_line_that_passes_a_gate_or_a_prefilter_is_taken() -> None:
    """A gate or a prefilter only sends a line to the matcher: most such lines match nothing, so
    comparing outputs alone would not show a lane that misses one. Each is tried at the start, in
    the middle and at the end of a message."""
    ctx = ParseContext(timezone="UTC", year=2017)
    parser = make_parser(Origin("t", "syslog", path="/x"), ctx)
    assert isinstance(parser, SyslogParser)
    recognise = Recognise()
    lane = Express.make(parser, IdAssigner(), recognise, {"es": Encoder("default")}, 256)
    assert lane is not None
    plan = lane._plan
    stamp = "Jan  1 00:00:00 host"
    parser.learn_minute(stamp)

    def taken(line: str) -> bool:
        return _scan(plan, f"{line}\n{stamp}".encode(), parser.minutes) == (0, 0)

    texts = [(gate, "app[1]") for gate, _ in recognise.matcher.gates]
    texts += [(t, f"{name}[1]") for name, (filters, _) in recognise.matcher.proc_filters.items() for t in filters]
    assert len(texts) > 10
    for text, tag in texts:
        assert taken(f"{stamp} {tag}: nothing to see")
        for message in (text, f"x {text} y", f"x {text}"):
            assert not taken(f"{stamp} {tag}: {message}"), message


def _scan(plan: _express.Plan, data: bytes, minutes: dict[str, str], cap: int = 4096) -> tuple[int, int]:
    """Where the first line the lane takes starts in ``data`` read as one region, and how many
    lines come before it."""
    return plan.scan(data, 0, len(data) + 1, cap, minutes, 100)


@needs_lane
@pytest.mark.parametrize("gates", [(b"xy",), (b"q",), (b"\xe2\x97\x8f ", b"zz")])
def test_short_gates_anywhere_in_the_message(gates: tuple[bytes, ...]) -> None:
    plan = _express.Plan(gates, (), (), (), ((None, b"{"),), b'"log":{"offset":')
    minutes = {"Jan  1 00:00": "2017-01-01T00:00:"}
    plain = b"Jan  1 00:00:00 h t: x\n"
    for gate in gates:
        for message in (gate, b"a" + gate, b"a " + gate + b" b", b"-" * 200 + gate):
            data = b"Jan  1 00:00:00 h t: " + message + b"\n" + plain[:-1]
            assert _scan(plan, data, minutes) == (len(data) + 1, 2), message  # the last line is never taken
    assert _scan(plan, plain + plain, minutes) == (0, 0)


@needs_lane
def test_a_line_the_source_would_tag_or_join_is_left_to_python() -> None:
    """The lane reads the block's bytes: what the source would tag (a line over the cap, a "\r"
    before the "\n", bytes that are not UTF-8), a line continued by the next one, and the last
    line of the region are the Python stages'. The comparisons of whole replays above show the
    same; this shows that the lane does take what is close to each rule."""
    plan = _express.Plan((), (), (), (), ((None, b"{"),), b'"log":{"offset":')
    minutes = {"Jan  1 00:00": "2017-01-01T00:00:"}
    head = b"Jan  1 00:00:00 h t: "
    plain = head + b"x\n"

    def taken(line: bytes, after: bytes = plain, cap: int = 4096) -> bool:
        return _scan(plan, line + b"\n" + after, minutes, cap) == (0, 0)

    assert taken(plain[:-1]) and _scan(plan, plain[:-1], minutes) == (len(plain), 1)  # the block's last line
    assert taken(head + b"x" * (100 - len(head)), cap=100) and not taken(head + b"x" * (101 - len(head)), cap=100)
    assert taken(head + b"a\rb") and not taken(head + b"crlf\r")
    assert taken(head + "é 漢字 \U0001f600".encode()) and taken(head + b"nul \x00 byte")
    assert not taken(head + b"\xff\xfe") and not taken(head + b"\xed\xa0\x80 a surrogate") and not taken(head + b"cut \xe2\x96")
    for continuation in (b"\tx", b" x", b"-- x", "░ x".encode()):
        assert not taken(plain[:-1], continuation + b"\n" + plain)
    assert taken(plain[:-1], b"\xe2\x96\x92 not the catalog mark\n" + plain)
    data = plain * 5
    size = len(plain)
    assert plan.scan(data, 2 * size, 3 * size, 4096, minutes, 100) == (3 * size, 1)  # the region's last line
    assert plan.scan(data, 0, len(data) + 1, 4096, minutes, 3) == (0, 0)
    assert _express.cut(data, 0, 3) == (3 * len(plain), 3) and _express.cut(data, 0, 9) == (len(data) + 1, 6)
    assert _express.cut(b"", 0, 5) == (1, 1)
