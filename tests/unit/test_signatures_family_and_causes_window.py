"""`shipper signatures --family` takes the families of the signature files (kernel was missing from
its help, and an unknown family printed "0 signatures" with exit 0); one signature is "1 signature".
`shipper causes` with a window counts the events in the window, and says so (it said "N stored")."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode
from shipper.recognise.rules import load_rules

DEMO_LOGS = Path(__file__).resolve().parents[2] / "demo" / "logs"


def _out(env: Env) -> str:
    return env.stdout.getvalue()  # type: ignore[attr-defined]


def _err(env: Env) -> str:
    return env.stderr.getvalue()  # type: ignore[attr-defined]


def test_family_help_lists_every_family_of_the_signature_files(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    families = [f.name for f in load_rules().families]
    assert "kernel" in families
    assert main(["signatures", "--help"], env) == 0
    assert f"only this family: {', '.join(families)}" in " ".join(capsys.readouterr().out.split())


def test_an_unknown_family_is_a_usage_error_naming_the_families(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signatures", "--family", "bogus"], env) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err
    assert all(repr(f.name) in err for f in load_rules().families)
    assert _out(env) == ""


def test_a_family_lists_its_own_signatures(env: Env) -> None:
    assert main(["signatures", "--family", "kernel"], env) == 0
    kernel = [s for s in load_rules().signatures if s.family == "kernel"]
    assert len(kernel) == 2  # the OOM killer and, since session 16, the boot banner
    assert _out(env).splitlines()[-1].startswith("2 signatures (")
    assert _out(env).startswith(f"{kernel[0].id}  [") and "systemd.oom_killed" not in _out(env)
    assert all(f"{s.id}  [" in _out(env) for s in kernel)


def test_causes_counts_the_events_of_its_window(env: Env, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    quiet = Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})
    assert main(["replay", "--quiet", "--store", str(store), "--year", "2017", "--timezone", "UTC", str(DEMO_LOGS)],
                quiet) == 0
    assert main(["causes", "--store", str(store)], env) == 0
    assert "events: 26 stored, 0 unparsed, 22 recognised" in _out(env)
    env.stdout = io.StringIO()
    window = ["--since", "2017-08-30T14:56:00Z", "--until", "2017-08-30T14:57:00Z"]
    assert main(["causes", "--store", str(store), *window], env) == 0
    assert "events in this window: 5, 0 unparsed, 5 recognised" in _out(env)
    assert "stored" not in _out(env).splitlines()[-3]
