"""`shipper causes` and `shipper signatures`, on a real SQLite store filled through the pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.samples import CORPUS, SEED, enrich_all, parse_paths
from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode
from shipper.report.causes import build_incidents, headline, render_text, to_json
from shipper.sinks.local import LocalStore

SEED_HEADLINE = (
    "sendmail.service failed (exit 71, EX_OSERR) — cause: sendmail could not bind its daemon socket: "
    "Address already in use (×3, 14:55:52–14:56:02) — hint: daemon Daemon1 is a second DaemonPortOptions entry "
    "(one without Name=) and an earlier one opened its socket, so two causes are likely, in this order. 1) Another "
    "process holds the port (a second MTA such as postfix or exim, a stale sendmail, a container publishing port "
    "25): check `ss -ltnp '( sport = :25 or sport = :587 )'` first. 2) If nothing else listens, sendmail collides "
    "with itself — typically sendmail could not bind 127.0.0.1:25: an INADDR_ANY listener from another "
    "DaemonPortOptions line already holds it"
)


def _store(tmp_path: Path, *paths: Path, year: int = 2017) -> Path:
    db = tmp_path / "events.db"
    store = LocalStore(db)
    try:
        store.insert(enrich_all(parse_paths(list(paths), timezone="UTC", year=year)))
    finally:
        store.close()
    return db


def _out(env: Env) -> str:
    value = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert isinstance(value, str)
    return value


def test_causes_reads_the_seed_in_one_line(tmp_path: Path, env: Env) -> None:
    db = _store(tmp_path, SEED / "messages-sendmail.log")
    assert main(["causes", "--store", str(db)], env) == ExitCode.OK
    out = _out(env)
    first = out.splitlines()[0]
    assert first.startswith("2017-08-30 14:56:07Z  gorp  ")
    assert SEED_HEADLINE in first
    assert "remediation: 1. `ss -ltnp '( sport = :25 or sport = :587 )'`" in out  # another listener first (s16)
    assert "also: sendmail daemon Daemon1 could not create its SMTP socket (×4, 14:55:47–14:56:02)" in out
    assert "exit status: EX_OSERR (71)" in out
    assert "events: 10 stored, 0 unparsed, 10 recognised" in out
    assert "by process: sendmail 7, systemd 3" in out


def test_json_is_the_same_incidents(tmp_path: Path, env: Env) -> None:
    db = _store(tmp_path, SEED / "messages-sendmail.log", SEED / "elasticsearch-bootstrap.log")
    assert main(["causes", "--store", str(db), "--format", "json"], env) == ExitCode.OK
    data: dict[str, Any] = json.loads(_out(env))
    store = LocalStore(db, create=False)
    try:
        expected = to_json(build_incidents(store.iter_docs(only_recognised=True)), store.counts())
    finally:
        store.close()
    assert data == json.loads(json.dumps(expected))
    first, second = data["incidents"]  # newest first
    assert first["unit"] == "sendmail.service" and first["failure"]["exit_code"] == 71
    assert first["failure"]["label"] == "exit 71, EX_OSERR"
    assert first["causes"][0]["signature"] == "sendmail.bind_address_in_use" and first["causes"][0]["count"] == 3
    assert second["unit"] == "elasticsearch.service" and second["failure"] is None
    assert [c["signature"] for c in second["causes"]] == [
        "elasticsearch.bootstrap.file_descriptors",
        "elasticsearch.bootstrap.max_map_count",
    ]
    assert data["counts"]["total"] == 13


def test_since_and_until(tmp_path: Path, env: Env) -> None:
    db = _store(tmp_path, SEED / "messages-sendmail.log", SEED / "elasticsearch-bootstrap.log")
    assert main(["causes", "--store", str(db), "--since", "2017-08-25", "--format", "json", "--timezone", "UTC"], env) == 0
    data = json.loads(_out(env))
    assert [i["unit"] for i in data["incidents"]] == ["sendmail.service"]
    assert data["counts"]["total"] == 10


def test_elasticsearch_exit_78_reads_with_its_check(tmp_path: Path) -> None:
    db = _store(tmp_path, CORPUS / "excerpts/elasticsearch/es8-journalctl-systemd-entrypoint-status78-CONFIG.log", year=2025)
    store = LocalStore(db, create=False)
    try:
        (incident,) = build_incidents(store.iter_docs(only_recognised=True))
    finally:
        store.close()
    line = headline(incident)
    assert line.startswith("elasticsearch.service failed (exit 78, EX_CONFIG) — cause: no discovery settings")
    assert "discovery.type: single-node" in line


def test_a_failure_without_cause_reads_so(tmp_path: Path) -> None:
    db = _store(tmp_path, CORPUS / "excerpts/systemd/centos7-docker-203-EXEC.log")
    store = LocalStore(db, create=False)
    try:
        incidents = build_incidents(store.iter_docs(only_recognised=True))
    finally:
        store.close()
    text = render_text(incidents)
    assert ("docker.service failed (exit 203/EXEC, then restarted until it hit its start limit) — no cause found — "
            "hint: no recognised error from docker.service") in text
    assert "systemd could not execute docker.service's binary (203/EXEC)" in text


def test_unparsed_lines_are_counted(tmp_path: Path, env: Env) -> None:
    db = _store(tmp_path, CORPUS / "excerpts/systemd/ubuntu16.04-tftpd-hpa-systemctl-status.txt")
    assert main(["causes", "--store", str(db)], env) == 0
    out = _out(env)
    assert "tftpd-hpa.service failed (exit 71, EX_OSERR)" in out
    assert "events: 7 stored, 7 unparsed, 2 recognised" in out


def test_no_store(tmp_path: Path, env: Env) -> None:
    assert main(["causes", "--store", str(tmp_path / "none.db")], env) == ExitCode.INPUT
    assert "no local store" in env.stderr.getvalue()  # type: ignore[attr-defined]


def test_empty_range(tmp_path: Path, env: Env) -> None:
    db = _store(tmp_path, SEED / "messages-sendmail.log")
    assert main(["causes", "--store", str(db), "--until", "2001-01-01", "--timezone", "UTC"], env) == 0
    assert _out(env).startswith("no incidents")


def test_signatures_lists_every_signature(env: Env) -> None:
    assert main(["signatures"], env) == 0
    out = _out(env)
    assert "sendmail.bind_address_in_use  [cause]" in out
    assert "systemd.process_exited  [failure]" in out
    assert "elasticsearch.bootstrap_checks_failed  [summary]" in out
    assert out.rstrip().endswith("27 signatures (elasticsearch.yaml, kernel.yaml, sendmail.yaml, systemd.yaml)")


def test_signatures_json(env: Env) -> None:
    assert main(["signatures", "--format", "json", "--family", "sendmail"], env) == 0
    data = json.loads(_out(env))
    assert [s["id"] for s in data] == [
        "sendmail.bind_address_in_use",
        "sendmail.bind_failed",
        "sendmail.socket_failed",
        "sendmail.socket_wedged",
        "sendmail.syserr",
    ]
    assert data[0]["fields"]["sendmail.daemon"] == {"var": "daemon", "type": "str"}
    assert data[0]["patterns"][0]["prefilter"] == ["cannot bind: Address already in use"]
