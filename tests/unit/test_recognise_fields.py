"""Exit statuses explained, and the fields of ordinary sendmail lines."""

from __future__ import annotations

import pytest

from helpers.samples import CORPUS, enrich_all, parse_paths, recognised
from shipper.enrich.exitcodes import explain, explain_result, label, status_name
from shipper.enrich.sendmail import parse_line


@pytest.mark.parametrize(
    "code, status, text",
    [
        ("exited", 71, "EX_OSERR (71): an operating system error"),
        ("exited", 78, "EX_CONFIG (78): a configuration error"),
        ("exited", 64, "EX_USAGE (64)"),
        ("exited", 75, "EX_TEMPFAIL (75)"),
        ("exited", 203, "EXEC (203): the ExecStart= binary could not be executed"),
        ("exited", 217, "USER (217)"),
        ("exited", 226, "NAMESPACE (226)"),
        ("exited", 1, "FAILURE (1)"),
        ("exited", 2, "INVALIDARGUMENT (2): invalid or excess arguments (LSB)"),
        ("exited", 143, "143 = 128+15: the process was killed by SIGTERM"),
        ("exited", 137, "137 = 128+9: the process was killed by SIGKILL"),
        ("killed", 9, "SIGKILL (9): killed: the OOM killer"),
        ("killed", 15, "SIGTERM (15)"),
        ("dumped", 11, "SIGSEGV (11): segmentation fault"),
        ("dumped", 6, "SIGABRT (6): aborted"),
        ("exited", 42, "exit status 42: specific to the program"),
    ],
)
def test_explain(code: str, status: int, text: str) -> None:
    assert explain(code, status).startswith(text)


def test_core_dumps_say_so() -> None:
    assert explain("dumped", 6).endswith("; core dumped")
    assert label("dumped", 6) == "SIGABRT, core dumped"


@pytest.mark.parametrize(
    "code, status, name, short",
    [
        ("exited", 71, "OSERR", "exit 71, EX_OSERR"),
        ("exited", 78, "CONFIG", "exit 78, EX_CONFIG"),
        ("exited", 203, "EXEC", "exit 203/EXEC"),
        ("killed", 9, "KILL", "killed by SIGKILL"),
        ("exited", 143, None, "exit 143 = 128+15, SIGTERM"),
    ],
)
def test_names_and_labels(code: str, status: int, name: str | None, short: str) -> None:
    assert status_name(code, status) == name
    assert label(code, status) == short


def test_systemd_results() -> None:
    assert explain_result("start-limit-hit").startswith("start-limit-hit: a restart loop")
    assert "PID file" in explain_result("protocol")
    assert explain_result("something-new") == "something-new"


def test_sysexits_names_replace_n_a_of_old_systemd() -> None:
    docs = recognised(enrich_all(parse_paths([CORPUS / "excerpts/systemd/centos7-zookeeper-143-n-a.log"], year=2017)))
    exit_doc = docs[0]
    assert exit_doc["process"]["exit_code"] == 143
    assert "exit_status_name" not in exit_doc["systemd"]  # systemd printed n/a and 143 has no name
    assert "SuccessExitStatus=143" in exit_doc["rootcause"]["remediation"]


def test_sendmail_delivery_line() -> None:
    fields = parse_line(
        "r5I9YcUV004201: to=me@egolife.com, ctladdr=root (0/0), delay=00:00:01, xdelay=00:00:01, mailer=relay, "
        "pri=37516, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (r5I9YcOE004202 Message accepted for delivery)"
    )
    assert fields == {
        "queue_id": "r5I9YcUV004201",
        "to": "me@egolife.com",
        "delay": "00:00:01",
        "mailer": "relay",
        "relay": "[127.0.0.1] [127.0.0.1]",
        "dsn": "2.0.0",
        "stat": "Sent (r5I9YcOE004202 Message accepted for delivery)",
    }


