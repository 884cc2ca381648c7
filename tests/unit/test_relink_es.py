"""`shipper relink`: a failure and its cause sent to Elasticsearch by separate replays are linked
there as one replay of both links them.

The seed's sendmail case (tests/data/seed/messages-sendmail.log): the SYSERR bind errors of
sendmail[24097] in one file, systemd's failure of sendmail.service in another, each replayed
with `shipper replay --output es` into the fake cluster (tests/fakees/), which keeps what was
sent, with a sequence number per document, and answers points in time and searches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.samples import SEED
from tests.fakees import FakeES, Grant
from tests.helpers.es import err, make_env, out, run_command, set_up_es

SYSLOG = "logs-shipper.syslog-default"
FAILURE = "sendmail.service: Main process exited, code=exited, status=71/n/a"


def split_seed(tmp: Path) -> tuple[Path, Path]:
    """The seed's lines of sendmail (the causes) and of systemd (the failure), as two files."""
    lines = (SEED / "messages-sendmail.log").read_text().splitlines(keepends=True)
    causes, failure = tmp / "maillog", tmp / "messages"
    causes.write_text("".join(line for line in lines if " sendmail[" in line))
    failure.write_text("".join(line for line in lines if " systemd[1]: " in line))
    assert causes.read_text() and failure.read_text()
    return causes, failure


def replay(fake: FakeES, tmp: Path, *files: Path, workers: int = 0) -> str:
    env = make_env()
    argv = ["--output", "es", "--es-url", fake.url, "--config", str(config(tmp)), "--year", "2017",
            "--timezone", "UTC", "--workers", str(workers), *map(str, files)]
    assert run_command("replay", argv, env) == 0, err(env)
    return err(env)


def config(tmp: Path) -> Path:
    path = tmp / "shipper.yml"
    path.write_text(f"state_dir: {tmp / 'state'}\noutput:\n  elasticsearch:\n    retry_initial: 5ms\n"
                    "    retry_max: 20ms\n")
    return path


def relink(fake: FakeES, tmp: Path, *extra: str, code: int = 0) -> tuple[str, str]:
    env = make_env()
    argv = ["--es-url", fake.url, "--config", str(config(tmp)), *extra]
    assert run_command("relink", argv, env) == code, err(env)
    return out(env), err(env)


def rootcauses(fake: FakeES) -> dict[tuple[str, str], Any]:
    """Each recognised document's rootcause, by message and @timestamp."""
    return {(d["@timestamp"], d["message"]): d["rootcause"] for d in fake.docs(SYSLOG).values() if "rootcause" in d}


def failure(fake: FakeES) -> dict[str, Any]:
    (rc,) = [rc for (_, message), rc in rootcauses(fake).items() if message == FAILURE]
    return rc


def linked_as_one(tmp: Path) -> dict[tuple[str, str], Any]:
    """What one replay of both files gives."""
    causes, failed = split_seed(tmp)
    with set_up_es() as one:
        replay(one, tmp, causes, failed)
        return rootcauses(one)


@pytest.mark.parametrize("order", ["failure first", "causes first"])
def test_a_failure_and_its_cause_replayed_apart_are_linked_as_one_replay_links_them(
        es: FakeES, tmp_path: Path, order: str) -> None:
    causes, failed = split_seed(tmp_path)
    for path in ([failed, causes] if order == "failure first" else [causes, failed]):
        replay(es, tmp_path, path)
    assert "cause" not in failure(es) and failure(es)["hint"].startswith("no recognised error from sendmail.service")
    expected = linked_as_one(tmp_path)
    assert rootcauses(es) != expected

    said, _ = relink(es, tmp_path)
    assert rootcauses(es) == expected
    assert failure(es)["cause"]["signature"] == "sendmail.bind_address_in_use"
    assert "relink: 10 recognised events read; 3 documents updated, 7 unchanged, 0 not written" in said, said
    assert es.cluster.pits == {}  # the point in time was closed

    again, _ = relink(es, tmp_path)
    assert "10 recognised events read; 0 documents updated, 10 unchanged, 0 not written" in again, again
    assert rootcauses(es) == expected


