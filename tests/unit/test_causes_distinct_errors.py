"""Different errors of one signature stay different cause lines in `shipper causes`, its JSON and
the HTML report; the same error repeated still folds into one line with ×N."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from shipper.cli import main
from shipper.env import Env
from tests.helpers.browser import replay, report, text
from tests.unit.test_report_html import unpack

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "corpus" / "excerpts"

TWO_SYSERRS = """\
Oct 16 16:04:40 h3 sendmail[300]: NOQUEUE: SYSERR(root): hash map "access": missing map file /etc/mail/access.db: No such file or directory
Oct 16 16:04:41 h3 sendmail[300]: NOQUEUE: SYSERR(root): hash map "access": missing map file /etc/mail/access.db: No such file or directory
Oct 16 16:04:41 h3 sendmail[300]: NOQUEUE: SYSERR(root): can not chdir(/var/spool/mqueue/): Permission denied
Oct 16 16:04:42 h3 systemd[1]: sendmail.service: Main process exited, code=exited, status=71/OSERR
Oct 16 16:04:42 h3 systemd[1]: sendmail.service: Failed with result 'exit-code'.
"""
TWO_CHECKS = """\
[2019-05-14T09:12:01,125][ERROR][o.e.b.Bootstrap          ] [node-1] node validation exception
[2] bootstrap checks failed
[1]: max size virtual memory [4294967296] for user [elasticsearch] is too low, increase to [unlimited]
[2]: max file size [1048576] for user [elasticsearch] is too low, increase to [unlimited]
"""


def _store(tmp_path: Path, env: Env, log: str) -> Path:
    source = tmp_path / "input.log"
    source.write_text(log)
    return replay([source], tmp_path / "events.db", env)


def _causes(store: Path, env: Env, *extra: str) -> str:
    env.stdout.seek(0)
    env.stdout.truncate()
    assert main(["causes", "--store", str(store), *extra], env) == 0
    return text(env.stdout)


def _embedded_report(store: Path, env: Env) -> Any:
    page = store.parent / "report.html"
    assert report(store, page, env) == 0
    m = re.search(r'<script type="application/json" id="shipper-data">(.*?)</script>', page.read_text(), re.S)
    assert m
    packed = json.loads(m.group(1))
    return unpack(packed["strings"], packed["data"])["report"]


def test_two_different_syserrs_are_two_causes_everywhere(tmp_path: Path, env: Env) -> None:
    store = _store(tmp_path, env, TWO_SYSERRS)
    out = _causes(store, env)
    assert 'cause: sendmail system error: hash map "access": missing map file /etc/mail/access.db: ' \
           "No such file or directory (×2, 16:04:40–16:04:41)" in out  # the same error twice: one line
    assert "also: sendmail system error: can not chdir(/var/spool/mqueue/): Permission denied (×1, 16:04:41) " \
           "— hint: user root cannot enter the queue directory /var/spool/mqueue/" in out
    assert "      remediation: `ls -ld /var/spool/mqueue/`" in out  # its fix is not the first one's
    data = json.loads(_causes(store, env, "--format", "json"))
    (incident,) = data["incidents"]
    assert [(c["signature"], c["count"]) for c in incident["causes"]] == [("sendmail.syserr", 2), ("sendmail.syserr", 1)]
    assert incident["causes"][1]["remediation"].startswith("`ls -ld /var/spool/mqueue/`")
    assert _embedded_report(store, env) == data


def test_two_different_checks_of_one_signature_are_two_causes(tmp_path: Path, env: Env) -> None:
    store = _store(tmp_path, env, TWO_CHECKS)
    (incident,) = json.loads(_causes(store, env, "--format", "json"))["incidents"]
    assert [c["title"] for c in incident["causes"]] == [
        "bootstrap check failed: max size virtual memory [4294967296] for user [elasticsearch] is too low, increase to [unlimited]",
        "bootstrap check failed: max file size [1048576] for user [elasticsearch] is too low, increase to [unlimited]",
    ]
    assert "LimitFSIZE=infinity" in _causes(store, env)


def test_the_corpus_syserrs_keep_each_error(tmp_path: Path, env: Env) -> None:
    store = replay([CORPUS / "sendmail" / "sendmail-syserr-misc.log"], tmp_path / "events.db", env)
    out = _causes(store, env)
    assert "No local mailer defined (×1, 16:04:41) — hint: sendmail.cf defines no local mailer" in out

