"""`shipper relink` links the documents Filebeat (Elastic Agent) and Vector sent as it links shipper's
own documents of the same journal entries: same incidents, units, causes, dependencies and hints.

Each journal entry is stored twice, each time in a fake cluster of its own (tests/fakees, shipper's
templates set up): as shipper's recognition leaves it by itself (what the recognition pipeline
gives: tests/unit/test_pipeline_parity_corpus.py), and in another shipper's shape
(tests/helpers/other_shippers.py) after the recognition pipeline in the stand-in ingest node
(tests/helpers/ingest.py). Then `shipper relink` runs on each, twice (the second reads back what the
first wrote: a failure with a cause is recognised again).

Bug: relink read a stored document by shipper's field names only. Filebeat's ``systemd.unit`` /
``systemd.user_unit`` / ``systemd.invocation_id`` are the sender's (``init.scope`` for a service
manager), so the unit of a failure that only the journal fields name (``Failed to start Basic
System.``, ``Failed to mount /data.``) was ``init.scope`` when relink recognised it again, and the
dependency failure after it never named it; a unit's next run was joined to the incident of the
run before. A raw entry's host (``_HOSTNAME``) and PID (``_PID``) were not read, so a user
manager's failures got the system manager's commands (``journalctl -u``), and Vector's ``host``
string failed relink.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
from elasticsearch import Elasticsearch

from shipper.enrich.recognise import Recognise
from shipper.enrich.relink import relink
from shipper.event import Doc
from shipper.setup.recognition import FILES
from tests.helpers import ingest, other_shippers
from tests.helpers.es import err, make_env, out, run_command, set_up_es
from tests.helpers.samples import CORPUS, parse_journal

ROOT = Path(__file__).resolve().parents[2]
BODY = json.loads((ROOT / FILES[0]).read_text())
STREAM = "logs-shipper.journald-default"
# The real journals and exports of the corpus (the derived fedora37 files are these entries again).
JOURNALS = sorted((CORPUS / "real/systemd/no-rtc").iterdir()) + [CORPUS / "real/beats/journal1.export",
                                                                  CORPUS / "real/integrations/test.journal.export"]
SHAPES: dict[str, Callable[[dict[str, Any]], Doc]] = {
    "filebeat": other_shippers.filebeat,
    "filebeat 8.15, UNIT in journald.custom": partial(other_shippers.filebeat, old=True),
    "raw journal fields (Vector)": other_shippers.raw,
}
START_FAILED = "be02cf6855d2428ba40df7e9d022f03d"  # systemd's job-done MESSAGE_ID (JOB_RESULT= says how)
EXITED = "98e322203f7a4ed290d09fe03c09fe15"  # systemd's process-exited MESSAGE_ID
AT = 1730731623792000  # the Debian 11 documents' __REALTIME_TIMESTAMP (tests/data/corpus/real/integrations)
# The fields of the entries of the real Filebeat documents (test-syslog-debian11.json: a user
# manager; test-systemd-journald.json: the system manager), as test_pipeline_parity_fields has them.
HOST = {"_HOSTNAME": "bullseye", "_BOOT_ID": "9d65da94a1514b2caab5600711fa1844"}
USER_MANAGER = {"SYSLOG_IDENTIFIER": "systemd", "_COMM": "systemd", "_PID": "523",
                "_SYSTEMD_UNIT": "user@1000.service", "_SYSTEMD_USER_UNIT": "init.scope", **HOST}
SYSTEM_MANAGER = {"SYSLOG_IDENTIFIER": "systemd", "_COMM": "systemd", "_PID": "1", "_SYSTEMD_UNIT": "init.scope", **HOST}


def _at(seconds: float, **fields: str) -> dict[str, str]:
    return {"__REALTIME_TIMESTAMP": str(AT + int(seconds * 1_000_000)), **fields}


# Failures whose unit only the journal fields name (UNIT=, USER_UNIT=), each followed by the
# dependency failure it causes; and an Elasticsearch unit whose failure follows its cause.
NAMED_BY_FIELDS = [
    _at(0, MESSAGE="Failed to start Basic System.", MESSAGE_ID=START_FAILED, JOB_RESULT="failed",
        USER_UNIT="basic.target", USER_INVOCATION_ID="a9ff93353b5f4b2c800dd024a25b7fd8", **USER_MANAGER),
    _at(0.001, MESSAGE="Dependency failed for Main User Target.", MESSAGE_ID=START_FAILED,
        JOB_RESULT="dependency", USER_UNIT="default.target", **USER_MANAGER),
    _at(30, MESSAGE="Failed to mount /data.", MESSAGE_ID=START_FAILED, JOB_RESULT="failed", UNIT="data.mount",
        INVOCATION_ID="5faf05d629d64bad8d7fec0cabd61c24", **SYSTEM_MANAGER),
    _at(30.001, MESSAGE="Dependency failed for Local File Systems.", MESSAGE_ID=START_FAILED,
        JOB_RESULT="dependency", UNIT="local-fs.target", **SYSTEM_MANAGER),
    _at(60, MESSAGE="bootstrap check failure [1] of [1]: the default discovery settings are unsuitable for production "
                    "use; at least one of [discovery.seed_hosts, discovery.seed_providers, cluster.initial_master_nodes] "
                    "must be configured", SYSLOG_IDENTIFIER="systemd-entrypoint", _COMM="java", _PID="7102",
        _SYSTEMD_UNIT="elasticsearch.service", _SYSTEMD_INVOCATION_ID="77e0d6c5f4de4d78a0b0d7d3a29f78a2", **HOST),
    _at(61, MESSAGE="elasticsearch.service: Main process exited, code=exited, status=78/CONFIG", MESSAGE_ID=EXITED,
        UNIT="elasticsearch.service", INVOCATION_ID="77e0d6c5f4de4d78a0b0d7d3a29f78a2", **SYSTEM_MANAGER),
    _at(61.001, MESSAGE="Failed to start Elasticsearch.", MESSAGE_ID=START_FAILED, JOB_RESULT="failed",
        UNIT="elasticsearch.service", INVOCATION_ID="77e0d6c5f4de4d78a0b0d7d3a29f78a2", **SYSTEM_MANAGER),
    # its next run (INVOCATION_ID=, which Filebeat puts in journald.custom.invocation_id) fails alone
    _at(120, MESSAGE="elasticsearch.service: Main process exited, code=exited, status=1/FAILURE", MESSAGE_ID=EXITED,
        UNIT="elasticsearch.service", INVOCATION_ID="b3f78ac21c8e4d219386127bd1b1e304", **SYSTEM_MANAGER),
]


def _stored(entries: Iterable[dict[str, Any]],
            shape: Callable[[dict[str, Any]], Doc]) -> tuple[dict[str, Doc], dict[str, Doc]]:
    """The recognised entries, by shipper's event id: shipper's documents, and ``shape``'s after the
    recognition pipeline (which must recognise them alike)."""
    recognise = Recognise()
    ours: dict[str, Doc] = {}
    theirs: dict[str, Doc] = {}
    for entry in entries:
        (doc,) = parse_journal([entry])
        recognise.reset()
        (mine,) = recognise.enrich([doc])
        if "rootcause" not in mine or mine["event"]["id"] in ours:
            continue
        sent = ingest.run(BODY, shape(entry))
        assert ingest.failure(sent) is None and sent.get("rootcause") == mine["rootcause"], (mine, sent)
        ours[mine["event"]["id"]] = mine
        theirs[mine["event"]["id"]] = {**sent, "@timestamp": mine["@timestamp"]}
    return ours, theirs


def _relinked(docs: dict[str, Doc], tmp: Path) -> dict[str, Doc]:
    """``docs`` stored in a fake cluster, after `shipper relink` twice: the second changes nothing."""
    config = tmp / "relink.yml"
    config.write_text(f"state_dir: {tmp / 'state'}\n")
    with set_up_es("9.1.0") as fake:
        client = Elasticsearch(fake.url)
        body = client.bulk(operations=[line for doc_id, doc in docs.items()
                                       for line in ({"create": {"_index": STREAM, "_id": doc_id}}, doc)]).body
        assert not body["errors"], [i for i in body["items"] if i["create"].get("error")][:3]
        client.close()
        for _ in range(2):
            env = make_env()
            assert run_command("relink", ["--es-url", fake.url, "--config", str(config)], env) == 0, err(env)
        assert f"{len(docs):,} recognised events read; 0 documents updated" in out(env), out(env)
        stored: dict[str, Doc] = fake.docs(STREAM)
        return stored


def _linked(docs: dict[str, Doc]) -> dict[str, dict[str, Any]]:
    """Each document's rootcause, the incident as the ids of its documents (an incident's id is
    made of its first document's: Filebeat sends no event id)."""
    members: dict[str, list[str]] = {}
    for doc_id, doc in docs.items():
        if "incident" in doc["rootcause"]:
            members.setdefault(doc["rootcause"]["incident"], []).append(doc_id)
    return {doc_id: {**doc["rootcause"], **({"incident": sorted(members[doc["rootcause"]["incident"]])}
                                           if "incident" in doc["rootcause"] else {})}
            for doc_id, doc in docs.items()}


