"""An incident ends where its unit starts again (`systemd.unit_started`, kept by
`shipper.enrich.nearby` only after a failure or error of the unit) and at a new boot: a later
failure of the unit is a new incident, never linked to a cause from before the start."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from shipper.cli import main
from shipper.env import Env

DATA = Path(__file__).resolve().parents[1] / "data" / "incident_bounds"


def _incidents(tmp_path: Path, log: Path) -> list[dict[str, Any]]:
    store = tmp_path / "s.db"
    env = Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})
    assert main(["replay", "--store", str(store), "--timezone", "UTC", "--year", "2024", "--quiet", str(log)], env) == 0
    stdout = io.StringIO()
    out = Env(stdin=io.BytesIO(), stdout=stdout, stderr=io.StringIO(), environ={"TZ": "UTC"})
    assert main(["causes", "--store", str(store), "--format", "json"], out) == 0
    return [i for i in json.loads(stdout.getvalue())["incidents"] if i["unit"] == "sendmail.service"]


def test_a_failure_after_a_successful_start_is_a_new_incident(tmp_path: Path) -> None:
    first, second = sorted(_incidents(tmp_path, DATA / "crosslink2.log"), key=lambda i: i["first"])
    assert first["last"].startswith("2024-08-30T14:53:00")  # ended by "Started Sendmail Mail Transport Agent."
    assert second["first"].startswith("2024-08-30T14:58:00") and not second["causes"]
    assert "SIGKILL" in second["hint"]


def test_a_cause_before_a_start_is_not_the_cause_of_a_later_failure(tmp_path: Path) -> None:
    incidents = _incidents(tmp_path, DATA / "crosslink.log")
    killed = [i for i in incidents if i["first"].startswith("2024-08-30T14:58:00")]
    assert len(killed) == 1 and not killed[0]["causes"]
