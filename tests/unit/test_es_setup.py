"""`shipper setup`, `shipper check` and `shipper deadletter` against an Elasticsearch-protocol server."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Iterator

import orjson
import pytest

from shipper.errors import ExitCode
from shipper.setup.assets import load_assets
from tests.fakees import FakeES, Grant
from tests.helpers.es import make_env, out, run_command, run_sink, syslog_docs


@pytest.fixture(params=["8.15.3", "9.1.0"])
def es(request: pytest.FixtureRequest) -> Iterator[FakeES]:
    with FakeES(request.param) as fake:
        yield fake


def setup(es: FakeES, *extra: str) -> tuple[int, str]:
    env = make_env()
    rc = run_command("setup", ["--es-url", es.url, *extra], env)
    return rc, out(env)


def test_setup_installs_everything_then_a_second_run_changes_nothing(es: FakeES) -> None:
    rc, first = setup(es)
    assert rc == 0 and "setup: 9 changed, 0 left as they were" in first
    assert "installed  index template logs-shipper v1" in first
    c = es.cluster
    before = copy.deepcopy((c.index_templates, c.component_templates, c.ilm_policies, c.pipelines))
    puts = sum(1 for m, _, _ in c.log if m == "PUT")
    rc, second = setup(es)
    assert rc == 0 and "setup: 0 changed, 9 left as they were" in second
    assert (c.index_templates, c.component_templates, c.ilm_policies, c.pipelines) == before
    assert sum(1 for m, _, _ in c.log if m == "PUT") == puts  # not one write on the second run


def test_setup_installs_in_dependency_order(es: FakeES) -> None:
    setup(es)  # the fake refuses an index template whose component templates do not exist yet
    paths = [p for m, p, _ in es.cluster.log if m == "PUT"]
    assert paths.index("/_ilm/policy/logs-shipper") < paths.index("/_component_template/logs-shipper@settings")
    assert max(i for i, p in enumerate(paths) if "_component_template" in p) < paths.index("/_index_template/logs-shipper")


def test_setup_upgrades_an_older_version_and_leaves_a_newer_one(es: FakeES) -> None:
    setup(es)
    es.cluster.component_templates["logs-shipper@ecs"]["_meta"]["version"] = 0
    es.cluster.pipelines["logs-shipper-default"]["_meta"]["version"] = 99
    rc, text = setup(es)
    assert "upgraded   component template logs-shipper@ecs v0 -> v1" in text
    assert "v99 installed by a newer shipper" in text
    assert es.cluster.component_templates["logs-shipper@ecs"]["_meta"]["version"] == 1
    assert es.cluster.pipelines["logs-shipper-default"]["_meta"]["version"] == 99


def test_setup_leaves_a_foreign_object_of_the_same_name_unless_forced(es: FakeES) -> None:
    es.cluster.pipelines["logs-shipper-default"] = {"processors": [], "description": "someone else's"}
    rc, text = setup(es)
    assert "was not installed by shipper; left alone" in text
    assert es.cluster.pipelines["logs-shipper-default"]["description"] == "someone else's"
    rc, text = setup(es, "--force")
    assert "replaced   ingest pipeline logs-shipper-default" in text
    assert es.cluster.pipelines["logs-shipper-default"]["_meta"]["managed_by"] == "shipper"


def test_retention_from_the_config_goes_into_the_ilm_policy(es: FakeES, tmp_path: Path) -> None:
    config = tmp_path / "shipper.yml"
    config.write_text("output:\n  elasticsearch:\n    retention: 45d\n")
    setup(es, "--config", str(config))
    phases = es.cluster.ilm_policies["logs-shipper"]["policy"]["phases"]
    assert phases["delete"]["min_age"] == "45d" and phases["hot"]["actions"]["rollover"]["max_age"] == "7d"
    rc, text = setup(es)  # default retention again: the policy is updated, nothing else
    assert "updated    ILM policy logs-shipper: retention 45d, configured 30d" in text
    assert "setup: 1 changed" in text


def test_dry_run_changes_nothing(es: FakeES) -> None:
    rc, text = setup(es, "--dry-run")
    assert rc == 0 and text.count("would install") == 9
    assert not es.cluster.index_templates and not any(m == "PUT" for m, _, _ in es.cluster.log)


def test_check_passes_after_setup_and_names_what_is_missing_before(es: FakeES) -> None:
    env = make_env()
    assert run_command("check", ["--es-url", es.url], env) == ExitCode.OUTPUT
    assert "FAIL  index template logs-shipper: not installed; run `shipper setup`" in out(env)
    setup(es)
    env = make_env()
    assert run_command("check", ["--es-url", es.url], env) == ExitCode.OK
    text = out(env)
    assert f"Elasticsearch {es.cluster.version}" in text and f"compatible-with={es.cluster.major}" in text
    assert "check: all good" in text


def test_check_reports_missing_privileges(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("d3JpdGVyOmtleQ==")
    key.chmod(0o644)
    grant = Grant(user="writer", cluster={"monitor"}, index={"create_doc"})  # no auto_configure
    with FakeES("9.1.0", credentials={"ApiKey d3JpdGVyOmtleQ==": grant}) as es:
        config = tmp_path / "shipper.yml"
        config.write_text(f"output:\n  elasticsearch:\n    api_key_file: {key}\n")
        env = make_env()
        rc = run_command("check", ["--es-url", es.url, "--config", str(config)], env)
    assert rc == ExitCode.UNAVAILABLE
    assert "FAIL  privileges of 'writer': missing auto_configure on logs-shipper.*-default" in out(env)
    assert f"can be read by other users: chmod 600 {key}" in out(env)


def test_check_says_when_security_is_off(tmp_path: Path) -> None:
    with FakeES("8.15.3", security=False) as es:
        setup(es)
        env = make_env()
        assert run_command("check", ["--es-url", es.url], env) == ExitCode.OK
    assert "security is off on this cluster" in out(env)


def test_check_of_an_unreachable_cluster_is_one_clear_error(tmp_path: Path) -> None:
    env = make_env()
    with FakeES() as es:
        url = es.url
    assert run_command("check", ["--es-url", url], env) == ExitCode.UNAVAILABLE
    assert f"cannot reach Elasticsearch at {url}: [Errno 111] Connection refused" in env.stderr.getvalue()  # type: ignore[attr-defined]


def test_deadletter_list_and_retry_after_the_mapping_is_fixed(es: FakeES, tmp_path: Path) -> None:
    setup(es)
    docs = syslog_docs(5)
    docs[3] = {**docs[3], "host": "gorp"}
    run_sink(es.url, [docs], tmp_path)
    config = tmp_path / "shipper.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    env = make_env()
    assert run_command("deadletter", ["list", "--config", str(config)], env) == 0
    assert "logs-shipper.syslog-default  doc-0000003  400" in out(env) and "1 of 1 dead-lettered" in out(env)
    env = make_env()
    run_command("deadletter", ["list", "--json", "--config", str(config)], env)
    row = json.loads(out(env))
    assert orjson.loads(row["document"])["host"] == "gorp"
    # still refused: stays in the dead letter, with one more attempt
    env = make_env()
    assert run_command("deadletter", ["retry", "--config", str(config), "--es-url", es.url], env) == ExitCode.OUTPUT
    assert "1 refused again; 0 removed" in out(env)
    # the operator fixes the mapping (host may now be text): the retry delivers it and empties the dead letter
    es.cluster.streams.clear()
    es.cluster.component_templates["logs-shipper@ecs"]["template"]["mappings"]["properties"]["host"] = {"type": "keyword"}
    env = make_env()
    assert run_command("deadletter", ["retry", "--config", str(config), "--es-url", es.url], env) == 0
    assert "retried 1: 1 indexed" in out(env) and "1 removed from the dead letter" in out(env)
    assert es.docs("logs-shipper.syslog-default")["doc-0000003"]["host"] == "gorp"
    env = make_env()
    run_command("deadletter", ["list", "--config", str(config)], env)
    assert "0 of 0 dead-lettered" in out(env)


def test_the_assets_loaded_are_the_packaged_ones() -> None:
    kinds = [a.kind for a in load_assets()]
    assert kinds == sorted(kinds, key=["ilm_policy", "ingest_pipeline", "component_template", "index_template"].index)
