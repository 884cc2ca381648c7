"""What `shipper causes` (text and JSON) and the report say, on real corpus files replayed into a
real store (operator testing round s16): the Elasticsearch summary's own hint, the failing program's
last lines when no cause is recognised, sendmail's Daemon1 in HINTS.md's order, one hint per
discovery message, user-manager commands, the systemd job results, and no invented systemd unit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.samples import DATA
from shipper.report.html import collect
from shipper.sinks.local import LocalStore
from tests.helpers.cli import shipper_out

CORPUS = DATA / "corpus"
SYSTEMD = CORPUS / "excerpts/systemd"
ES = CORPUS / "excerpts/elasticsearch"


def _replay(tmp_path: Path, *paths: Path) -> Path:
    db = tmp_path / "events.db"
    shipper_out(tmp_path, "replay", "--quiet", "--store", str(db), "--year", "2017", "--timezone", "UTC",
                *map(str, paths))
    return db


def _causes(tmp_path: Path, *paths: Path) -> tuple[str, dict[str, Any]]:
    db = _replay(tmp_path, *paths)
    text = shipper_out(tmp_path, "causes", "--store", str(db))
    return text, json.loads(shipper_out(tmp_path, "causes", "--store", str(db), "--format", "json"))


def _lines(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# 1. the summary's hint (why the checks are enforced) once per incident, after the checks
def test_the_elasticsearch_summary_hint_is_told_once_after_the_checks(tmp_path: Path) -> None:
    text, data = _causes(tmp_path, DATA / "seed/elasticsearch-bootstrap.log")
    (inc,) = data["incidents"]
    assert "the same node bound to localhost only warns" in inc["summary_hint"]
    assert "bind to localhost only" in inc["summary_remediation"]
    assert text.count("the same node bound to localhost only warns") == 1
    assert text.index("also: vm.max_map_count") < text.index("    overall: Elasticsearch on elastic01 refused to start")
    store = LocalStore(tmp_path / "events.db", read_only=True)
    try:
        page = collect(store, since=None, until=None, now=0.0)
    finally:
        store.close()
    assert "only warns" in page["report"]["incidents"][0]["summary_hint"]


# 2. no recognised cause: the program's own last lines, error-looking first, at most 3
def test_a_failure_with_no_recognised_cause_quotes_the_programs_last_lines(tmp_path: Path) -> None:
    text, data = _causes(tmp_path, SYSTEMD / "centos7-nginx-selinux-journalctl-u.log")
    (inc,) = data["incidents"]
    assert [r["message"] for r in inc["last_lines"]] == [
        "nginx: [emerg] bind() to 0.0.0.0:11988 failed (13: Permission denied)",
        "nginx: configuration file /etc/nginx/nginx.conf test failed",
        "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok",
    ]
    assert ("    its last lines before the failure:\n"
            "      09:15:47 nginx[4171]: nginx: [emerg] bind() to 0.0.0.0:11988 failed (13: Permission denied)\n") in text


def test_the_last_lines_are_the_ones_before_the_failure_they_explain(tmp_path: Path) -> None:
    text, _ = _causes(tmp_path, SYSTEMD / "centos7-var-log-messages-haproxy.log")
    assert "haproxy: [ALERT] 089/222854 (28223) : Cannot open configuration file/directory" in text
    text, data = _causes(tmp_path / "t", SYSTEMD / "ubuntu16.04-tftpd-hpa-status71.log")
    first = data["incidents"][0]["last_lines"][0]
    assert (first["process"], first["message"]) == ("in.tftpd", "cannot bind to local IPv4 socket: Address already in use")


def test_no_line_is_quoted_when_none_is_the_units_or_an_error(tmp_path: Path) -> None:
    _, data = _causes(tmp_path, SYSTEMD / "ubuntu20.04-user-manager-71-OSERR.log")
    assert all(i["last_lines"] == [] for i in data["incidents"])  # tracker-miner-fs's "OK" would mislead


# 3. Daemon1: another listener first, then the self-collision in the seed's words
def test_daemon1_checks_another_listener_before_blaming_sendmail(tmp_path: Path) -> None:
    _, data = _causes(tmp_path, DATA / "seed/messages-sendmail.log")
    hint = next(i["hint"] for i in data["incidents"] if i["unit"] == "sendmail.service")
    first = hint.index("`ss -ltnp '( sport = :25 or sport = :587 )'`")
    second = hint.index("sendmail could not bind 127.0.0.1:25: an INADDR_ANY listener from another "
                        "DaemonPortOptions line already holds it")
    assert first < second and "1) Another process holds the port" in hint


# 4. three discovery messages, three hints
def test_each_discovery_message_gets_its_own_hint(tmp_path: Path) -> None:
    zen = _lines(tmp_path, "zen.log", [
        "Apr 20 17:37:07 tourny elasticsearch[10763]: ERROR: [1] bootstrap checks failed",
        "Apr 20 17:37:07 tourny elasticsearch[10763]: [1]: discovery type [zen] is unsuitable for production use",
    ])
    alpha = _lines(tmp_path, "alpha.log", [
        "[2016-03-30 23:12:05,787][ERROR][bootstrap                ] Exception",
        "java.lang.RuntimeException: bootstrap checks failed",
        "please set [discovery.zen.minimum_master_nodes] to a majority of the number of master eligible nodes in your cluster",
    ])
    hints = {}
    for path in (zen, alpha, ES / "es7.17.3-docker-discovery.log"):
        _, data = _causes(tmp_path / path.stem, path)
        hints[path.stem] = data["incidents"][0]["hint"]
    assert "remove discovery.type" in hints["zen"] and "initial_master_nodes" not in hints["zen"].split("(")[0]
    assert "master-eligible nodes / 2) + 1" in hints["alpha"] and "single-node" not in hints["alpha"]
    assert "`discovery.type: single-node`" in hints["es7.17.3-docker-discovery"]


# 5. a user manager's unit (systemd[2900]; USER_UNIT= in the journal) gets --user commands
def test_a_user_managers_unit_gets_user_commands(tmp_path: Path) -> None:
    _, data = _causes(tmp_path, SYSTEMD / "ubuntu20.04-user-manager-71-OSERR.log")
    keyring = next(i for i in data["incidents"] if i["unit"] == "gnome-keyring-ssh.service")
    assert "`journalctl -b --user-unit gnome-keyring-ssh.service`" in keyring["remediation"]
    xdg = next(i for i in data["incidents"] if i["unit"] == "xdg-permission-store.service")
    assert "`systemctl --user restart xdg-permission-store.service`" in xdg["remediation"]
    assert "-u xdg-permission-store" not in xdg["remediation"]


def test_a_user_unit_of_the_binary_journal_gets_systemctl_user(tmp_path: Path) -> None:
    _, data = _causes(tmp_path, CORPUS / "real/systemd/no-rtc")
    xsettings = next(i for i in data["incidents"] if i["unit"] == "org.gnome.SettingsDaemon.XSettings.service")
    assert "`systemctl --user start org.gnome.SettingsDaemon.XSettings.service`" in xsettings["remediation"]


def test_the_system_manager_keeps_system_commands(tmp_path: Path) -> None:
    _, data = _causes(tmp_path, SYSTEMD / "centos7-nginx-selinux-journalctl-u.log")
    assert "`journalctl -b -u nginx.service`" in data["incidents"][0]["remediation"]


# 6. the other job results and the JVM checks
def test_the_other_job_results_are_failures(tmp_path: Path) -> None:
    path = _lines(tmp_path, "jobs.log", [
        "2024-01-01T10:01:00+00:00 h2 systemd[1]: Timed out starting Foo Daemon.",
        "2024-01-01T10:07:00+00:00 h8 systemd[1]: Stopped Qux with error.",
    ])
    _, data = _causes(tmp_path, path, DATA / "tester/sysd.log")
    titles = {i["failure"]["title"] for i in data["incidents"] if i["failure"]}
    assert {"timed out starting Foo Daemon", "Qux stopped with an error"} <= titles
    mount = next(i for i in data["incidents"] if i["unit"] == "data.mount")
    assert "systemd.start_failed" in mount["failure"]["signatures"]  # "Failed to mount /data."


def test_a_docker_exit_78_is_the_nodes_failure(tmp_path: Path) -> None:
    text, data = _causes(tmp_path, ES / "es5-docker-likely-too-low.log")
    (inc,) = data["incidents"]
    assert inc["failure"]["label"] == "exit 78, EX_CONFIG"
    assert "errors, no failure seen" not in text


def test_the_jvm_checks_name_the_option_to_change(tmp_path: Path) -> None:
    path = _lines(tmp_path, "jvm.log", [
        "bootstrap check failure [1] of [3]: JVM is using the serial collector but should not be for the best "
        "performance; either it's the default for the VM [OpenJDK 64-Bit Server VM] or -XX:+UseSerialGC was explicitly specified",
        "bootstrap check failure [2] of [3]: OnOutOfMemoryError [kill -9 %p] requires forking but is prevented by "
        "system call filters; upgrade to at least Java 8u92 and use ExitOnOutOfMemoryError",
        "bootstrap check failure [3] of [3]: granting the all permission effectively disables security",
    ])
    text, data = _causes(tmp_path, path)
    hints = " ".join(c["hint"] for i in data["incidents"] for c in i["causes"])
    assert text.count("— hint: ") == 3  # each check with its own hint, not a bare "also:" (all must be fixed)
    assert "-XX:+UseSerialGC" in hints and "-XX:+ExitOnOutOfMemoryError" in hints and "AllPermission" in hints
    assert "the text names the setting to change" not in hints


# 7. no systemd unit where the log shows none; OpenSearch is named
def test_a_container_log_names_the_program_not_a_systemd_unit(tmp_path: Path) -> None:
    text, data = _causes(tmp_path, ES / "opensearch-variant-docker.log")
    (inc,) = data["incidents"]
    assert inc["headline"].startswith("OpenSearch node (container opensearch-node1) failed — cause: "
                                      "vm.max_map_count is 65530, the node needs 262144")
    assert "elasticsearch.service" not in inc["headline"]


def test_a_journal_log_keeps_its_unit(tmp_path: Path) -> None:
    _, data = _causes(tmp_path, ES / "es7.3.1-rpm-systemd-status78-and-log.log")
    assert any(i["headline"].startswith("elasticsearch.service failed (exit 78, EX_CONFIG)") for i in data["incidents"])