@pytest.mark.parametrize("workers", [0, 1])
def test_a_replay_into_elasticsearch_suggests_the_relink_of_its_span(es: FakeES, tmp_path: Path, workers: int) -> None:
    causes, failed = split_seed(tmp_path)
    said = replay(es, tmp_path, causes, failed, workers=workers)
    hint = (f"run with an operator's credentials (the index privileges read and index on logs-shipper.*-*; the "
            f"shipper's own key, create_doc, cannot change a document): shipper relink --config OPERATOR.yml "
            f"--es-url {es.url} --since 2017-08-30T14:55:47Z --until 2017-08-30T14:56:08Z\n")
    assert said.count("shipper relink") == 1 and hint in said, said
    assert "shipper relink" not in replay(es, tmp_path, causes, failed)  # nothing new indexed


def replayed_apart(fake: FakeES, tmp: Path) -> dict[tuple[str, str], Any]:
    """The failure replayed, then its causes; what one replay of both gives."""
    causes, failed = split_seed(tmp)
    replay(fake, tmp, failed)
    replay(fake, tmp, causes)
    return linked_as_one(tmp)


def versions(fake: FakeES) -> dict[str, tuple[int, int]]:
    stream = fake.cluster.streams[SYSLOG]
    return {doc_id: (m.seq_no, m.version) for doc_id, m in stream.meta.items()}


def test_a_dry_run_says_what_would_change_and_writes_nothing(es: FakeES, tmp_path: Path) -> None:
    replayed_apart(es, tmp_path)
    before, seqs, items = rootcauses(es), versions(es), es.cluster.counters["bulk_items"]
    said, _ = relink(es, tmp_path, "--dry-run")
    assert rootcauses(es) == before and versions(es) == seqs and es.cluster.counters["bulk_items"] == items
    lines = [line for line in said.splitlines() if line.startswith("  would update .ds-logs-shipper.syslog-default-")]
    assert len(lines) == 3, said
    assert "(2017-08-30T14:56:07.000000Z systemd.process_exited): cause none -> sendmail.bind_address_in_use; " \
           "incident " in said, said
    assert "3 documents would be updated, 7 unchanged (dry run: nothing written)" in said, said
    assert es.cluster.pits == {}


def test_since_and_until_take_whole_incidents(es: FakeES, tmp_path: Path) -> None:
    expected = replayed_apart(es, tmp_path)
    said, _ = relink(es, tmp_path, "--since", "2017-08-30T14:56:05Z", "--until", "2017-08-30T14:56:06Z",
                     "--timezone", "UTC")
    assert rootcauses(es) == expected  # the causes before --since were read, and linked with the failure
    assert ("relink: asked: from 2017-08-30T14:56:05.000000Z until 2017-08-30T14:56:06.000000Z (not included); "
            "read, widened to whole incidents: 2017-08-30T14:55:47.000000Z to 2017-08-30T14:56:07.000000Z (both "
            "included)\n") in said, said


def test_pages_of_a_point_in_time_give_every_event_once_in_time_order(es: FakeES, tmp_path: Path) -> None:
    from shipper.config.elasticsearch import ElasticsearchOutput
    from shipper.sinks.es_client import connect
    from shipper.sinks.es_search import PointInTime

    replayed_apart(es, tmp_path)
    conn = connect(ElasticsearchOutput(hosts=[es.url]), make_env())
    try:
        with PointInTime(conn.client, "logs-shipper.*-default", page=3) as small:
            paged = [hit for page in small.recognised(None, None) for hit in page]
            newest_first = list(small.recognised_before("2017-08-30T14:56:07Z"))
        with PointInTime(conn.client, "logs-shipper.*-default") as large:
            whole = [hit for page in large.recognised(None, None) for hit in page]
    finally:
        conn.close()
    assert [h.id for h in paged] == [h.id for h in whole] and len({h.id for h in paged}) == 10
    stamps = [h.source["@timestamp"] for h in paged]
    assert stamps == sorted(stamps) and newest_first == sorted(newest_first, reverse=True) == stamps[:7][::-1]
    assert es.cluster.pits == {}