def _relinked_alike(entries: Iterable[dict[str, Any]], shape: str, tmp: Path) -> list[Doc]:
    """Shipper's documents of ``entries`` relinked, having asserted that ``shape``'s are linked
    alike and keep every field but rootcause as the sender sent it."""
    ours, theirs = _stored(entries, SHAPES[shape])
    (tmp / "ours").mkdir()
    (tmp / "theirs").mkdir()
    want, got = _relinked(ours, tmp / "ours"), _relinked(theirs, tmp / "theirs")
    assert _linked(got) == _linked(want)
    for doc_id, doc in got.items():
        sent = {k: v for k, v in theirs[doc_id].items() if k != "rootcause"}
        assert {k: v for k, v in doc.items() if k != "rootcause"} == sent, doc_id
    return list(want.values())


@pytest.mark.parametrize("shape", SHAPES)
def test_the_corpus_journals_other_shippers_sent_are_linked_as_shippers_own(shape: str, tmp_path: Path) -> None:
    entries = (entry for _, entry in other_shippers.entries(JOURNALS))
    linked = [doc["rootcause"] for doc in _relinked_alike(entries, shape, tmp_path)]
    assert len(linked) >= 40 and sum("incident" in rc for rc in linked) >= 36, linked
    scopes = " ".join(rc["hint"] for rc in linked if rc.get("unit", "").startswith("app-gnome-"))
    assert scopes.count("journalctl -b --user-unit") >= 10 and "journalctl -b -u" not in scopes


