"""deploy/: the unit agrees with what the Ansible role puts on a host, the role's list of the
variables it takes (it refuses any other shipper_ variable) is the list it defaults, and its check
of a configuration against the unit's sandbox (filter_plugins/shipper_sandbox.py) finds what the
sandbox forbids, naming the inventory variable."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "deploy" / "ansible" / "roles" / "shipper"


def unit_setting(name: str) -> str | None:
    found = re.findall(rf"^{name}=(.*)$", (ROOT / "deploy" / "shipper.service").read_text(), re.M)
    return found[-1] if found else None


def test_the_units_configuration_directory_mode_is_the_mode_the_role_gives_etc_shipper() -> None:
    """systemd leaves an existing ConfigurationDirectory= as it is but warns at every start when
    its mode is not ConfigurationDirectoryMode= (default 0755): "ConfigurationDirectory 'shipper'
    already exists but the mode is different" (systemd 252, Debian 12)."""
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    (conf_dir,) = [t["ansible.builtin.file"] for t in tasks
                   if t.get("ansible.builtin.file", {}).get("path") == "/etc/shipper"]
    assert unit_setting("ConfigurationDirectory") == "shipper"
    assert f'{int(unit_setting("ConfigurationDirectoryMode") or "0755", 8):04o}' == f'{int(conf_dir["mode"], 8):04o}'


def test_the_variables_the_role_accepts_are_the_ones_it_defaults() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    accepted = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__shipper_variables"]
    assert sorted(accepted) == sorted(defaults)
    assert all(not k.startswith("shipper_") for k in yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))


def sandbox_conflicts(config: dict[str, Any], extra: dict[str, Any] | None = None) -> list[str]:
    """The role's filter shipper_sandbox_conflicts, loaded as Ansible loads it (from the file)."""
    spec = importlib.util.spec_from_file_location("shipper_sandbox", ROLE / "filter_plugins" / "shipper_sandbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    filters = module.FilterModule().filters()
    return list(filters["shipper_sandbox_conflicts"](config, extra or {}))


def test_what_the_unit_lets_shipper_write_and_read_passes_the_sandbox_check() -> None:
    config = {"state_dir": "/var/lib/shipper/", "inputs": [
        {"type": "journal", "path": "/var/log/journal/remote"}, {"type": "file", "paths": ["/var/log/*.log"]}],
        "output": {"local": {"path": "/var/lib/shipper/store/events.db"}, "ndjson": {"path": "/var/log/shipper/e.ndjson"},
                   "elasticsearch": {"hosts": ["https://es:9200"], "ca_file": "/etc/ssl/certs/corp.pem",
                                     "api_key_file": "/run/credentials/shipper.service/es_api_key"}},
        "run": {"metrics": {"listen": "127.0.0.1:9464"}}}
    assert sandbox_conflicts(config) == []
    assert sandbox_conflicts({"state_dir": "/var/log/shipper/state", "output": {"ndjson": {}}, "run": {"metrics": None}}) == []


def test_a_path_the_unit_does_not_let_shipper_write_is_named_with_its_variable_and_fix() -> None:
    for state_dir in ("/srv/shipper", "/var/lib/shipper/../private", "/var/lib/shipper2", "state", "/var/lib"):
        (told,) = sandbox_conflicts({"state_dir": state_dir}, {"state_dir": state_dir})
        assert told.startswith(f"shipper_config_extra: state_dir is {state_dir}, where the unit does not let shipper write")
        assert "ProtectSystem=strict" in told and "remove state_dir" in told
    (told,) = sandbox_conflicts({"output": {"ndjson": {"path": "/tmp/e.ndjson"}}})
    assert told.startswith("shipper_config_extra: output.ndjson.path is /tmp/e.ndjson") and "/var/log/shipper/" in told
    (told,) = sandbox_conflicts({"output": {"local": {"path": "/srv/events.db"}}})
    assert told.startswith("shipper_config_extra: output.local.path is /srv/events.db")


def test_files_the_unit_hides_from_shipper_are_named_with_the_variable_that_sets_them() -> None:
    config = {"inputs": [{"type": "file", "paths": ["/var/log/x", "/root/app.log"]}, {"type": "journal", "path": "/tmp/j"}],
              "output": {"elasticsearch": {"ca_file": "/home/ops/ca.pem"}}}
    assert sandbox_conflicts(config) == [
        "shipper_inputs: inputs[0].paths[1] is /root/app.log, which the unit hides from shipper (ProtectHome=yes: it "
        "sees no file under /root), so it would find nothing there: move the files out of /root, e.g. under /var/log or /etc",
        "shipper_inputs: inputs[1].path is /tmp/j, which the unit hides from shipper (PrivateTmp=yes: it sees no file "
        "under /tmp), so it would find nothing there: move the files out of /tmp, e.g. under /var/log or /etc",
        "shipper_elasticsearch_settings: output.elasticsearch.ca_file is /home/ops/ca.pem, which the unit hides from "
        "shipper (ProtectHome=yes: it sees no file under /home), so it would find nothing there: move the files out of "
        "/home, e.g. under /var/log or /etc"]
    (told,) = sandbox_conflicts(config | {"inputs": []}, {"output": {"elasticsearch": {"ca_file": "/home/ops/ca.pem"}}})
    assert told.startswith("shipper_config_extra: output.elasticsearch.ca_file")


def test_a_privileged_metrics_port_is_refused_and_a_malformed_one_left_to_shipper_validate() -> None:
    (told,) = sandbox_conflicts({"run": {"metrics": {"listen": "0.0.0.0:443"}}})
    assert told.startswith("shipper_config_extra: run.metrics.listen is 0.0.0.0:443") and "CapabilityBoundingSet=" in told
    assert sandbox_conflicts({"run": {"metrics": {"listen": "0.0.0.0:1024"}}}) == []
    assert sandbox_conflicts({"run": {"metrics": {"listen": "nonsense"}}}) == []
