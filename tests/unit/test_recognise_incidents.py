"""Linking failures to causes: the seed end to end (syslog file and a real journal), the
Elasticsearch exits 78, failures without a cause, errors of other units, repeats, the window."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from helpers.journal import export_entry, make_journal
from helpers.samples import CORPUS, SEED, enrich_all, parse_lines, parse_paths, recognised
from shipper.enrich.incidents import Incidents
from shipper.event import Doc, get_path

SENDMAIL_INVOCATION = "4c3d2a1b0f9e8d7c6b5a493827161504"
MID_EXIT = "98e322203f7a4ed290d09fe03c09fe15"
MID_FAILED = "d9b373ed55a64feb8242e02dbe79a49c"


def _incidents(docs: list[Doc]) -> dict[str, list[Doc]]:
    out: dict[str, list[Doc]] = {}
    for doc in docs:
        inc = get_path(doc, "rootcause.incident")
        if inc:
            out.setdefault(inc, []).append(doc)
    return out


def _by_sig(docs: list[Doc], signature: str) -> list[Doc]:
    return [d for d in docs if get_path(d, "rootcause.signature") == signature]


def _assert_seed_incident(docs: list[Doc]) -> None:
    incidents = _incidents(docs)
    assert len(incidents) == 1, {k: [d["message"] for d in v] for k, v in incidents.items()}
    (events,) = incidents.values()
    assert len(events) == len(recognised(docs))
    exit_doc = _by_sig(docs, "systemd.process_exited")[0]
    assert exit_doc["process"]["exit_code"] == 71
    assert exit_doc["process"]["exit_code_explained"].startswith("EX_OSERR (71)")
    assert exit_doc["systemd"]["exit_code"] == "exited"
    cause = exit_doc["rootcause"]["cause"]
    assert cause["signature"] == "sendmail.bind_address_in_use"
    assert cause["count"] == 3
    assert cause["first"].endswith("14:55:52.000000Z") and cause["last"].endswith("14:56:02.000000Z")
    assert cause["message"].endswith("cannot bind: Address already in use")
    # the hint is on the failure itself, and it is the specific one
    hint = exit_doc["rootcause"]["hint"]
    assert hint.startswith("daemon Daemon1 is a second DaemonPortOptions entry")
    # another listener first (`ss`), then the seed's self-collision (HINTS.md's order)
    assert hint.index("ss -ltnp") < hint.index("sendmail could not bind 127.0.0.1:25: an INADDR_ANY listener from "
                                               "another DaemonPortOptions line already holds it")
    for failure in _by_sig(docs, "systemd.unit_failed"):
        assert failure["rootcause"]["cause"]["signature"] == "sendmail.bind_address_in_use"
    # the causes carry the incident id as they are written
    for syserr in _by_sig(docs, "sendmail.bind_address_in_use"):
        assert syserr["rootcause"]["incident"] == exit_doc["rootcause"]["incident"]
        assert syserr["rootcause"]["role"] == "cause"


def test_seed_as_a_syslog_file() -> None:
    docs = enrich_all(parse_paths([SEED / "messages-sendmail.log"], timezone="UTC", year=2017))
    _assert_seed_incident(docs)


def _seed_journal_entries(failure_invocation: str = SENDMAIL_INVOCATION, exit_text: str | None = None) -> bytes:
    base = 1_504_104_947_000_000  # 2017-08-30T14:55:47Z
    out = b""
    seed = (SEED / "messages-sendmail.log").read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(seed):
        stamp, _, rest = line.partition(" gorp ")
        seconds = int(stamp[-2:]) + 60 * int(stamp[-5:-3]) - (55 * 60 + 47)
        ident, _, message = rest.partition(": ")
        fields: dict[str, str | bytes] = {"__REALTIME_TIMESTAMP": str(base + seconds * 1_000_000), "_HOSTNAME": "gorp", "MESSAGE": message}
        if ident.startswith("sendmail"):
            fields.update(
                SYSLOG_IDENTIFIER="sendmail", _PID="24097", _COMM="sendmail", _SYSTEMD_UNIT="sendmail.service",
                _SYSTEMD_INVOCATION_ID=SENDMAIL_INVOCATION, PRIORITY="2", SYSLOG_FACILITY="2", _TRANSPORT="syslog",
            )
        else:
            fields.update(
                SYSLOG_IDENTIFIER="systemd", _PID="1", _COMM="systemd", _SYSTEMD_UNIT="init.scope", UNIT="sendmail.service",
                INVOCATION_ID=failure_invocation, PRIORITY="4", SYSLOG_FACILITY="3", _TRANSPORT="journal",
            )
            if "Main process exited" in message:
                fields.update(MESSAGE_ID=MID_EXIT, EXIT_CODE="exited", EXIT_STATUS="71", COMMAND="ExecStart", CODE_FUNC="unit_log_process_exit")
                if exit_text is not None:
                    fields["MESSAGE"] = exit_text
            elif "Failed with result" in message:
                fields.update(MESSAGE_ID=MID_FAILED, UNIT_RESULT="exit-code", CODE_FUNC="unit_log_failure")
        out += export_entry(fields, seq=n)
    return out


def test_seed_as_a_real_journal(tmp_path: Path) -> None:
    make_journal(tmp_path / "journal", _seed_journal_entries())
    docs = enrich_all(parse_paths([tmp_path / "journal"], timezone="UTC"))
    assert all(d["event"]["dataset"] == "journald" for d in docs)
    _assert_seed_incident(docs)
    exit_doc = _by_sig(docs, "systemd.process_exited")[0]
    assert exit_doc["journald"]["message_id"] == MID_EXIT
    assert exit_doc["systemd"]["unit"] == "sendmail.service"  # UNIT=, not _SYSTEMD_UNIT=init.scope
    assert exit_doc["systemd"]["exit_status_name"] == "OSERR"
    assert _by_sig(docs, "systemd.unit_failed")[-1]["systemd"]["result"] == "exit-code"


def test_journal_fields_win_over_the_text(tmp_path: Path) -> None:
    """A MESSAGE the text patterns do not know is still a process exit: EXIT_CODE/EXIT_STATUS say so."""
    make_journal(tmp_path / "journal", _seed_journal_entries(exit_text="sendmail.service: Hauptprozess beendet"))
    docs = enrich_all(parse_paths([tmp_path / "journal"], timezone="UTC"))
    (exit_doc,) = _by_sig(docs, "systemd.process_exited")
    assert exit_doc["process"]["exit_code"] == 71 and exit_doc["rootcause"]["unit"] == "sendmail.service"
    assert exit_doc["rootcause"]["cause"]["signature"] == "sendmail.bind_address_in_use"


def test_another_invocation_is_not_linked(tmp_path: Path) -> None:
    """The invocation id is an exact join: PID 1 reporting another run of the unit is another incident."""
    make_journal(tmp_path / "journal", _seed_journal_entries(failure_invocation="ffffffffffffffffffffffffffffffff"))
    docs = enrich_all(parse_paths([tmp_path / "journal"], timezone="UTC"))
    (exit_doc,) = _by_sig(docs, "systemd.process_exited")
    assert "cause" not in exit_doc["rootcause"]
    cause_incident = _by_sig(docs, "sendmail.bind_address_in_use")[0]["rootcause"]["incident"]
    assert exit_doc["rootcause"]["incident"] != cause_incident


def test_es7_rpm_exit_78_linked_to_its_bootstrap_check() -> None:
    path = CORPUS / "excerpts/elasticsearch/es7.3.1-rpm-systemd-status78-and-log.log"
    docs = enrich_all(parse_paths([path], timezone="Europe/London"))
    incidents = _incidents(docs)
    exits = _by_sig(docs, "systemd.process_exited")
    assert exits and all(d["process"]["exit_code"] == 78 for d in exits)
    incident = exits[0]["rootcause"]["incident"]
    sigs = {get_path(d, "rootcause.signature") for d in incidents[incident]}
    assert {"systemd.unit_failed", "elasticsearch.bootstrap_checks_failed", "elasticsearch.bootstrap.discovery"} <= sigs
    assert all(get_path(d, "rootcause.unit") == "elasticsearch.service" for d in incidents[incident])
    # the status block came first: the failures learnt their cause when it arrived
    assert exits[0]["rootcause"]["cause"]["signature"] == "elasticsearch.bootstrap.discovery"
    assert "discovery.type: single-node" in exits[0]["rootcause"]["hint"]


def test_es8_systemd_entrypoint_exit_78_linked() -> None:
    path = CORPUS / "excerpts/elasticsearch/es8-journalctl-systemd-entrypoint-status78-CONFIG.log"
    docs = enrich_all(parse_paths([path], timezone="UTC", year=2025))
    (exit_doc,) = _by_sig(docs, "systemd.process_exited")
    assert exit_doc["process"]["exit_code"] == 78
    assert exit_doc["process"]["exit_code_explained"].startswith("EX_CONFIG (78)")
    assert exit_doc["rootcause"]["cause"]["signature"] == "elasticsearch.bootstrap.discovery"
    summary = _by_sig(docs, "elasticsearch.bootstrap_checks_failed")[0]
    assert summary["rootcause"]["incident"] == exit_doc["rootcause"]["incident"]
    assert summary["rootcause"]["unit"] == "elasticsearch.service"  # process systemd-entrypoint


def test_a_record_with_several_checks_is_one_incident_with_one_event_per_check() -> None:
    docs = enrich_all(parse_paths([SEED / "elasticsearch-bootstrap.log"], timezone="UTC"))
    rec = recognised(docs)
    assert [d["rootcause"]["signature"] for d in rec] == [
        "elasticsearch.bootstrap_checks_failed",
        "elasticsearch.bootstrap.file_descriptors",
        "elasticsearch.bootstrap.max_map_count",
    ]
    assert len({d["rootcause"]["incident"] for d in rec}) == 1
    assert len({d["event"]["id"] for d in rec}) == 3
    assert not any("unparsed" in d.get("tags", ()) for d in docs)  # continuation lines are not separate events


def test_failure_without_a_cause_says_so() -> None:
    docs = enrich_all(parse_paths([CORPUS / "derived/fedora37-no-rtc/failures.json"], timezone="UTC"))
    gdm = [d for d in _by_sig(docs, "systemd.process_exited") if d["systemd"]["unit"] == "gdm.service"]
    assert gdm and all(d["process"]["exit_code"] == 1 for d in gdm)
    rc = gdm[0]["rootcause"]
    assert "cause" not in rc
    assert rc["hint"].startswith("no recognised error from gdm.service in the last 10 minutes; look at")
    assert "`journalctl -b -u gdm.service`" in rc["hint"]
    udisks = [d for d in _by_sig(docs, "systemd.process_exited") if d["systemd"]["unit"] == "udisks2.service"]
    assert udisks[0]["systemd"]["exit_code"] == "dumped" and udisks[0]["systemd"]["exit_status_name"] == "ABRT"
    assert "coredumpctl" in udisks[0]["rootcause"]["remediation"]
    scopes = [d for d in _by_sig(docs, "systemd.unit_failed") if d["systemd"].get("result") == "resources"]
    assert len(scopes) == 9  # pkcs11, secrets, ssh, user-dirs ... of four sessions
    assert all("transient scope" in d["rootcause"]["hint"] for d in scopes)
    assert all(f"`journalctl -b --user-unit {shlex.quote(d['rootcause']['unit'])}`" in d["rootcause"]["hint"] for d in scopes)
    assert all("\\x2d" in d["rootcause"]["unit"] for d in scopes)  # (quoted: the shell keeps the backslash)
    # two gdm failures a minute apart, but two runs (INVOCATION_IDs differ): two incidents
    assert len({d["systemd"]["invocation_id"] for d in gdm}) == 2
    assert len({d["rootcause"]["incident"] for d in gdm}) == 2


SENDMAIL_BURST = [
    "Aug 30 14:55:52 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: cannot bind: Address already in use",
    "Aug 30 14:55:57 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: cannot bind: Address already in use",
]


def test_an_unrelated_error_from_another_unit_is_not_linked() -> None:
    lines = [
        *SENDMAIL_BURST,
        "Aug 30 14:56:00 gorp systemd[1]: nginx.service: Main process exited, code=exited, status=1/FAILURE",
        "Aug 30 14:56:00 gorp systemd[1]: nginx.service: Failed with result 'exit-code'.",
    ]
    docs = enrich_all(parse_lines(lines))
    nginx = _by_sig(docs, "systemd.process_exited")[0]
    assert "cause" not in nginx["rootcause"]
    assert nginx["rootcause"]["hint"].startswith("no recognised error from nginx.service")
    assert nginx["rootcause"]["incident"] != docs[0]["rootcause"]["incident"]
    assert len(_incidents(docs)) == 2


def test_same_unit_on_another_host_is_not_linked() -> None:
    lines = [SENDMAIL_BURST[0], "Aug 30 14:56:07 other systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a"]
    docs = enrich_all(parse_lines(lines))
    assert "cause" not in docs[1]["rootcause"]


def test_repeated_identical_causes_stay_one_incident() -> None:
    lines = [
        f"Aug 30 14:{55 + (s // 60):02d}:{s % 60:02d} gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use"
        for s in range(0, 50, 5)
    ] + ["Aug 30 14:55:50 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: server SMTP socket wedged: exiting"]
    docs = enrich_all(parse_lines(lines))
    assert len(_incidents(docs)) == 1
    cause = docs[-1]["rootcause"]["cause"]
    assert cause["count"] == 10
    assert cause["first"].endswith("14:55:00.000000Z") and cause["last"].endswith("14:55:45.000000Z")


def test_a_cause_outside_the_window_is_not_linked() -> None:
    lines = [SENDMAIL_BURST[0], "Aug 30 15:06:53 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a"]
    assert "cause" not in enrich_all(parse_lines(lines))[1]["rootcause"]
    assert "cause" in enrich_all(parse_lines(lines), window=3600)[1]["rootcause"]


def test_a_restart_after_a_linked_failure_is_a_new_incident() -> None:
    lines = [
        SENDMAIL_BURST[0],
        "Aug 30 14:56:07 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a",
        "Aug 30 14:57:00 gorp sendmail[25000]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon Daemon1: cannot bind: Address already in use",
        "Aug 30 14:57:10 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a",
    ]
    docs = enrich_all(parse_lines(lines))
    assert len(_incidents(docs)) == 2
    assert docs[3]["rootcause"]["cause"]["count"] == 1


def test_a_failure_naming_no_unit_joins_the_failure_before_it() -> None:
    docs = enrich_all(parse_paths([CORPUS / "excerpts/systemd/centos7-var-log-messages-haproxy.log"], timezone="UTC", year=2017))
    starts = _by_sig(docs, "systemd.start_failed")
    assert starts and all(d["rootcause"]["unit"] == "haproxy.service" for d in starts)
    exits = _by_sig(docs, "systemd.process_exited")
    assert starts[0]["rootcause"]["incident"] == exits[0]["rootcause"]["incident"]


def test_incident_ids_are_deterministic() -> None:
    def ids() -> list[str]:
        docs = enrich_all(parse_paths([SEED / "messages-sendmail.log"], timezone="UTC", year=2017))
        return [str(get_path(d, "rootcause.incident")) for d in docs]

    first = ids()
    assert first == ids()
    assert len(set(first)) == 1


def test_ids_do_not_depend_on_batching() -> None:
    lines = (SEED / "messages-sendmail.log").read_text(encoding="utf-8").splitlines()
    one = enrich_all(parse_lines(lines), batch=2000)
    many = enrich_all(parse_lines(lines), batch=3)
    assert [get_path(d, "rootcause") for d in one] == [get_path(d, "rootcause") for d in many]


def test_open_incidents_are_bounded() -> None:
    """Incidents a window older than the newest event are dropped: memory does not grow with time."""
    incidents = Incidents(window=600)
    for hour in range(200):
        doc: Doc = {
            "@timestamp": f"2017-08-{1 + hour // 24:02d}T{hour % 24:02d}:00:00.000000Z",
            "message": "x",
            "event": {"id": f"id{hour}"},
            "host": {"name": "gorp"},
            "rootcause": {"signature": "sendmail.syserr", "role": "cause", "unit": f"unit{hour}.service"},
        }
        incidents.enrich([doc])
    assert len(incidents._open) <= 2


@pytest.mark.parametrize("window", [60.0, 600.0])
def test_window_text_in_the_hint(window: float) -> None:
    docs = enrich_all(parse_lines(["Aug 30 14:56:07 gorp systemd[1]: gdm.service: Main process exited, code=exited, status=1/FAILURE"]), window=window)
    minutes = int(window // 60)
    assert f"in the last {minutes} minute" in docs[0]["rootcause"]["hint"]


STATUS_BLOCK = [
    "● mail.service - Appliance mail relay",
    "   Active: failed (Result: exit-code) since Wed 2017-08-30 14:56:07 UTC; 14min ago",
    "  Process: 24095 ExecStart=/usr/sbin/sendmail -bd -q $QUEUE $SENDMAIL_OPTARG (code=exited, status=0/SUCCESS)",
    " Main PID: 24097 (code=exited, status=71)",
]


def _pasted(tmp_path: Path, lines: list[str]) -> list[Doc]:
    """A file pasted together on the day (its mtime dates the lines that carry no time)."""
    path = tmp_path / "pasted.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(path, (1_504_104_967, 1_504_104_967))  # 2017-08-30T14:56:07Z
    return enrich_all(parse_paths([path], timezone="UTC", year=2017))


def test_the_pid_a_status_block_names_joins_the_process_lines(tmp_path: Path) -> None:
    """The unit is called mail.service, sendmail's lines map to sendmail.service: the PID joins them."""
    seed = (SEED / "messages-sendmail.log").read_text(encoding="utf-8").splitlines()[:3]
    for lines in ([*STATUS_BLOCK, *seed], [*seed, *STATUS_BLOCK]):  # pasted either way round
        docs = _pasted(tmp_path, lines)
        main_pid = _by_sig(docs, "systemd.process_exited")[0]
        assert main_pid["process"]["pid"] == 24097 and main_pid["rootcause"]["unit"] == "mail.service"
        syserr = _by_sig(docs, "sendmail.bind_address_in_use")[0]
        assert syserr["rootcause"]["incident"] == main_pid["rootcause"]["incident"]
        assert main_pid["rootcause"]["cause"]["signature"] == "sendmail.bind_address_in_use"
