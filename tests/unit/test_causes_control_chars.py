"""`shipper causes` prints no terminal control character that came from the logs.

Any local user can log ``ESC [2J`` (clear the screen) or ``ESC ]0;title BEL`` (set the window
title) through syslog or the journal; in a host name, a process name, a message quoted in a title
or a hint. The text output shows them as escapes (``\\x1b``, ``\\t``); the JSON keeps them as they are
(escaped by JSON itself).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from shipper.cli import main
from shipper.env import Env
from tests.helpers.browser import replay, text
from tests.helpers.hostile_logs import CLEAR, OSC_TITLE, control_characters

# any C0 control but the line ends of the output itself, DEL, any C1 control
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _causes(store: Path, env: Env, *extra: str) -> str:
    env.stdout.seek(0)
    env.stdout.truncate()
    assert main(["causes", "--store", str(store), *extra], env) == 0, text(env.stderr)
    return text(env.stdout)


def test_text_output_escapes_control_characters_from_the_logs(tmp_path: Path, env: Env) -> None:
    store = replay(control_characters(tmp_path), tmp_path / "s.db", env)
    out = _causes(store, env)
    assert CONTROL.search(out) is None, f"control character in the output: {CONTROL.findall(out)}"
    blocks = [b for b in out.split("\n\n") if not b.startswith("events:")]
    assert len(blocks) == 2
    assert out.count("2017-08-30 14:55:58Z  gorp\\x1b[2J  sendmail.service failed (exit 71, EX_OSERR)") == 1
    assert "2017-08-30 14:55:58Z  mx\\x1b]0;PWNED\\x07  sendmail.service failed" in out  # the host
    assert "daemon \\x1b]0;PWNED\\x07: cannot bind: Address already in use\\x1b[2J" in out  # the cause and hint
    assert "daemon \\x1b[2JMTA\\tX\\x9b31m: cannot bind" in out
    assert "  by process: " in out and "evil\\x1b]0;PWNED\\x07 1" in out
    assert "  by host: " in out and "gorp\\x1b[2J 3" in out


def test_json_output_keeps_the_text_as_logged(tmp_path: Path, env: Env) -> None:
    store = replay(control_characters(tmp_path), tmp_path / "s.db", env)
    out = _causes(store, env, "--format", "json")
    assert "\x1b" not in out and "\\u001b" in out  # JSON escapes C0 controls itself
    data = json.loads(out)
    assert {i["host"] for i in data["incidents"]} == {f"gorp{CLEAR}", f"mx{OSC_TITLE}"}
    assert data["counts"]["by_process"][f"evil{OSC_TITLE}"] == 1
    messages = [c["message"] for i in data["incidents"] for c in i["causes"]]
    assert any(m.endswith(f"Address already in use\nsecond line\r{OSC_TITLE}") for m in messages)


def test_printable_keeps_text_and_escapes_every_control() -> None:
    from shipper.report.causes import printable

    assert printable("sendmail: ×3 — Adresse déjà utilisée \\x1b") == "sendmail: ×3 — Adresse déjà utilisée \\x1b"
    assert printable("a\tb\nc\rd\x00e\x1b[2Jf\x7fg\x85h\x9bi") == "a\\tb\\nc\\rd\\x00e\\x1b[2Jf\\x7fg\\x85h\\x9bi"
