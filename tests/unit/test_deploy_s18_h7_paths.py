"""The role's path checks (deploy/ansible/roles/shipper): files/shipper_path_links.py follows a
host's symlinks as the kernel does, filter_plugins/shipper_sandbox.py judges where each configured
path leads (and accepts /var/lib/private/shipper, where systemd keeps StateDirectory= with
DynamicUser=yes), and a configuration shipper validate refuses is told against its destination.
The end-to-end plays are in tests/fleet/test_paths_s18.py."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROLE = Path(__file__).resolve().parents[2] / "deploy" / "ansible" / "roles" / "shipper"
LINKS = ROLE / "files" / "shipper_path_links.py"


def role_filter(name: str) -> Any:
    """One of the role's filters, loaded as Ansible loads it (from the file)."""
    spec = importlib.util.spec_from_file_location("shipper_sandbox_h7", ROLE / "filter_plugins" / "shipper_sandbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FilterModule().filters()[name]


def routes(*paths: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(LINKS), json.dumps(paths)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_the_script_follows_symlinks_as_the_kernel_does(tmp_path: Path) -> None:
    (tmp_path / "var/lib/private/shipper").mkdir(parents=True)
    (tmp_path / "var/lib/shipper").symlink_to("private/shipper")
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv/shipper").symlink_to(tmp_path / "var/lib/shipper")
    (tmp_path / "data/app").mkdir(parents=True)
    (tmp_path / "var/log").mkdir()
    (tmp_path / "var/log/app").symlink_to("../../data/app")
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    t = str(tmp_path)
    found = routes(f"{t}/srv/shipper/events.db", f"{t}/var/log/app/*/x.log", f"{t}/var/log/app/../up",
                   f"{t}/missing/x", f"{t}/a/x", "relative")
    assert found == {
        f"{t}/srv/shipper/events.db": {"links": [f"{t}/srv/shipper", f"{t}/var/lib/shipper"],
                                       "leads_to": f"{t}/var/lib/private/shipper/events.db"},
        f"{t}/var/log/app/*/x.log": {"links": [f"{t}/var/log/app"], "leads_to": f"{t}/data/app/*/x.log"},
        f"{t}/var/log/app/../up": {"links": [f"{t}/var/log/app"], "leads_to": f"{t}/data/up"},  # not {t}/var/log/up
        f"{t}/missing/x": {"links": [], "leads_to": f"{t}/missing/x"},
        f"{t}/a/x": {"links": [f"{t}/a", f"{t}/b"], "leads_to": None},
    }


def test_the_state_where_systemd_keeps_it_is_accepted_and_other_private_directories_refused() -> None:
    conflicts = role_filter("shipper_sandbox_conflicts")
    for state_dir in ("/var/lib/private/shipper", "/var/lib/private/shipper/sub", "/var/log/private/shipper"):
        assert conflicts({"state_dir": state_dir}, {"state_dir": state_dir}) == []
    assert conflicts({"output": {"local": {"path": "/var/lib/private/shipper/events.db"}}}, {}) == []
    for state_dir in ("/var/lib/private", "/var/lib/private/other", "/var/lib/private/shipper2"):
        (told,) = conflicts({"state_dir": state_dir}, {"state_dir": state_dir})
        assert told.startswith(f"shipper_config_extra: state_dir is {state_dir}, where the unit does not let shipper write")
        assert "mount that disk at /var/lib/private/shipper" in told


def test_a_path_is_judged_by_where_its_symlinks_lead() -> None:
    conflicts = role_filter("shipper_sandbox_conflicts")
    config = {"state_dir": "/srv/shipper", "inputs": [{"type": "file", "paths": ["/var/log/app/*.log"]}]}
    found = {"/srv/shipper": {"links": ["/srv/shipper", "/var/lib/shipper"], "leads_to": "/var/lib/private/shipper"},
             "/var/log/app/*.log": {"links": ["/var/log/app"], "leads_to": "/home/app/*.log"}}
    assert conflicts(config, {"state_dir": "/srv/shipper"}, found) == [
        "shipper_inputs: inputs[0].paths[0] is /var/log/app/*.log, which leads to /home/app/*.log through the "
        "symlink /var/log/app, which the unit hides from shipper (ProtectHome=yes: it sees no file under /home), so "
        "it would find nothing there: move the files out of /home, e.g. under /var/log or /etc"]
    # the state through a symlink out of the unit's directories: it stays read-only to shipper
    found["/srv/shipper"] = {"links": ["/var/lib/shipper"], "leads_to": "/data/shipper"}
    (told, _) = conflicts(config, {"state_dir": "/srv/shipper"}, found)
    assert told.startswith("shipper_config_extra: state_dir is /srv/shipper, which leads to /data/shipper through "
                           "the symlink /var/lib/shipper, where the unit does not let shipper write")
    assert "a symlink does not widen the sandbox" in told


def test_a_symlink_through_a_hidden_directory_is_refused_with_where_it_leads_as_the_fix() -> None:
    conflicts = role_filter("shipper_sandbox_conflicts")
    config = {"inputs": [{"type": "file", "paths": ["/home/app/logs/*.log"]}],
              "output": {"ndjson": {"path": "/var/log/out/e.ndjson"}}}
    found = {"/home/app/logs/*.log": {"links": ["/home/app/logs"], "leads_to": "/data/log/app/*.log"},
             "/var/log/out/e.ndjson": {"links": ["/var/log/out", "/tmp/out"], "leads_to": "/var/log/shipper/e.ndjson"}}
    told = conflicts(config, {}, found)
    assert told[0].startswith("shipper_config_extra: output.ndjson.path is /var/log/out/e.ndjson, which leads to "
                              "/var/log/shipper/e.ndjson through the symlinks /var/log/out, /tmp/out, which the unit "
                              "hides from shipper (PrivateTmp=yes")
    assert told[1].endswith("give /data/log/app/*.log (where it leads) instead: shipper cannot pass through /home")
    loop = {"/home/app/logs/*.log": {"links": ["/a", "/b"], "leads_to": None}}
    (_, told_loop) = conflicts(config, {}, loop)
    assert "loop of symlinks (/a, /b)" in told_loop


def test_the_paths_the_host_is_asked_about_are_every_checked_path() -> None:
    paths = role_filter("shipper_sandbox_paths")
    config = {"state_dir": "/var/lib/shipper", "inputs": [{"type": "file", "paths": ["/var/log/*.log"]},
                                                          {"type": "journal", "path": "/var/log/journal/remote"}],
              "output": {"elasticsearch": {"ca_file": "/etc/ssl/ca.pem"}, "ndjson": {"path": "/var/log/shipper/e"}}}
    assert paths(config) == ["/etc/ssl/ca.pem", "/var/lib/shipper", "/var/log/*.log", "/var/log/journal/remote",
                             "/var/log/shipper/e"]


def test_a_refused_configuration_is_told_against_its_destination_and_variable() -> None:
    refused = role_filter("shipper_config_refused")
    told = ("shipper: error: /root/.ansible/tmp/ansible-tmp-1795869939.24-16868-1296/.source.yml:3: parse.timezon: "
            "unknown key\nshipper: did you mean 'timezone'?\n")
    message = refused(told, "/etc/shipper/shipper.yml", {"parse": {"timezon": "UTC"}})
    assert message.startswith("shipper_config_extra: shipper validate refused the configuration for "
                              "/etc/shipper/shipper.yml: /etc/shipper/shipper.yml:3: parse.timezon: unknown key; "
                              "did you mean 'timezone'?")
    assert "ansible-tmp" not in message and message.endswith("Fix shipper_config_extra in the inventory and run again.")
    older = "shipper: error: /var/tmp/ansible-tmp-1.2-3-4/source:9: output.elasticsearch.hosts[0]: not a URL\n"
    assert refused(older, "/etc/shipper/shipper.yml", {}).startswith(
        "shipper_elasticsearch_hosts: shipper validate refused the configuration for /etc/shipper/shipper.yml: "
        "/etc/shipper/shipper.yml:9: output.elasticsearch.hosts[0]: not a URL")
    assert refused("shipper: error: no key here\n", "/etc/shipper/shipper.yml", {}).endswith("Fix the inventory and run again.")