@pytest.mark.parametrize("shape", SHAPES)
def test_a_unit_the_journal_fields_name_is_linked_as_shipper_links_it(shape: str, tmp_path: Path) -> None:
    docs = {doc["message"]: doc["rootcause"] for doc in _relinked_alike(NAMED_BY_FIELDS, shape, tmp_path)}
    assert len(docs) == len(NAMED_BY_FIELDS)
    user = docs["Dependency failed for Main User Target."]
    assert (user["unit"], user["dependency"]) == ("default.target", "basic.target")
    assert "`systemctl --user --failed`" in user["remediation"]
    assert docs["Dependency failed for Local File Systems."]["dependency"] == "data.mount"
    failed = docs["Failed to start Elasticsearch."]
    assert failed["unit"] == "elasticsearch.service" and failed["cause"]["signature"].startswith("elasticsearch.")
    again = docs["elasticsearch.service: Main process exited, code=exited, status=1/FAILURE"]
    assert "cause" not in again and again["incident"] != failed["incident"]
    assert "init.scope" not in json.dumps(docs)


def test_fields_of_another_shape_than_shippers_are_read_past_and_kept() -> None:
    """Vector's ``host`` is a string, a Docker line's ``log`` too: relink read ``host.name`` and
    ``log.offset`` into them and failed (AttributeError), where the pipeline passes over them."""
    entry = _at(0, MESSAGE="gdm.service: Failed with result 'exit-code'.", MESSAGE_ID="d9b373ed55a64feb8242e02dbe79a49c",
                UNIT="gdm.service", UNIT_RESULT="exit-code", INVOCATION_ID="e7cb6f05a0f84c429b154630f201ecc3",
                **SYSTEM_MANAGER)
    (ours,), (theirs,) = (docs.values() for docs in _stored([entry], SHAPES["raw journal fields (Vector)"]))
    odd = {"host": "bullseye", "log": "a Docker line", "journald": ["a list"]}
    sent = {**theirs, **odd}
    kept = {k: v for k, v in sent.items() if k != "rootcause"}
    (mine,), (got,) = relink([ours]), relink([sent])
    assert _linked({"a": got}) == _linked({"a": mine}) and got["rootcause"]["unit"] == "gdm.service"
    assert "journalctl -b -u gdm.service" in got["rootcause"]["hint"]
    assert {k: v for k, v in got.items() if k != "rootcause"} == kept
