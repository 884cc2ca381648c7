"""A `shipper setup` that cannot do everything: it holds back what needs an asset it could not
read, says what it installed before a write Elasticsearch refused (and why it was refused), and
`shipper check` names the command that fixes what it finds."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from shipper.errors import ExitCode
from shipper.setup.assets import Asset, load_assets
from tests.fakees import FakeES, Grant
from tests.helpers.es import err, make_env, out, run_command

ADMIN, TEMPLATER, NO_TEMPLATES = "YWRtaW46a2V5", "dGVtcGxhdGVyOmtleQ==", "bm90ZW1wbGF0ZXM6a2V5"


@pytest.fixture
def es() -> Iterator[FakeES]:
    grants = {
        f"ApiKey {ADMIN}": Grant(user="admin", cluster={"all"}),
        # the tester's credentials: templates and ILM, but not ingest pipelines
        f"ApiKey {TEMPLATER}": Grant(user="templater", cluster={"manage_index_templates", "manage_ilm", "monitor"}),
        # reads templates (monitor) but may not write them
        f"ApiKey {NO_TEMPLATES}": Grant(user="piper", cluster={"manage_ingest_pipelines", "manage_ilm", "monitor"}),
    }
    with FakeES("9.1.0", credentials=grants) as fake:
        yield fake


def _run(command: str, es: FakeES, tmp_path: Path, key: str, *extra: str) -> tuple[int, str, str]:
    key_file = tmp_path / f"key-{key[:6]}"
    key_file.write_text(key)
    key_file.chmod(0o600)
    config = tmp_path / f"shipper-{key[:6]}.yml"
    config.write_text(f"output:\n  elasticsearch:\n    api_key_file: {key_file}\n")
    env = make_env()
    rc = run_command(command, ["--es-url", es.url, "--config", str(config), *extra], env)
    return rc, out(env), err(env)


def test_what_names_a_pipeline_setup_may_not_read_is_held_back(es: FakeES, tmp_path: Path) -> None:
    rc, text, error = _run("setup", es, tmp_path, TEMPLATER, "--dry-run")
    assert rc == ExitCode.UNAVAILABLE and not es.cluster.component_templates
    assert ("would hold back component template logs-shipper@settings: not installed: it needs ingest pipeline "
            "logs-shipper-default (403; needs manage_ingest_pipelines), which setup could not read") in text
    assert "would install   index template logs-shipper.deadletter" in text

    rc, text, error = _run("setup", es, tmp_path, TEMPLATER)
    assert rc == ExitCode.UNAVAILABLE
    c = es.cluster
    # the settings name the pipeline (index.default_pipeline); the index template is composed of the settings
    assert "logs-shipper@settings" not in c.component_templates and "logs-shipper" not in c.index_templates
    # what does not need the pipelines is installed: the ILM policy, the other component templates, the dead letter
    assert set(c.component_templates) == {"logs-shipper@ecs", "logs-shipper@journald", "logs-shipper@recognition"}
    assert set(c.index_templates) == {"logs-shipper.deadletter"} and set(c.ilm_policies) == {"logs-shipper"}
    assert ("  held back  component template logs-shipper@settings v1: not installed, it needs ingest pipeline "
            "logs-shipper-default (403; needs manage_ingest_pipelines), which setup could not read\n") in text
    assert ("  held back  index template logs-shipper v1: not installed, it needs ingest pipeline "
            "logs-shipper-default") in text
    assert "setup: 5 changed, 0 left as they were, 2 could not be read, 2 held back\n" in text
    assert ("nor did it install the 2 that need them: component template logs-shipper@settings, index template "
            "logs-shipper; Elasticsearch refused them to these credentials (403 Forbidden: they lack "
            "manage_ingest_pipelines)") in error

    # with the privilege, setup installs what it held back, and the rest stays as it was
    rc, text, _ = _run("setup", es, tmp_path, ADMIN)
    assert rc == ExitCode.OK and "setup: 4 changed, 5 left as they were\n" in text
    assert "installed  component template logs-shipper@settings v1" in text
    assert "installed  index template logs-shipper v1" in text


def test_what_an_asset_needs_is_read_from_its_content() -> None:
    from shipper.setup.install import named_assets

    by_name = {a.name: a for a in load_assets()}
    assert named_assets(by_name["logs-shipper@settings"]) == [("ingest_pipeline", "logs-shipper-default"),
                                                             ("ilm_policy", "logs-shipper")]
    assert named_assets(by_name["logs-shipper"]) == [("component_template", n) for n in (
        "logs-shipper@settings", "logs-shipper@ecs", "logs-shipper@journald", "logs-shipper@recognition")]
    assert named_assets(by_name["logs-shipper.deadletter"]) == [("ilm_policy", "logs-shipper")]
    assert named_assets(by_name["logs-shipper-default"]) == named_assets(by_name["logs-shipper@ecs"]) == []
    dotted = Asset("component_template", "x", {"template": {"settings": {
        "index.final_pipeline": "p", "lifecycle.name": "l", "index": {"default_pipeline": "_none"}}}})
    assert named_assets(dotted) == [("ingest_pipeline", "p"), ("ilm_policy", "l")]
    # every asset named is one setup installs, and installs earlier (what holding back relies on)
    order = [(a.kind, a.name) for a in load_assets()]
    for i, asset in enumerate(load_assets()):
        assert all(named in order[:i] for named in named_assets(asset)), asset.label


def test_a_template_conflict_midway_reports_what_was_installed_then_names_the_other_template(es: FakeES,
                                                                                            tmp_path: Path) -> None:
    es.cluster.index_templates["mylogs"] = {"index_patterns": ["logs-shipper.*-*"], "priority": 200}
    rc, text, error = _run("setup", es, tmp_path, ADMIN)
    assert rc == ExitCode.UNAVAILABLE
    assert text.count("\n  installed  ") == 8 and "installed  index template logs-shipper.deadletter v1" in text
    assert "  FAILED     index template logs-shipper v1: Elasticsearch refused it (the error is below)\n" in text
    assert text.endswith("setup: 8 changed, 0 left as they were, 1 failed\n")
    assert ("refused index template logs-shipper: the index template mylogs already matches its index patterns "
            "(logs-shipper.*-*) with the same priority (200)") in error
    assert ("give mylogs a priority below 200 (so that shipper's template applies to its data streams) or "
            "index_patterns that do not match logs-shipper.*-*, or delete it if nothing uses it "
            "(DELETE _index_template/mylogs); then run `shipper setup` again") in error
    # the suggested fix works
    es.cluster.index_templates["mylogs"]["priority"] = 100
    rc, text, _ = _run("setup", es, tmp_path, ADMIN)
    assert rc == ExitCode.OK and "setup: 1 changed, 8 left as they were\n" in text


def test_a_write_refused_midway_says_what_was_done_and_what_was_not_tried(es: FakeES, tmp_path: Path) -> None:
    rc, text, error = _run("setup", es, tmp_path, NO_TEMPLATES)
    assert rc == ExitCode.UNAVAILABLE
    assert "  installed  ingest pipeline logs-shipper-default v1\n" in text
    assert "  FAILED     component template logs-shipper@ecs v1: Elasticsearch refused it" in text
    assert "  not tried  index template logs-shipper v1 (setup stopped at the failure)\n" in text
    assert text.endswith("setup: 3 changed, 0 left as they were, 1 failed, 5 not tried\n")
    assert set(es.cluster.pipelines) == {"logs-shipper-default", "logs-shipper-recognition"}
    assert "refused to let shipper install its templates, ILM policy and pipelines (403)" in error
    assert "component template logs-shipper@ecs needs the cluster privilege manage_index_templates" in error


def test_check_names_setup_force_for_an_asset_setup_leaves_alone(es: FakeES, tmp_path: Path) -> None:
    assert _run("setup", es, tmp_path, ADMIN)[0] == ExitCode.OK
    es.cluster.ilm_policies["logs-shipper"] = {"version": 1, "modified_date": "2024-01-01T00:00:00.000Z",
                                               "policy": {"phases": {"hot": {"actions": {}}}}}
    rc, text, _ = _run("check", es, tmp_path, ADMIN)
    assert rc == ExitCode.OUTPUT
    line = next(line for line in text.splitlines() if "ILM policy logs-shipper" in line)
    assert line == ("  FAIL  ILM policy logs-shipper: exists but was not installed by shipper, and `shipper setup` "
                    "leaves it alone: run `shipper setup --force` to replace it with shipper's v1 (keep a copy of "
                    "the one there first: GET _ilm/policy/logs-shipper)")
    # what the hint says is so: plain setup leaves it (check still fails), --force fixes it
    assert _run("setup", es, tmp_path, ADMIN)[0] == ExitCode.OK
    assert _run("check", es, tmp_path, ADMIN)[0] == ExitCode.OUTPUT
    rc, text, _ = _run("setup", es, tmp_path, ADMIN, "--force")
    assert rc == ExitCode.OK and "replaced   ILM policy logs-shipper (not installed by shipper) with v1" in text
    assert _run("check", es, tmp_path, ADMIN)[0] == ExitCode.OK
