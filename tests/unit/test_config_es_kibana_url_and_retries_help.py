"""``output.elasticsearch.kibana_url`` is checked as ``hosts`` are, so that `shipper validate` (not
only `shipper setup`) refuses one without http(s)://; and ``max_item_retries`` says which item
failures it does not bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode


def validate(env: Env, tmp_path: Path, es: str) -> tuple[int, str, str]:
    path = tmp_path / "shipper.yml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\ninputs:\n  - type: file\n    paths: [/var/log/messages]\n"
                    f"output:\n  elasticsearch:\n    hosts: [https://es1.example:9200]\n{es}")
    code = main(["validate", "--config", str(path)], env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("url", "said"), [
    ("kibana.example:5601", "kibana_url 'kibana.example:5601' needs http:// or https:// in front, "
                            "e.g. https://kibana.example:5601"),
    ("https://kibana.example:0", "kibana_url 'https://kibana.example:0' is not a URL of the form https://HOST:PORT"),
    ("https://admin:secret@kibana.example", "kibana_url kibana.example: credentials may not be written in a URL"),
])
def test_validate_refuses_a_kibana_url_that_is_not_one(env: Env, tmp_path: Path, url: str, said: str) -> None:
    code, out, err = validate(env, tmp_path, f"    kibana_url: {url}\n")
    assert code == ExitCode.CONFIG and out == ""
    assert f"shipper.yml:6: output.elasticsearch: {said}" in err, err
    assert "secret" not in err


def test_a_kibana_url_with_its_scheme_is_valid(env: Env, tmp_path: Path) -> None:
    code, out, err = validate(env, tmp_path, "    kibana_url: https://kibana.example:5601/base\n")
    assert (code, err) == (ExitCode.OK, "") and out.startswith("config valid: ")


def test_max_item_retries_says_which_failures_it_does_not_bound(env: Env, tmp_path: Path) -> None:
    code, _, err = validate(env, tmp_path, "    max_item_retries: many\n")
    assert code == ExitCode.CONFIG
    assert ("item-level 5xx retries before the item goes to the dead letter (429s retry forever; "
            "in `shipper run`, 502/503/504 too)") in err, err
