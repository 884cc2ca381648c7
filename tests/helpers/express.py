"""What the tests of the express lane and the tail share (tests/unit/test_express_*.py)."""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from shipper.ids import TAG_APART
from shipper.parallel import express
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.sinks.base import Encode
from shipper.sinks.bulk import Encoder
from shipper.sinks.ndjson import encode_lines
from shipper.sources.open import open_inputs

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
ES_AND_NDJSON: dict[str, Encode] = {"es": Encoder("default"), "ndjson": encode_lines}

needs_lane = pytest.mark.skipif(not express.NATIVE, reason="shipper.parallel._express is not built")


@cache
def corpus_text() -> bytes:
    """The corpus's syslog files, one after the other: loghub's first (after a `systemctl status`
    block of the excerpts, a context stays open for the next 4096 lines, and the Python stages
    read them)."""
    parts = [CORPUS / "real" / "loghub" / name for name in ("Linux_2k.log", "Mac_2k.log", "OpenSSH_2k.log")]
    parts += sorted((CORPUS / "excerpts" / "sendmail").iterdir()) + sorted((CORPUS / "excerpts" / "systemd").iterdir())
    return b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in parts if p.is_file())


def journal_docs() -> list[dict[str, Any]]:
    """The corpus's Fedora journal (seven journal files; the failures as export and JSON dumps) as
    journal documents."""
    docs: list[dict[str, Any]] = []
    fedora = CORPUS / "derived" / "fedora37-no-rtc"
    for path in (CORPUS / "real" / "systemd" / "no-rtc", fedora / "failures.export", fedora / "failures.json"):
        (group,) = open_inputs([str(path)], fmt="auto", max_line_bytes=65536)
        for source in group.sources:
            parser = None
            for chunk in source.chunks():
                parser = parser or make_parser(chunk.origin, ParseContext(timezone="UTC"))
                docs += parser.parse(chunk)
            docs += parser.flush() if parser is not None else []
    for doc in docs:  # (this machine has no clock: its boots share seconds, and a replay marks the
        tags = doc.get("tags")  # entries of the later boots, which the tail leaves to Python:
        if tags and TAG_APART in tags:  # test_replay_boots_ids.py; here, documents of any host)
            tags.remove(TAG_APART)
            if not tags:
                del doc["tags"]
    return docs


def odd_doc(rng: random.Random, n: int) -> dict[str, Any]:
    """A document of the usual shape with, often, one odd part."""
    doc: dict[str, Any] = {
        "@timestamp": f"2024-01-01T00:00:0{rng.randint(0, 2)}.000000Z",
        "message": rng.choice(["plain text", "the same text", "é \x01 \"q\" \\", "", "socket", "to=<a>, stat=Sent"]),
        "event": {"dataset": rng.choice(["journald", "syslog", "journald"]), "kind": "event"},
        "host": {"name": rng.choice(["h1", "h2"])},
        "process": {"name": rng.choice(["app", "sendmail", "systemd"]), "pid": rng.choice([1, 42, "7"])},
        "log": {"syslog": {"priority": 30, "severity": {"code": 6, "name": "info"}}, "level": "info"},
        "journald": {"message_id": rng.choice(["0123", "d9b373ed55a64feb8242e02dbe79a49c"]), "custom": {"A": "b"}},
    }
    odd = rng.randrange(40)
    changes: list[Any] = [
        lambda: doc.update(value=1.5), lambda: doc.update(value=2**63), lambda: doc.update(value=-(2**63)),
        lambda: doc.update(value=[1, "a", None, True, False, (2, 3), {"k": []}]),
        lambda: doc.update(value=type("S", (str,), {})("sub")),
        lambda: doc.pop("host"), lambda: doc.update(host={}), lambda: doc.update(host={"name": None}),
        lambda: doc.pop("process"), lambda: doc.update(process=None), lambda: doc.update(process={}),
        lambda: doc["process"].update(pid=-3), lambda: doc["process"].update(pid=True), lambda: doc["process"].pop("pid"),
        lambda: doc.update(container={"name": "c1"}), lambda: doc.update(container={}), lambda: doc.update(tags=["x"]),
        lambda: doc.update(error={"message": "m"}),
        lambda: doc.update(error={"message": "bootstrap check failure [1] of [1]: max virtual memory areas "
                                             "vm.max_map_count [65530] is too low, increase to at least [262144]"}), lambda: doc["event"].update(id='gi"v\\en'), lambda: doc.pop("event"),
        lambda: doc["event"].update(dataset="other.thing"), lambda: doc["event"].pop("dataset"),
        lambda: doc.update(message=None), lambda: doc.pop("message"),
        lambda: doc.update(sendmail={"x": "y"}), lambda: doc.update(data_stream={}), lambda: doc.pop("journald"),
        lambda: doc.update(journald=None), lambda: doc.update(deep=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
        lambda: doc.update(twice=doc["event"]), lambda: doc.update({"@timestamp": "short"}),
        lambda: doc.update({"@timestamp": "2024-01-01T00:00:0é.000000Z"}),
        lambda: doc.update({k: doc.pop(k) for k in list(doc) if k != "message"}),  # the message first
        lambda: doc.update(message=doc.pop("message")),  # the message last
        lambda: [doc.pop(k) for k in list(doc) if k not in ("message", "@timestamp", "event")],  # nothing but those
    ]
    if odd < len(changes):
        changes[odd]()
    return doc
