"""Format sniffing on every corpus and seed file, and on edge cases."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from shipper.sources.sniff import SNIFF_BYTES, sniff
from shipper.sources.stream import InputStream

DATA = Path(__file__).resolve().parents[1] / "data"

ES = "elasticsearch"
SYSLOG = "syslog"
EXPORT = "journal-export"
JSON = "journal-json"
JOURNAL = "journal-file"

# Every file under tests/data/corpus and tests/data/seed, with its expected format.
EXPECTED: dict[str, str] = {
    "corpus/SOURCES.md": SYSLOG,  # a document quoting a few ES lines is not an ES log
    "corpus/derived/fedora37-no-rtc/failures.export": EXPORT,
    "corpus/derived/fedora37-no-rtc/failures.json": JSON,
    "corpus/derived/fedora37-no-rtc/failures.verbose.txt": "journal-verbose",
    "corpus/derived/fedora37-no-rtc/journal.short-iso.log": SYSLOG,
    "corpus/derived/fedora37-no-rtc/unit-lifecycle.short-iso.log": SYSLOG,
    "corpus/excerpts/elasticsearch/es-k8s-logging-ek.log": ES,
    "corpus/excerpts/elasticsearch/es-tye-prefixed-console.log": ES,
    "corpus/excerpts/elasticsearch/es2.4-issue20508-warning.log": ES,
    "corpus/excerpts/elasticsearch/es5-chef-issue85.log": ES,
    "corpus/excerpts/elasticsearch/es5-docker-likely-too-low.log": ES,
    "corpus/excerpts/elasticsearch/es5.0.0-alpha1-issue17430.log": ES,
    "corpus/excerpts/elasticsearch/es6-docker-cn.log": ES,
    "corpus/excerpts/elasticsearch/es6-k8s-issue-advanced-kubernetes-course-1.log": ES,
    "corpus/excerpts/elasticsearch/es6-warp-engine.log": ES,
    "corpus/excerpts/elasticsearch/es6.4.2-dockerfile-comment.log": ES,
    "corpus/excerpts/elasticsearch/es7-docker-compose-pr47650.log": ES,
    "corpus/excerpts/elasticsearch/es7-docker-json-console.log": ES,
    "corpus/excerpts/elasticsearch/es7-docker-two-failures-transport-ssl.log": ES,
    "corpus/excerpts/elasticsearch/es7-journalctl-french-locale.log": SYSLOG,  # journalctl output
    "corpus/excerpts/elasticsearch/es7-journalctl-korean-locale-centos8.log": SYSLOG,
    "corpus/excerpts/elasticsearch/es7-two-failures-memlock-discovery.log": ES,
    "corpus/excerpts/elasticsearch/es7.10.1-tarball-console.log": ES,
    "corpus/excerpts/elasticsearch/es7.15-docker-compose-console.log": ES,
    "corpus/excerpts/elasticsearch/es7.17.3-docker-discovery.log": ES,
    "corpus/excerpts/elasticsearch/es7.3.1-rpm-systemd-status78-and-log.log": ES,
    "corpus/excerpts/elasticsearch/es8-ecs-json-docker.log": ES,
    "corpus/excerpts/elasticsearch/es8-issue93074-console.log": ES,
    "corpus/excerpts/elasticsearch/es8-journalctl-systemd-entrypoint-status78-CONFIG.log": SYSLOG,
    "corpus/excerpts/elasticsearch/es8.17-message-field.txt": ES,
    "corpus/excerpts/elasticsearch/opensearch-variant-docker.log": ES,
    "corpus/excerpts/elasticsearch/sonarqube-embedded-es-docker.log": ES,
    "corpus/excerpts/sendmail/openemm-sendmail-8.14.2-maillog.log": SYSLOG,
    "corpus/excerpts/sendmail/rhel6-sendmail-8.14.4-maillog.log": SYSLOG,
    "corpus/excerpts/sendmail/sendmail-syserr-misc.log": SYSLOG,
    "corpus/excerpts/sendmail/sendmail-syserr-no-timestamp.txt": SYSLOG,
    "corpus/excerpts/sendmail/ubuntu-13.04-sm-mta-8.14.4-mail.info.log": SYSLOG,
    "corpus/excerpts/sendmail/ubuntu-sm-mta-8.14.3-MTA-v4-wedged.log": SYSLOG,
    "corpus/excerpts/systemd/centos7-docker-203-EXEC.log": SYSLOG,
    "corpus/excerpts/systemd/centos7-firewalld-timeout.log": SYSLOG,
    "corpus/excerpts/systemd/centos7-httpd-226.log": SYSLOG,
    "corpus/excerpts/systemd/centos7-nginx-selinux-journalctl-u.log": SYSLOG,
    "corpus/excerpts/systemd/centos7-var-log-messages-haproxy.log": SYSLOG,
    "corpus/excerpts/systemd/centos7-zookeeper-143-n-a.log": SYSLOG,
    "corpus/excerpts/systemd/coreos-2014-etcd-status.log": SYSLOG,
    "corpus/excerpts/systemd/debian-emonhub-journalctl-x.log": SYSLOG,
    "corpus/excerpts/systemd/rhel8-sendmail-status-succeeded.txt": SYSLOG,
    "corpus/excerpts/systemd/ubuntu16.04-tftpd-hpa-status71.log": SYSLOG,
    "corpus/excerpts/systemd/ubuntu16.04-tftpd-hpa-systemctl-status.txt": SYSLOG,
    "corpus/excerpts/systemd/ubuntu20.04-user-manager-71-OSERR.log": SYSLOG,
    "corpus/real/beats/debian-12.journal-expected.json": SYSLOG,  # a pretty-printed JSON array
    "corpus/real/beats/elasticsearch-json.800.log": ES,
    "corpus/real/beats/elasticsearch-json.800.mixed.log": ES,
    "corpus/real/beats/elasticsearch.624.log": ES,
    "corpus/real/beats/iso8601_timestamp_multiline_syslog.log": SYSLOG,
    "corpus/real/beats/journal1.export": EXPORT,
    "corpus/real/beats/suse-syslog.log": SYSLOG,
    "corpus/real/beats/test-json.log": ES,
    "corpus/real/beats/test-syslog.log": SYSLOG,
    "corpus/real/beats/test.log": ES,
    "corpus/real/beats/tz-offset.log": SYSLOG,
    "corpus/real/fail2ban/bsd_syslog-plain.txt": SYSLOG,
    "corpus/real/fail2ban/bsd_syslog-v.txt": SYSLOG,
    "corpus/real/fail2ban/bsd_syslog-vv.txt": SYSLOG,
    "corpus/real/fail2ban/recidive": SYSLOG,
    "corpus/real/fail2ban/sendmail-auth": SYSLOG,
    "corpus/real/fail2ban/sendmail-reject": SYSLOG,
    "corpus/real/fail2ban/sshd-journal": SYSLOG,
    "corpus/real/fail2ban/zzz-generic-example": SYSLOG,
    "corpus/real/integrations/test-preserve-event-original.log": SYSLOG,
    "corpus/real/integrations/test-server-logs.log": ES,
    "corpus/real/integrations/test-server-null-elasticsearch.log": ES,
    "corpus/real/integrations/test-syslog-debian11.json": SYSLOG,
    "corpus/real/integrations/test-systemd-journald.json": SYSLOG,
    "corpus/real/integrations/test-systemd.log": SYSLOG,
    "corpus/real/integrations/test.journal.export": EXPORT,
    "corpus/real/loghub/LICENSE": SYSLOG,
    "corpus/real/loghub/Linux_2k.log": SYSLOG,
    "corpus/real/loghub/Linux_2k.log_templates.csv": SYSLOG,
    "corpus/real/loghub/Mac_2k.log": SYSLOG,
    "corpus/real/loghub/OpenSSH_2k.log": SYSLOG,
    "corpus/real/loghub/Thunderbird_2k.log": SYSLOG,
    "corpus/real/systemd/journal-1.txt": EXPORT,
    "corpus/real/systemd/journal-2.txt": EXPORT,  # starts with a binary MESSAGE field
    "corpus/real/systemd/no-rtc/system.journal.zst": JOURNAL,
    "corpus/real/systemd/no-rtc/system@0005ebbfd42fc981-39a8842ec948769a.journal~.zst": JOURNAL,
    "corpus/real/systemd/no-rtc/system@0005ebbfd4346b9f-43185b46162d9fa5.journal~.zst": JOURNAL,
    "corpus/real/systemd/no-rtc/system@0005ebbfd4385848-2e5dff5354ab9bcf.journal~.zst": JOURNAL,
    "corpus/real/systemd/no-rtc/user-1000.journal.zst": JOURNAL,
    "corpus/real/systemd/no-rtc/user-1000@0005ebbfd660bcbe-dbef2eee11f4b575.journal~.zst": JOURNAL,
    "corpus/real/systemd/no-rtc/user-1000@0005ebbfe89faec4-a5e890e7b00bedd1.journal~.zst": JOURNAL,
    "corpus/real/systemd/sample.txt": EXPORT,
    "seed/README": SYSLOG,
    "seed/elasticsearch-bootstrap.log": ES,
    "seed/maillog-appliance.log": SYSLOG,
    "seed/messages-sendmail.log": SYSLOG,
}


def _data_files() -> list[str]:
    found = []
    for top in ("corpus", "seed"):
        for root, _, files in os.walk(DATA / top):
            found += [os.path.relpath(os.path.join(root, f), DATA) for f in files]
    return sorted(found)


def _head(path: Path) -> bytes:
    stream = InputStream.open_path(str(path))
    try:
        return stream.peek(SNIFF_BYTES)
    finally:
        stream.close()


def test_the_table_covers_every_data_file() -> None:
    assert _data_files() == sorted(EXPECTED), "add new data files to EXPECTED"


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_sniff_corpus_file(rel: str) -> None:
    assert sniff(_head(DATA / rel)) == EXPECTED[rel]


def test_sniff_is_about_content_not_name(tmp_path: Path) -> None:
    es = (DATA / "corpus/real/beats/elasticsearch.624.log").read_bytes()
    export = (DATA / "corpus/real/beats/journal1.export").read_bytes()
    (tmp_path / "messages").write_bytes(es)
    (tmp_path / "x.log").write_bytes(export)
    assert sniff(_head(tmp_path / "messages")) == ES
    assert sniff(_head(tmp_path / "x.log")) == EXPORT


def test_journal_json_whose_first_line_is_longer_than_the_sample() -> None:
    line = b'{"MESSAGE":"' + b"x" * SNIFF_BYTES + b'","__REALTIME_TIMESTAMP":"1"}\n'
    head = b'{"__CURSOR":"s=1;i=2","MESSAGE":"' + b"y" * SNIFF_BYTES
    assert sniff(line[:SNIFF_BYTES]) == JSON
    assert sniff(head[:SNIFF_BYTES]) == JSON
    assert sniff(b'{"message":"' + b"y" * SNIFF_BYTES) == SYSLOG


def test_ecs_json_in_any_key_order() -> None:
    assert sniff(b'{"log.level":"ERROR","@timestamp":"2023-04-14T13:16:22.148Z","message":"x"}\n') == ES
    assert sniff(b'{"type": "server", "timestamp": "2019-01-18T08:55:08,159+0100"}\n') == ES
    assert sniff(b'{"level":"info","msg":"hello"}\n') == SYSLOG


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"", SYSLOG),
        (b"\n\n\n", SYSLOG),
        (b"MESSAGE=hello\n_PID=1\n\n", EXPORT),
        (b"FOO=bar\nBAZ=1\n", SYSLOG),  # well-formed, but no key every entry has
        (b"message=hello\n", SYSLOG),  # journal field names are upper case
        (b"MESSAGE\n\x05\x00\x00\x00\x00\x00\x00\x00hello\n\n", EXPORT),
        (b"MESSAGE\nnot a length at all\n", SYSLOG),
        (b"LPKSHHRH\x00\x00", JOURNAL),
        (b"Aug 30 14:55:52 gorp sendmail[24097]: NOQUEUE: SYSERR(root): x\n", SYSLOG),
        (b"[2017-08-19T11:31:25,457][ERROR][o.e.b.Bootstrap ] [elastic01] node validation exception\n", ES),
    ],
)
def test_sniff_edge_cases(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


def test_random_bytes_do_not_crash() -> None:
    rng = random.Random(1)
    for _ in range(200):
        head = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
        assert sniff(head) in (SYSLOG, ES, EXPORT, JSON, JOURNAL)