def test_sendmail_value_with_a_comma() -> None:
    fields = parse_line("jA9J1UvC004306: to=root, stat=Deferred: Connection refused, retry later, mailer=relay")
    assert fields["stat"] == "Deferred: Connection refused, retry later"
    assert fields["mailer"] == "relay"


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        # a key given twice keeps its first place and its last value
        ("q1234567: to=a, to=b, from=c, to=d", {"queue_id": "q1234567", "to": "d", "from": "c"}),
        # a wanted key without "=" as the first piece is an empty value
        ("dsn, stat=Sent, x=1", {"dsn": "", "stat": "Sent"}),
        # an unwanted key ends the value before it; "xdelay" is not "delay"
        ("to=<a>, ctladdr=<b> (0/0), xdelay=2, delay=1", {"to": "<a>", "delay": "1"}),
        # only ", " + ASCII letters/digits + "=" starts an item
        ("to=a,, b, c=d, \u00e9=e, relay=r", {"to": "a,, b", "relay": "r"}),
        ("to=, from=x", {"to": "", "from": "x"}),
        ("mailer=esmtp, mailer2=x, daemon=MTA", {"mailer": "esmtp", "daemon": "MTA"}),
    ],
)
def test_sendmail_key_value_list_edges(text: str, fields: dict[str, str]) -> None:
    assert parse_line(text) == fields
    assert list(parse_line(text)) == list(fields)  # the order the document is written in


def test_sendmail_other_lines() -> None:
    assert parse_line("starting daemon (8.14.4): SMTP+queueing@01:00:00") == {"version": "8.14.4", "daemon_mode": "SMTP+queueing@01:00:00"}
    assert parse_line("daemon MTA: problem creating SMTP socket") == {}
    assert parse_line("NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use") == {"queue_id": "NOQUEUE"}
    assert parse_line("STARTTLS=client, relay=gmail-smtp-in.l.google.com., version=TLSv1/SSLv3, verify=FAIL") == {
        "relay": "gmail-smtp-in.l.google.com."
    }


def test_sendmail_fields_on_thunderbird_lines() -> None:
    docs = enrich_all(parse_paths([CORPUS / "real/loghub/Thunderbird_2k.log"], year=2005))
    mail = [d for d in docs if d.get("process", {}).get("name") == "sendmail" and "sendmail" in d]
    assert len(mail) == 20
    assert any(d["sendmail"].get("stat", "").startswith("Deferred: Connection refused") for d in mail)
    assert all("rootcause" not in d for d in docs)  # no failure in ordinary traffic


def test_the_real_fedora_journal_gives_the_exported_failures() -> None:
    """The zstd-compressed .journal files of the Fedora VM hold the entries failures.json was cut from."""
    # (failures.json was cut without the "UNIT: Job UNIT/TYPE failed with result 'dependency'." lines
    # that follow each "Dependency failed for ..." in the journal)
    from_journal = [d for d in recognised(enrich_all(parse_paths([CORPUS / "real/systemd/no-rtc"], year=2022)))
                    if "failed with result 'dependency'" not in d["message"]
                    and d["rootcause"]["role"] not in ("recovery", "boot")]  # (nor the starts after a failure, the boots)
    from_json = recognised(enrich_all(parse_paths([CORPUS / "derived/fedora37-no-rtc/failures.json"])))
    key = lambda d: (d["@timestamp"], d["message"], d["rootcause"]["signature"])  # noqa: E731
    assert sorted(map(key, from_journal)) == sorted(map(key, from_json))
    assert len(from_json) == 30  # 26, and the 4 "Dependency failed for ..." entries


def test_a_burst_renders_its_texts_once_and_each_failure_keeps_its_own() -> None:
    """`Recognise` keeps rendered texts per signature, pattern and variables: repeats of one
    failure get the same texts, and another unit or exit status gets its own."""
    from shipper.enrich.recognise import Recognise

    recognise = Recognise()
    lines = [("nginx", "exit-code"), ("sendmail", "exit-code"), ("nginx", "exit-code"), ("nginx", "timeout")]
    docs = [{"@timestamp": f"2024-01-01T00:00:0{i}.000000Z", "message": f"{unit}.service: Failed with result '{result}'.",
             "host": {"name": "gorp"}, "process": {"name": "systemd", "pid": 1}, "event": {"id": f"e{i}"}}
            for i, (unit, result) in enumerate(lines)]
    out = [d["rootcause"] for d in recognise.enrich(docs)]
    assert [rc["title"] for rc in out] == ["nginx.service failed", "sendmail.service failed", "nginx.service failed",
                                           "nginx.service failed"]
    assert "exit-code" in out[0]["hint"] and "timeout" in out[3]["hint"] and out[0]["hint"] == out[2]["hint"]
    assert out[0]["docs"] == out[2]["docs"] and out[0]["docs"] is not out[2]["docs"]  # each document its own list
    assert out[0] is not out[2]
