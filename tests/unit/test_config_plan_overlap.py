"""File inputs that would read the same file (each line shipped twice) are refused by the daemon's
plan, from `shipper validate` as from `shipper run`: a pattern given twice, or a path the other
input's glob matches. Patterns whose files are only known when the daemon runs pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.cli import main
from shipper.config import load_config
from shipper.daemon.plan import make_plan
from shipper.env import Env
from shipper.errors import ConfigError
from tests.helpers.es import err


def _config(tmp_path: Path, first: str, second: str, extra: str = "") -> Path:
    """Two file inputs: ``first`` on line 4, ``second`` on line 7 (paths relative to tmp_path/logs)."""
    logs = tmp_path / "logs"
    path = tmp_path / "shipper.yml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\ninputs:\n  - type: file\n    paths: ['{logs}/{first}']\n"
                    f"  - type: file\n    name: second\n    paths: ['{logs}/{second}']\n{extra}")
    return path


def _refusal(command: str, path: Path, env: Env) -> str:
    """What ``command`` says of the config ``path``. `shipper run` is asked through its plan, what
    it (and a reload) checks before it starts: it would not return on a config it runs."""
    if command == "validate":
        assert main(["validate", "--config", str(path)], env) == 3
        return err(env)
    with pytest.raises(ConfigError) as exc:
        make_plan(load_config(path), env, lambda line: None, env)
    return f"shipper: error: {exc.value.message}\nshipper: {exc.value.hint}"


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("first", "second", "problem"), [
    ("maillog", "mail*", "{logs}/mail* and {logs}/maillog of inputs[0] (line 4) both read {logs}/maillog"),
    ("mail*", "maillog", "{logs}/maillog and {logs}/mail* of inputs[0] (line 4) both read {logs}/maillog"),
    ("maillog", "maillog", "{logs}/maillog is read by inputs[0] (line 4) too"),
    ("mail*", "mail*", "{logs}/mail* is read by inputs[0] (line 4) too"),
    ("maillog", "[lm]ail?og", "{logs}/[lm]ail?og and {logs}/maillog of inputs[0] (line 4) both read {logs}/maillog"),
], ids=["literal then glob", "glob then literal", "same path", "same glob", "character classes"])
def test_inputs_that_read_the_same_file_are_refused(env: Env, tmp_path: Path, command: str, first: str, second: str,
                                                    problem: str) -> None:
    path = _config(tmp_path, first, second)
    said = _refusal(command, path, env)
    expected = f"shipper: error: {path}:7: inputs[1].paths[0]: " + problem.format(logs=tmp_path / "logs")
    assert expected + ": every line would be shipped twice\n" in said, said
    assert "remove it from one of the two inputs, or add it to the exclude: of one" in said
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(("first", "second", "extra"), [
    ("maillog", "mail*", "    exclude: [maillog]\n"),  # the second input leaves it out
    ("maillog", "mail.*", ""),
    ("sub/maillog", "*", ""),  # '*' does not match a '/'
    ("sub/maillog", "*/*.gz", ""),
    (".maillog", "*", ""),  # nor a leading '.' (glob)
    ("Maillog", "mail*", ""),  # case counts
    ("mail*", "maill*", ""),  # which files both match is only known at run time
], ids=["excluded", "other suffix", "other directory", "other name", "hidden file", "other case", "two globs"])
def test_inputs_not_known_to_share_a_file_are_valid(env: Env, tmp_path: Path, first: str, second: str,
                                                    extra: str) -> None:
    path = _config(tmp_path, first, second, extra)
    assert main(["validate", "--config", str(path)], env) == 0, err(env)


def test_a_home_path_and_its_expanded_glob_read_the_same_file(env: Env, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # (the daemon expands ~ with its own HOME, as `glob` does)
    path = tmp_path / "shipper.yml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\ninputs:\n  - {{type: file, paths: [~/logs/maillog]}}\n"
                    f"  - {{type: file, name: b, paths: [{tmp_path}/logs/*]}}\n")
    assert main(["validate", "--config", str(path)], env) == 3
    assert f"{path}:4: inputs[1].paths[0]: {tmp_path}/logs/* and ~/logs/maillog of inputs[0] (line 3)" in err(env)
