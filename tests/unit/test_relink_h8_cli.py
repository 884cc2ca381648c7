"""`shipper relink` (and `causes`) on the command line: an age needs no time zone (a TZ that names
none is no error then), the summary of a namespace nothing matched, a config that names no
cluster, and credentials without the cluster privilege monitor."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakees import FakeES, Grant
from tests.helpers.es import err, make_env, out, run_command
from tests.helpers.samples import SEED

BOGUS = {"TZ": "Bogus/Zone"}


def operator(tmp: Path, extra: str = "") -> Path:
    path = tmp / "operator.yml"
    path.write_text(f"state_dir: {tmp / 's'}\n{extra}")
    return path


@pytest.mark.parametrize("window", [["--since", "2h"], ["--until", "2017-08-31T00:00:00+02:00"]])
def test_a_tz_that_names_no_zone_is_no_error_for_times_that_need_none(es: FakeES, tmp_path: Path,
                                                                       window: list[str]) -> None:
    env = make_env(BOGUS)
    assert run_command("relink", ["--es-url", es.url, "--config", str(operator(tmp_path)), *window], env) == 0, err(env)
    db = tmp_path / "events.db"
    env = make_env({"TZ": "UTC"})
    assert run_command("replay", ["--quiet", "--store", str(db), "--year", "2017", "--timezone", "UTC",
                                  str(SEED / "messages-sendmail.log")], env) == 0, err(env)
    env = make_env(BOGUS)
    assert run_command("causes", ["--store", str(db), *window], env) == 0, err(env)
    env = make_env(BOGUS)  # a time without a zone still needs one
    assert run_command("causes", ["--store", str(db), "--since", "2017-08-30T14:00"], env) == 2
    assert "the environment variable TZ='Bogus/Zone' is not a time zone" in err(env), err(env)


def test_a_namespace_nothing_matches_is_said(es: FakeES, tmp_path: Path) -> None:
    cfg = operator(tmp_path, "output:\n  elasticsearch:\n    namespace: other\n")
    env = make_env()
    assert run_command("relink", ["--es-url", es.url, "--config", str(cfg), "--since", "2017-08-30T14:00:00Z",
                                  "--until", "2017-08-31T00:00:00Z"], env) == 0, err(env)
    said = out(env)
    assert ("relink: nothing matched logs-shipper.*-other: Elasticsearch holds no data stream of shipper in "
            "namespace 'other'") in said, said
    assert ("relink: no recognised events from 2017-08-30T14:00:00.000000Z until 2017-08-31T00:00:00.000000Z (not "
            "included)\n") in said, said
    assert "widened" not in said


def test_a_config_that_names_no_cluster_is_an_error(tmp_path: Path) -> None:
    env = make_env()
    cfg = operator(tmp_path)
    assert run_command("relink", ["--config", str(cfg)], env) == 2
    assert (f"shipper: error: relink needs to know which Elasticsearch to relink: {cfg} has no output.elasticsearch "
            "section, and no --es-url") in err(env), err(env)


def test_credentials_without_monitor_are_told_what_relink_needs(tmp_path: Path) -> None:
    grants = {"ApiKey b3A6a2V5": Grant(user="op", cluster=set(), index={"read", "index"})}
    cfg = operator(tmp_path, "output:\n  elasticsearch:\n    api_key_env: ES_KEY\n")
    with FakeES("9.1.0", credentials=grants) as fake:
        env = make_env({"ES_KEY": "b3A6a2V5"})
        assert run_command("relink", ["--es-url", fake.url, "--config", str(cfg)], env) == 6
    said = err(env)
    assert "(403): " in said and "deploy/elasticsearch-role.json; `shipper check`" not in said, said
    assert ("relink needs the cluster privilege monitor (to read the server version) and the index privileges read "
            "and index on logs-shipper.*-*") in said, said
