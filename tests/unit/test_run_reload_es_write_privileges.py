"""SIGHUP on a real `shipper run`, to credentials that authenticate (``GET /`` answers) but may not
write to shipper's data streams: the reload asks Elasticsearch (``_has_privileges``) and is refused,
naming the privilege and the data streams, and the daemon ships on with the previous configuration,
even while the old output fails (the new one cannot be the fix). A cluster without security has no
privileges to check: its answer to that question counts as "allowed"."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.fakees import FakeES, Grant
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.helpers.es import make_env, run_command
from tests.unit.test_run_reload_es_output import GOOD, append, config, stream

READER = "cmVhZGVyOmtleQ=="  # base64 of reader:key: may read, and auto-create, but not write documents
HAS_PRIVILEGES = "/_security/user/_has_privileges"


def _answered(daemon: DaemonProcess, reloads: int = 1) -> str:
    """The daemon's output once it answered ``reloads`` SIGHUPs (taken or refused)."""
    wait_for(lambda: daemon.output().count("shipper: reloaded") + daemon.output().count("not reloading") >= reloads,
             60, "the reload answered")
    return daemon.output()


def test_h3_a_key_that_may_not_write_is_refused_at_a_reload_naming_the_privilege_and_data_streams(
        tmp_path: Path) -> None:
    grants = {f"ApiKey {GOOD}": Grant(),
              f"ApiKey {READER}": Grant(user="reader", cluster={"monitor"}, index={"read", "auto_configure"})}
    with FakeES("8.15.3", credentials=grants) as es:
        log = tmp_path / "messages"
        append(log, 0, 5)
        cfg = config(tmp_path, log, [es.url], key=GOOD)
        assert run_command("setup", ["--config", str(cfg)], make_env()) == 0
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the first 5 documents")
            config(tmp_path, log, [es.url], key=READER, namespace="moved")
            daemon.signal(signal.SIGHUP)
            said = _answered(daemon)
            assert (f"not reloading {cfg}: the new output cannot be used: the credentials for Elasticsearch at "
                    f"{es.url} (user 'reader') may not write to shipper's data streams: they lack create_doc on "
                    "logs-shipper.*-moved (grant the role in deploy/elasticsearch-role.json; `shipper check` lists "
                    "what is missing); still running on the previous configuration: fix it and reload again") in said, said
            assert "shipper: reloaded" not in said and READER not in said and GOOD not in said
            append(log, 5, 3)
            wait_for(lambda: len(es.docs(stream("default"))) == 8, 60, "the new lines, through the old output")
            config(tmp_path, log, [es.url], key=GOOD, namespace="moved")  # the fix is taken
            daemon.signal(signal.SIGHUP)
            assert "shipper: reloaded" in _answered(daemon, 2)
            append(log, 8, 2)
            wait_for(lambda: len(es.docs(stream("moved"))) == 2, 60, "the lines after the fix, in the new namespace")
            assert daemon.stop() == 0, daemon.output()
        assert len(es.docs(stream("default"))) == 8 and "403" not in daemon.output()


def test_h3_a_key_that_may_not_write_is_refused_even_while_the_old_output_fails(tmp_path: Path) -> None:
    reader = {f"ApiKey {READER}": Grant(user="reader", cluster={"monitor"}, index={"create_doc"})}
    with FakeES("8.15.3") as old, FakeES("8.15.3", credentials=reader) as new:
        log = tmp_path / "messages"
        append(log, 0, 5)
        cfg = config(tmp_path, log, [old.url])
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: len(old.docs(stream("default"))) == 5, 60, "the first 5 documents")
            old.stop()  # an outage: the old output fails, and would let any reachable new one in
            config(tmp_path, log, [new.url], key=READER)
            daemon.signal(signal.SIGHUP)
            said = _answered(daemon)
            assert "the new output cannot be used:" in said and "they lack auto_configure on logs-shipper.*-default" in said, said
            assert "shipper: reloaded" not in said
            old.start()
            append(log, 5, 3)
            wait_for(lambda: len(old.docs(stream("default"))) == 8, 60, "the new lines, through the old output")
            assert daemon.stop() == 0, daemon.output()
        assert not any(path.endswith("/_bulk") for _, path, _ in new.cluster.log)


def test_h3_a_reload_on_a_cluster_without_security_asks_and_is_taken(tmp_path: Path) -> None:
    with FakeES("8.15.3", security=False) as es:
        assert run_command("setup", ["--es-url", es.url], make_env()) == 0
        log = tmp_path / "messages"
        append(log, 0, 5)
        cfg = config(tmp_path, log, [es.url])
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the first 5 documents")
            config(tmp_path, log, [es.url], namespace="moved")
            daemon.signal(signal.SIGHUP)
            said = _answered(daemon)
            assert "shipper: reloaded" in said and "not reloading" not in said and "could not ask" not in said, said
            assert any(path == HAS_PRIVILEGES for _, path, _ in es.cluster.log)  # asked, and "no handler" is allowed
            append(log, 5, 2)
            wait_for(lambda: len(es.docs(stream("moved"))) == 2, 60, "the new lines, in the new namespace")
            assert daemon.stop() == 0, daemon.output()
