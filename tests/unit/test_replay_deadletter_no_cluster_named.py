"""`shipper replay --output es` and `shipper deadletter retry` told no cluster (no --es-url, and no
output.elasticsearch in --config, or no --config) went to http://localhost:9200, as setup and check
did: now they refuse (exit 2) and say what to give, before anything is read or sent. `deadletter
list` reads only the local dead letter: it needs no cluster."""

from __future__ import annotations

from pathlib import Path

from shipper.errors import ExitCode
from tests.helpers.es import err, make_env, out, run_command


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "shipper.yml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n")
    return path


def test_replay_into_elasticsearch_needs_a_named_cluster(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("Aug 30 14:56:07 gorp systemd[1]: sendmail.service: Failed with result 'exit-code'.\n")
    for argv in (["--config", str(_config(tmp_path))], []):
        env = make_env()
        assert run_command("replay", ["--output", "es", *argv, str(log)], env) == ExitCode.USAGE
        said = err(env)
        assert "shipper: error: replay --output es needs to know which Elasticsearch to send the events to: " in said
        assert ("has no output.elasticsearch section, and no --es-url" if argv else
                "no --config given, and no --es-url") in said, said


def test_deadletter_retry_needs_a_named_cluster_and_list_does_not(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    env = make_env()
    assert run_command("deadletter", ["retry", "--config", str(cfg)], env) == ExitCode.USAGE
    said = err(env)
    assert ("shipper: error: deadletter retry needs to know which Elasticsearch to send the documents to: "
            f"{cfg} has no output.elasticsearch section, and no --es-url") in said, said
    env = make_env()
    assert run_command("deadletter", ["list", "--config", str(cfg)], env) == 0
    assert "is empty: Elasticsearch has refused no document" in out(env), out(env)
