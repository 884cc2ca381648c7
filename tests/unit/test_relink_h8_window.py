"""`shipper relink` links with the incident window the runs that sent the documents used: a
SYSERR 16 minutes before sendmail.service failed, linked by a replay with a 30-minute window,
stays linked with --incident-window 30m or a config that sets it, and the summary says which
window was used and where it came from; with the default, stderr says what that may change. A
replay into Elasticsearch names its window in the relink it suggests, and no config of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakees import FakeES
from tests.helpers.es import err, make_env, out, run_command
from tests.helpers.samples import SEED

SYSLOG = "logs-shipper.syslog-default"
FAST = "output:\n  elasticsearch:\n    retry_initial: 5ms\n    retry_max: 20ms\n"


def late_failure(tmp: Path) -> tuple[Path, Path]:
    """The seed's causes, and systemd's failure of sendmail.service 16 minutes after the last."""
    lines = (SEED / "messages-sendmail.log").read_text().splitlines(keepends=True)
    causes, failure = tmp / "maillog", tmp / "messages"
    causes.write_text("".join(line for line in lines if " sendmail[" in line))
    failure.write_text("".join(line.replace("14:56:07", "15:12:07") for line in lines if " systemd[1]: " in line))
    return causes, failure


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def replay(fake: FakeES, cfg: Path, *files: Path) -> str:
    env = make_env()
    argv = ["--output", "es", "--es-url", fake.url, "--config", str(cfg), "--year", "2017", "--timezone", "UTC",
            "--workers", "0", *map(str, files)]
    assert run_command("replay", argv, env) == 0, err(env)
    return err(env)


def relink(fake: FakeES, cfg: Path, *extra: str, code: int = 0) -> tuple[str, str]:
    env = make_env()
    assert run_command("relink", ["--es-url", fake.url, "--config", str(cfg), *extra], env) == code, err(env)
    return out(env), err(env)


def failure_cause(fake: FakeES) -> Any:
    (rc,) = [d["rootcause"] for d in fake.docs(SYSLOG).values() if "Main process exited" in d["message"]]
    return (rc.get("cause") or {}).get("signature")


def test_relink_keeps_the_links_of_a_run_with_another_window(es: FakeES, tmp_path: Path) -> None:
    wide = write(tmp_path / "wide.yml", f"state_dir: {tmp_path / 's'}\nrecognise:\n  incident_window: 30m\n{FAST}")
    operator = write(tmp_path / "operator.yml", f"state_dir: {tmp_path / 's'}\n{FAST}")
    causes, failure = late_failure(tmp_path)
    said = replay(es, wide, causes, failure)
    assert failure_cause(es) == "sendmail.bind_address_in_use"
    assert "--incident-window 30m" in said and f"--config {wide}" not in said, said

    stdout, stderr = relink(es, operator, "--incident-window", "30m", "--dry-run")
    assert "0 documents would be updated" in stdout, stdout
    assert "relink: linked with an incident window of 30 minutes (--incident-window)\n" in stdout, stdout
    assert stderr == ""
    stdout, stderr = relink(es, wide)
    assert "0 documents updated" in stdout and failure_cause(es) == "sendmail.bind_address_in_use", stdout
    assert f"relink: linked with an incident window of 30 minutes (recognise.incident_window in {wide}:3)\n" \
        in stdout, stdout
    assert stderr == ""

    stdout, stderr = relink(es, operator)  # nothing says 30m: the default unlinks them, and says so
    assert failure_cause(es) is None
    assert (f"relink: linked with an incident window of 10 minutes (the default: no --incident-window, {operator} "
            "sets no recognise.incident_window)\n") in stdout, stdout
    assert ("relink: linking with the default incident window, 10 minutes (no --incident-window, "
            f"{operator} sets no recognise.incident_window): the links made by runs with another "
            "recognise.incident_window would change; give theirs with --incident-window (e.g. --incident-window "
            "30m)\n") == stderr, stderr
    relink(es, operator, "--incident-window", "30m")
    assert failure_cause(es) == "sendmail.bind_address_in_use"


@pytest.mark.parametrize("value", ["ten minutes", "0"])
def test_an_incident_window_that_is_no_duration_is_refused(es: FakeES, tmp_path: Path, value: str) -> None:
    operator = write(tmp_path / "operator.yml", f"state_dir: {tmp_path / 's'}\n")
    _, said = relink(es, operator, "--incident-window", value, code=2)
    assert "shipper: error: --incident-window" in said, said


def test_the_replay_hint_names_no_config_of_its_own_and_its_window_only_when_not_the_default(
        es: FakeES, tmp_path: Path) -> None:
    own = write(tmp_path / "own.yml", f"state_dir: {tmp_path / 's'}\n{FAST}")
    said = replay(es, own, *late_failure(tmp_path))
    (line,) = [line for line in said.splitlines() if "shipper relink" in line]
    assert line.endswith(f"shipper relink --config OPERATOR.yml --es-url {es.url} --since 2017-08-30T14:55:47Z "
                         "--until 2017-08-30T15:12:08Z"), line
    assert "an operator's credentials (the index privileges read and index on logs-shipper.*-*" in line, line
