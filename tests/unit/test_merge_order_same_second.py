"""One replay of several inputs links a cause and a failure of the same second as `relink` and
`causes` do, whatever the order of the inputs on the command line.

sendmail's SYSERR (maillog) and systemd's failure of sendmail.service (messages) at 14:56:07, real
lines of tests/data/seed/messages-sendmail.log in two files. Given ``messages maillog``, a merge
by time that breaks ties by input order read the failure first: it opened an incident of its own,
and the SYSERR of that second another. Real replays through the CLI, with 0 and 2 workers, into
NDJSON and into a real SQLite store, then `shipper causes --store`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shipper.enrich.relink import relink
from shipper.pipeline import BATCH_SIZE, MOMENT_MAX, merged
from shipper.report.causes import build_incidents, to_json
from shipper.sinks.local import LocalStore
from tests.helpers.cli import shipper_out
from tests.helpers.samples import SEED

MOMENT = "2017-08-30T14:56:07.000000Z"
# maillog's lines before the moment (5) and as many of messages as put the end of the first batch
# of ``messages maillog`` right after the failure's 3 lines, before the SYSERR's 2.
FILLER = BATCH_SIZE - 5 - 3


def same_second(tmp: Path, filler: int) -> tuple[Path, Path]:
    """maillog (sendmail's lines, the last two moved to 14:56:07) and messages (``filler`` lines
    of the kernel at 14:50:00, then systemd's failure at 14:56:07)."""
    lines = (SEED / "messages-sendmail.log").read_text().splitlines(keepends=True)
    maillog, messages = tmp / "maillog", tmp / "messages"
    maillog.write_text("".join(line.replace("14:56:02", "14:56:07") for line in lines if " sendmail[" in line))
    kernel = "".join(f"Aug 30 14:50:00 gorp kernel: eth0: link check {i}\n" for i in range(filler))
    messages.write_text(kernel + "".join(line for line in lines if " systemd[1]: " in line))
    return maillog, messages


def replay(home: Path, inputs: list[Path], workers: int, *output: str) -> None:
    shipper_out(home, "replay", "--quiet", "--workers", str(workers), "--year", "2017", "--timezone", "UTC",
                *output, *map(str, inputs))


def links(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {d["event"]["id"]: d["rootcause"] for d in docs if "rootcause" in d}


def stored(db: Path) -> list[dict[str, Any]]:
    store = LocalStore(db, read_only=True)
    try:
        return list(store.iter_docs(only_recognised=True))
    finally:
        store.close()


@pytest.mark.parametrize("filler", [0, FILLER], ids=["one-batch", "second-across-batches"])
def test_either_order_and_any_workers_link_as_relink_and_causes(tmp_path: Path, filler: int) -> None:
    maillog, messages = same_second(tmp_path, filler)
    ndjson: dict[tuple[str, int], bytes] = {}
    for inputs in ([maillog, messages], [messages, maillog]):
        for workers in (0, 2):
            out = tmp_path / f"{inputs[0].name}-{workers}.ndjson"
            replay(tmp_path, inputs, workers, "--output", "ndjson", "-o", str(out))
            ndjson[inputs[0].name, workers] = out.read_bytes()
            replay(tmp_path, inputs, workers, "--store", str(tmp_path / f"{inputs[0].name}-{workers}.db"))
    for first in ("maillog", "messages"):
        assert ndjson[first, 0] == ndjson[first, 2]  # the workers change nothing, byte for byte
    found = {key: links([json.loads(line) for line in text.splitlines()]) for key, text in ndjson.items()}
    expected = found["maillog", 0]
    sendmail = {rc["incident"] for rc in expected.values() if rc.get("unit") == "sendmail.service"}
    assert len(sendmail) == 1, expected  # one incident: the SYSERRs and the failure
    (exited,) = [rc for rc in expected.values() if rc["signature"] == "systemd.process_exited"]
    assert exited["cause"]["signature"] == "sendmail.bind_address_in_use" and exited["cause"]["count"] == 3
    assert {key: value == expected for key, value in found.items()} == dict.fromkeys(found, True)
    for key in found:
        db = tmp_path / f"{key[0]}-{key[1]}.db"
        docs = stored(db)
        assert links(docs) == expected
        assert links(relink(stored(db))) == expected
        causes = json.loads(shipper_out(tmp_path, "causes", "--store", str(db), "--format", "json"))
        assert causes["incidents"] == json.loads(json.dumps(to_json(build_incidents(docs))["incidents"])), key


def _doc(stamp: str, n: int) -> dict[str, Any]:
    return {"@timestamp": stamp, "n": n}


def test_a_batch_of_several_inputs_ends_with_a_whole_second() -> None:
    first = [[_doc("2017-08-30T14:56:06.000000Z", i) for i in range(3)] + [_doc(MOMENT, 3), _doc(MOMENT, 4)]]
    second = [[_doc(MOMENT, 10), _doc(MOMENT, 11), _doc("2017-08-30T14:56:08.000000Z", 12)]]
    batches = [[d["n"] for d in batch] for batch in merged([iter(first), iter(second)], size=4)]
    assert batches == [[0, 1, 2, 3, 4, 10, 11], [12]]


def test_a_second_longer_than_a_batch_may_take_is_cut() -> None:
    one = [[_doc(MOMENT, i) for i in range(BATCH_SIZE + MOMENT_MAX + 5)]]
    other = [[_doc("2017-08-30T14:56:08.000000Z", -1)]]
    sizes = [len(batch) for batch in merged([iter(one), iter(other)])]
    assert sizes == [BATCH_SIZE + MOMENT_MAX, 6]