@pytest.mark.parametrize("times, code", [(1, 0), (2, 5)])
def test_a_document_changed_between_read_and_write_is_read_again_and_retried_once(
        es: FakeES, tmp_path: Path, times: int, code: int) -> None:
    expected = replayed_apart(es, tmp_path)
    (raced,) = [i for i, d in es.docs(SYSLOG).items() if d["message"] == FAILURE]
    es.faults.touch = {raced: times}  # another writer indexes it again before each of the next bulk requests
    said, warned = relink(es, tmp_path, code=code)
    if code == 0:
        assert rootcauses(es) == expected
        assert "3 documents updated, 7 unchanged, 0 not written (1 changed meanwhile: read again and retried)" in said, said
    else:
        assert "cause" not in failure(es)
        assert "2 documents updated, 7 unchanged, 1 not written (1 changed meanwhile: read again and retried)" in said, said
        assert (f"relink: not written: .ds-logs-shipper.syslog-default-2024.01.01-000001/{raced} "
                "(2017-08-30T14:56:07.000000Z systemd.process_exited): changed again while relink wrote it (409); "
                "run relink again") in warned, warned
        assert "shipper: error: 1 document could not be written back" in warned, warned


def test_a_search_that_fails_is_said_with_elasticsearch_s_reason(es: FakeES, tmp_path: Path) -> None:
    replayed_apart(es, tmp_path)
    before = rootcauses(es)
    es.faults.search_statuses = [503] * 5  # (relink tries a search 5 times)
    _, said = relink(es, tmp_path, code=6)
    assert (f"shipper: error: Elasticsearch at {es.url} answered 503 when shipper tried to read the recognised "
            "events of logs-shipper.*-default: search_phase_execution_exception: all shards failed (caused by "
            "no_shard_available_action_exception: ") in said, said
    assert rootcauses(es) == before and es.cluster.pits == {}  # nothing written, the point in time closed


ADMIN, WRITER, READER = "YWRtaW46a2V5", "d3JpdGVyOmtleQ==", "cmVhZGVyOmtleQ=="


def test_credentials_that_may_not_read_or_index_are_told_which_privilege_is_missing(tmp_path: Path) -> None:
    grants = {f"ApiKey {ADMIN}": Grant(user="admin", cluster={"all"}, index={"all"}),
              f"ApiKey {WRITER}": Grant(user="writer", cluster={"monitor"}, index={"create_doc", "auto_configure"}),
              f"ApiKey {READER}": Grant(user="reader", cluster={"monitor"}, index={"read"})}
    keyed = tmp_path / "keyed.yml"
    keyed.write_text(f"state_dir: {tmp_path / 'state'}\noutput:\n  elasticsearch:\n    api_key_env: ES_KEY\n")

    def as_(key: str, command: str, *argv: str) -> tuple[int, str, str]:
        env = make_env({"ES_KEY": key})
        code = run_command(command, ["--es-url", fake.url, "--config", str(keyed), *argv], env)
        assert key not in out(env) + err(env)
        return code, out(env), err(env)

    causes, failed = split_seed(tmp_path)
    with FakeES("9.1.0", credentials=grants) as fake:
        assert as_(ADMIN, "setup")[0] == 0
        for path in (failed, causes):
            assert as_(ADMIN, "replay", "--output", "es", "--year", "2017", "--timezone", "UTC", str(path))[0] == 0
        before = rootcauses(fake)
        code, _, said = as_(WRITER, "relink")
        assert code == 6 and ("shipper: error: the credentials of user 'writer' lack the index privileges read and "
                              "index on logs-shipper.*-default") in said, said
        assert "whose create_doc cannot change a document" in said, said
        code, _, said = as_(READER, "relink")
        assert code == 6 and "user 'reader' lack the index privilege index on logs-shipper.*-default" in said, said
        assert rootcauses(fake) == before
        code, dry, said = as_(READER, "relink", "--dry-run")
        assert code == 0 and "3 documents would be updated" in dry, said
        fake.faults.item_403 = True  # allowed by has_privileges, refused by the writes (a stricter role, a proxy)
        code, stdout, said = as_(ADMIN, "relink")
        assert code == 6 and "0 documents updated, 7 unchanged, 3 not written" in stdout, stdout
        assert "403 security_exception: action [indices:data/write/bulk[s]] is unauthorized" in said, said
        assert "shipper: error: Elasticsearch refused to let shipper write 3 documents back (403: the index " \
               "privilege index is missing)" in said, said
        assert rootcauses(fake) == before
