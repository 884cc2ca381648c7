"""``journalctl -o with-unit`` lines (``sendmail.service[123]: ...``) name a unit, not a process:
recognition matches them as the process the signature files' ``units`` table gives that unit
(`shipper.enrich.recognise.UnitMap.process`), so that a with-unit dump of a real journal is
recognised, and gets its ``sendmail.*`` fields, as a ``short-iso`` dump of the same journal."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from shipper.cli import main
from shipper.enrich.recognise import Recognise
from shipper.env import Env
from shipper.event import Doc
from tests.helpers.journal import export_entry, make_journal
from tests.helpers.parse import parse_text, read_lines

DATA = Path(__file__).parent.parent / "data"
SENDMAIL = [  # the seed's sendmail incident, the appliance's SYSERR, and a RHEL 6 maillog with ordinary lines
    DATA / "seed" / "messages-sendmail.log",
    DATA / "seed" / "maillog-appliance.log",
    DATA / "corpus" / "excerpts" / "sendmail" / "rhel6-sendmail-8.14.4-maillog.log",
]
_LINE = re.compile(r"(\w+ +\d+ [\d:]+) (\S+) ([\w-]+)\[(\d+)\]: (.*)")


def _export() -> bytes:
    """The lines as a journal has them: sendmail's in sendmail.service, systemd's in init.scope."""
    out = b""
    lines = [line for path in SENDMAIL for line in path.read_text().splitlines()]
    for seq, line in enumerate(lines):
        m = _LINE.fullmatch(line)
        assert m is not None, line
        stamp, host, ident, pid, message = m.groups()
        at = datetime.strptime(f"2017 {stamp}", "%Y %b %d %H:%M:%S").replace(tzinfo=timezone.utc)
        out += export_entry({
            "__REALTIME_TIMESTAMP": str(int(at.timestamp()) * 1_000_000), "_HOSTNAME": host, "PRIORITY": "3",
            "SYSLOG_IDENTIFIER": ident, "_COMM": ident, "_PID": pid, "MESSAGE": message,
            "_SYSTEMD_UNIT": "init.scope" if ident == "systemd" else "sendmail.service",
        }, seq=seq)
    return out


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``journalctl -o with-unit`` and ``-o short-iso`` of one real journal."""
    base = tmp_path_factory.mktemp("with-unit")
    journal = make_journal(base / "journal", _export())
    out = {}
    for mode in ("with-unit", "short-iso"):
        text = subprocess.run(["journalctl", "--file", str(journal), "--utc", "-o", mode], check=True,
                              capture_output=True, text=True, env={"TZ": "UTC", "SYSTEMD_COLORS": "0"}).stdout
        out[mode] = base / f"{mode}.txt"
        out[mode].write_text(text)
    assert "gorp sendmail.service[24097]: NOQUEUE: SYSERR(root)" in out["with-unit"].read_text()
    return out


def _view(doc: Doc) -> tuple[object, ...]:
    """What recognition made of a document, ``sendmail`` as written (its keys' order too)."""
    rc = doc.get("rootcause", {})
    cause = rc.get("cause") or {}
    return (doc["@timestamp"], rc.get("signature"), rc.get("role"), rc.get("unit"), rc.get("title"), rc.get("hint"),
            rc.get("remediation"), cause.get("signature"), orjson.dumps(doc.get("sendmail")))


def _replayed(env: Env, path: Path, out: Path, *args: str) -> list[tuple[object, ...]]:
    assert main(["replay", "--quiet", "--timezone", "UTC", "--output", "ndjson", "-o", str(out), *args, str(path)],
                env) == 0
    return [_view(orjson.loads(line)) for line in out.read_bytes().splitlines()]


def test_recognised_in_python_as_the_short_iso_lines(dumps: dict[str, Path]) -> None:
    docs = {mode: Recognise().enrich(parse_text("syslog", read_lines(p), year=None, timezone="UTC"))
            for mode, p in dumps.items()}
    with_unit, short_iso = docs["with-unit"], docs["short-iso"]
    assert [_view(d) for d in with_unit] == [_view(d) for d in short_iso]
    assert sum("sendmail" in d for d in with_unit) >= 15
    named = {d["process"].get("name") for d in with_unit}
    assert named == {None, "systemd"}  # sendmail's lines: matched as sendmail's, their process.name not guessed


# With the C tail (the default without --since) and the journal lane, a document that names no process
# but a unit is left to Python (shipper/parallel/_express_docs.c, _express_journal.c).


@pytest.mark.parametrize("args", [
    pytest.param(("--since", "2017-01-01T00:00Z", "--workers", "0"), id="python"),
    pytest.param(("--workers", "0"), id="tail"),
    pytest.param(("--workers", "2"), id="workers"),
])
def test_a_with_unit_dump_replays_as_the_short_iso_dump(env: Env, tmp_path: Path, dumps: dict[str, Path],
                                                        args: tuple[str, ...]) -> None:
    with_unit = _replayed(env, dumps["with-unit"], tmp_path / "with-unit.ndjson", *args)
    short_iso = _replayed(env, dumps["short-iso"], tmp_path / "short-iso.ndjson", *args)
    signatures = {v[1] for v in short_iso}
    assert {"sendmail.bind_address_in_use", "sendmail.socket_failed", "systemd.unit_failed"} <= signatures
    assert [v[:8] for v in with_unit] == [v[:8] for v in short_iso]  # recognised alike
    assert with_unit == short_iso  # and the sendmail.* fields alike


@pytest.mark.parametrize(("systemd", "process"), [
    ({"unit": "sendmail.service"}, "sendmail"),
    ({"unit": "elasticsearch.service"}, "elasticsearch"),
    ({"unit": "user@1000.service", "user_unit": "sendmail.service"}, "sendmail"),  # the user unit is the sender's
    ({"unit": "polkit.service"}, None),  # no signature file's unit: not guessed
])
def test_the_units_table_gives_the_process(systemd: dict[str, str], process: str | None) -> None:
    assert Recognise().units.process({"systemd": systemd}) == process


@pytest.fixture(scope="module")
def nameless(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal whose sendmail.service entries name no process (no SYSLOG_IDENTIFIER, no _COMM:
    journald could not read them from a process that had exited)."""
    lines = (DATA / "corpus" / "excerpts" / "sendmail" / "rhel6-sendmail-8.14.4-maillog.log").read_text().splitlines()
    export = b"".join(export_entry({"_SYSTEMD_UNIT": "sendmail.service", "_PID": str(4200 + seq), "PRIORITY": "6",
                                    "MESSAGE": line.split("]: ", 1)[1]}, seq=seq) for seq, line in enumerate(lines))
    return make_journal(tmp_path_factory.mktemp("nameless"), export)


@pytest.mark.parametrize("args", [
    pytest.param(("--workers", "0"), id="tail"),
    pytest.param(("--workers", "2"), id="lane"),
])
def test_journal_entries_of_a_unit_without_a_process_name(env: Env, tmp_path: Path, nameless: Path,
                                                          args: tuple[str, ...]) -> None:
    """The C paths (the tail of one process, the journal lane of the workers) give what the Python
    stages give (with --since: no C tail), byte for byte."""
    python = tmp_path / "python.ndjson"
    _replayed(env, nameless, python, "--since", "2017-01-01T00:00Z", "--workers", "0")
    assert sum(b'"sendmail":{"queue_id":"r5I9Yc' in line for line in python.read_bytes().splitlines()) == 4
    _replayed(env, nameless, tmp_path / "c.ndjson", *args)
    assert (tmp_path / "c.ndjson").read_bytes() == python.read_bytes()
