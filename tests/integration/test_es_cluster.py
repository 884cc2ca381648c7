"""Against real Elasticsearch 8.x and 9.x (Docker): setup, replay the corpus, query it back, and the
recognition pipeline gives the Python recognisers' signatures (``_ingest/pipeline/_simulate``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from shipper.cli import main
from shipper.env import Env
from shipper.recognise.rules import load_rules
from tests.helpers.es import make_env, out, run_command
from tests.helpers.es_recognition import PIPELINE_FIELDS, documents, expected
from tests.helpers.ingest import failure
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.integration
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "excerpts"
ENV = {"SHIPPER_IT_PASSWORD": PASSWORD}


@pytest.fixture(params=["es8", "es9"])
def url(request: pytest.FixtureRequest, clusters: dict[str, str]) -> str:
    return clusters[request.param]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "shipper.yml"
    cfg.write_text(f"state_dir: {tmp_path / 'state'}\noutput:\n  elasticsearch:\n    username: elastic\n"
                   "    password_env: SHIPPER_IT_PASSWORD\n    namespace: it\n")
    return cfg


def _client(url: str) -> Elasticsearch:
    return Elasticsearch(url, basic_auth=("elastic", PASSWORD))


def _cli(argv: list[str]) -> tuple[int, bytes]:
    stdout = io.TextIOWrapper(io.BytesIO(), write_through=True)
    env = Env(stdin=io.BytesIO(), stdout=stdout, stderr=io.StringIO(), environ={**ENV, "HOME": "/tmp", "TZ": "UTC"})
    rc = main(argv, env)
    return rc, stdout.buffer.getvalue()  # type: ignore[attr-defined]


def test_setup_is_idempotent_and_check_passes(url: str, config: Path) -> None:
    assert run_command("setup", ["--es-url", url, "--config", str(config)], make_env(ENV)) == 0
    env = make_env(ENV)
    assert run_command("setup", ["--es-url", url, "--config", str(config)], env) == 0
    assert "setup: 0 changed" in out(env)
    env = make_env(ENV)
    assert run_command("check", ["--es-url", url, "--config", str(config)], env) == 0, out(env)


def test_replay_the_corpus_then_query_it_back_and_a_second_replay_adds_nothing(url: str, config: Path) -> None:
    run_command("setup", ["--es-url", url, "--config", str(config)], make_env(ENV))
    argv = ["replay", "--output", "es", "--es-url", url, "--config", str(config), "--timezone", "UTC",
            "--year", "2017", "--quiet", str(CORPUS)]
    assert _cli(argv)[0] == 0
    client = _client(url)
    client.indices.refresh(index="logs-shipper.*-it")
    first = client.count(index="logs-shipper.*-it")["count"]
    assert first > 100
    hits = client.search(index="logs-shipper.*-it", query={"exists": {"field": "rootcause.signature"}}, size=5)
    assert hits["hits"]["total"]["value"] > 0
    doc = hits["hits"]["hits"][0]["_source"]
    assert doc["data_stream"]["namespace"] == "it" and "ingested" in doc["event"]
    assert _cli(argv)[0] == 0
    client.indices.refresh(index="logs-shipper.*-it")
    assert client.count(index="logs-shipper.*-it")["count"] == first  # 409s absorbed the replay


def test_the_recognition_pipeline_agrees_with_the_python_recognisers(url: str, config: Path) -> None:
    run_command("setup", ["--es-url", url, "--config", str(config)], make_env(ENV))
    rc, ndjson = _cli(["replay", "--output", "ndjson", "--timezone", "UTC", "--year", "2017", "--quiet", str(CORPUS)])
    assert rc == 0
    docs = [orjson.loads(line) for line in ndjson.splitlines()]
    contextual = {s.id for s in load_rules().signatures if any(p.context for p in s.patterns)}
    client = _client(url)
    disagreements: list[tuple[str, Any, Any]] = []
    for start in range(0, len(docs), 500):
        chunk = docs[start:start + 500]
        bare = [{k: v for k, v in d.items() if k != "rootcause"} for d in chunk]
        result = client.ingest.simulate(id="logs-shipper-recognition", docs=[{"_source": d} for d in bare])
        for python_doc, simulated in zip(chunk, result["docs"]):
            want = python_doc.get("rootcause", {}).get("signature")
            got = simulated.get("doc", {}).get("_source", {}).get("rootcause", {}).get("signature")
            if want != got and not (got is None and want in contextual):
                disagreements.append((python_doc["message"][:120], want, got))
    assert not disagreements, disagreements[:20]


def test_the_recognition_pipeline_gives_the_python_hints(url: str, config: Path) -> None:
    """Elasticsearch compiles the pipeline's hint script and runs it: each corpus document, syslog
    and journal, gets the hint the Python recogniser gives it (the unit tests run the same
    comparison in a stand-in ingest node: tests/unit/test_es_recognition_hints.py)."""
    assert run_command("setup", ["--es-url", url, "--config", str(config)], make_env(ENV)) == 0
    docs = [doc for _, doc in documents()]
    client = _client(url)
    wrong: list[tuple[str, Any, Any]] = []
    for start in range(0, len(docs), 500):
        chunk = docs[start:start + 500]
        result = client.ingest.simulate(id="logs-shipper-recognition", docs=[{"_source": d} for d in chunk])
        for doc, simulated in zip(chunk, result["docs"]):
            source = simulated.get("doc", {}).get("_source", {})
            got = {k: v for k, v in source.get("rootcause", {}).items() if k in PIPELINE_FIELDS}
            if got != expected(doc) or failure(source) or any(k.startswith("rc") for k in source):
                wrong.append((doc["message"][:120], expected(doc).get("hint"), failure(source) or got.get("hint")))
    assert len(docs) > 1000 and not wrong, wrong[:10]
