"""`relink` links events of one @timestamp in an order of its own, not the order a store or a
search returns them in: the same documents in any order give the same links, and `causes` (the
local store) and `shipper relink` (Elasticsearch, where one backing index's documents come before
another's) agree. The case: sendmail's last SYSERR and systemd's failure of sendmail.service in the
same second, in two files (two inputs) replayed apart, in either order."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from shipper.enrich.relink import linking_order, relink
from shipper.sinks.local import LocalStore
from tests.fakees import FakeES
from tests.helpers.es import err, make_env, run_command
from tests.helpers.samples import SEED

SYSLOG = "logs-shipper.syslog-default"


def same_second(tmp: Path) -> tuple[Path, Path]:
    """sendmail's lines (the last two moved to 14:56:07) and systemd's (the failure, at 14:56:07)."""
    lines = (SEED / "messages-sendmail.log").read_text().splitlines(keepends=True)
    causes, failure = tmp / "maillog", tmp / "messages"
    causes.write_text("".join(line.replace("14:56:02", "14:56:07") for line in lines if " sendmail[" in line))
    failure.write_text("".join(line for line in lines if " systemd[1]: " in line))
    return causes, failure


def store_of(db: Path, *files: Path) -> Path:
    for path in files:  # each file a replay of its own
        env = make_env({"TZ": "UTC"})
        assert run_command("replay", ["--quiet", "--store", str(db), "--year", "2017", "--timezone", "UTC",
                                      str(path)], env) == 0, err(env)
    return db


def stored(db: Path) -> list[dict[str, Any]]:
    store = LocalStore(db, read_only=True)
    try:
        return list(store.iter_docs(only_recognised=True))
    finally:
        store.close()


def links(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {d["event"]["id"]: d["rootcause"] for d in docs}


def test_the_same_documents_in_any_order_link_alike(tmp_path: Path) -> None:
    causes, failure = same_second(tmp_path)
    docs = stored(store_of(tmp_path / "apart.db", failure, causes))
    moment = [d for d in docs if d["@timestamp"] == "2017-08-30T14:56:07.000000Z"]
    assert {d["rootcause"]["role"] for d in moment} == {"cause", "failure"}
    expected = links(relink(copy.deepcopy(docs)))
    rng = random.Random(7)
    for _ in range(20):
        shuffled = copy.deepcopy(docs)
        rng.shuffle(shuffled)
        assert links(relink(shuffled)) == expected
    (exited,) = [rc for rc in expected.values() if rc["signature"] == "systemd.process_exited"]
    assert exited["cause"]["signature"] == "sendmail.bind_address_in_use" and exited["cause"]["count"] == 3


def test_within_a_second_causes_come_before_failures_and_each_input_keeps_its_order(tmp_path: Path) -> None:
    causes, failure = same_second(tmp_path)
    docs = stored(store_of(tmp_path / "apart.db", failure, causes))
    moment = [(d["rootcause"]["role"], d["log"]["file"]["path"], d["log"]["offset"])
              for d in linking_order(reversed(docs)) if d["@timestamp"] == "2017-08-30T14:56:07.000000Z"]
    roles = [role for role, _, _ in moment]
    assert roles == sorted(roles, key=lambda r: r == "failure") and roles[-1] == "failure", moment
    for path in (str(causes), str(failure)):
        offsets = [offset for _, p, offset in moment if p == path]
        assert offsets == sorted(offsets), moment


@pytest.mark.parametrize("failure_first", [True, False])
def test_relink_in_elasticsearch_and_causes_of_the_store_agree(es: FakeES, tmp_path: Path, failure_first: bool) -> None:
    causes, failure = same_second(tmp_path)
    cfg = tmp_path / "operator.yml"
    cfg.write_text(f"state_dir: {tmp_path / 's'}\n")
    for path in ([failure, causes] if failure_first else [causes, failure]):
        env = make_env()
        assert run_command("replay", ["--quiet", "--output", "es", "--es-url", es.url, "--config", str(cfg), "--year",
                                      "2017", "--timezone", "UTC", str(path)], env) == 0, err(env)
    env = make_env()
    assert run_command("relink", ["--es-url", es.url, "--config", str(cfg)], env) == 0, err(env)
    in_es = {d["event"]["id"]: d["rootcause"] for d in es.docs(SYSLOG).values() if "rootcause" in d}
    # the store written in the other order
    db = store_of(tmp_path / "store.db", *([causes, failure] if failure_first else [failure, causes]))
    assert in_es == links(relink(stored(db)))
