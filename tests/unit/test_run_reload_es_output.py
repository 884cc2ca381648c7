"""SIGHUP on a real `shipper run` writing to a (fake) Elasticsearch.

A new output that cannot be reached or rejects the credentials is refused while the old one works
(shipping would stop), and taken while the old one fails too (it may be the fix). A new namespace
while batches wait in the disk buffer: each event ends up once, in the new data stream (the batches
encoded for the old one are encoded again, `shipper.daemon.retarget`).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.fakees import FakeES, Grant
from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.helpers.es import make_env, run_command

GOOD, WRONG = "Z29vZDprZXk=", "d3Jvbmc6a2V5"  # base64 of good:key, wrong:key


def stream(namespace: str) -> str:
    return f"logs-shipper.syslog-{namespace}"


def append(log: Path, first: int, n: int) -> None:
    with log.open("a") as f:
        f.writelines(f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: line {i}\n" for i in range(first, first + n))


def config(tmp_path: Path, log: Path, hosts: list[str], key: str | None = None, **es: Any) -> Path:
    output: dict[str, Any] = {"hosts": hosts, "retry_initial": "10ms", "retry_max": "100ms", "request_timeout": "5s", **es}
    if key is not None:
        (tmp_path / f"key-{key}").write_text(key)
        (tmp_path / f"key-{key}").chmod(0o600)
        output["api_key_file"] = str(tmp_path / f"key-{key}")
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "paths": [str(log)], "name": "messages", "flush_after": "200ms"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"elasticsearch": output},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "2s"},
    })


def status(tmp_path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((tmp_path / "state" / "status.json").read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def ids(es: FakeES, name: str) -> list[str]:
    return sorted(str(doc["event"]["id"]) for doc in es.docs(name).values())


def spooled(daemon: DaemonProcess, tmp_path: Path, log: Path) -> None:
    """Once the daemon found the output unreachable, 30 lines into ``log``, and into the disk buffer."""
    wait_for(lambda: "retrying in the background" in daemon.output(), 60, "the output found unreachable")
    append(log, 0, 30)
    wait_for(lambda: status(tmp_path).get("spool_bytes", 0) > 0 and status(tmp_path)["inputs"]["file-messages"]["read"] == 30,
             60, "the 30 lines in the disk buffer")


def test_a_new_output_that_cannot_be_reached_is_refused_while_the_old_one_works(tmp_path: Path, es: FakeES) -> None:
    log = tmp_path / "messages"
    append(log, 0, 5)
    cfg = config(tmp_path, log, [es.url])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the first 5 documents")
        config(tmp_path, log, ["http://127.0.0.1:1"])
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "not reloading" in daemon.output(), 60, "the reload refused")
        said = daemon.output()
        assert (f"not reloading {cfg}: the new output cannot be used: cannot reach Elasticsearch at http://127.0.0.1:1"
                in said), said
        assert "still running on the previous configuration: fix it and reload again" in said
        assert "reloaded" not in said and "retrying in the background" not in said
        append(log, 5, 3)
        wait_for(lambda: len(es.docs(stream("default"))) == 8, 60, "the new lines, through the old output")
        assert daemon.stop() == 0, daemon.output()


def test_new_credentials_the_cluster_rejects_are_refused_while_the_old_ones_work(tmp_path: Path) -> None:
    with FakeES("8.15.3", credentials={f"ApiKey {GOOD}": Grant()}) as es:
        log = tmp_path / "messages"
        append(log, 0, 5)
        cfg = config(tmp_path, log, [es.url], key=GOOD)
        assert run_command("setup", ["--config", str(cfg)], make_env()) == 0
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the first 5 documents")
            config(tmp_path, log, [es.url], key=WRONG)
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: "not reloading" in daemon.output(), 60, "the reload refused")
            said = daemon.output()
            assert f"the new output cannot be used: Elasticsearch at {es.url} rejected the credentials (401)" in said, said
            assert WRONG not in said and GOOD not in said
            append(log, 5, 3)
            wait_for(lambda: len(es.docs(stream("default"))) == 8, 60, "the new lines, with the old key")
            config(tmp_path, log, [es.url], key=GOOD, namespace="fixed")  # the fix is taken
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
            append(log, 8, 2)
            wait_for(lambda: len(es.docs(stream("fixed"))) == 2, 60, "the lines after the fix, in the new namespace")
            assert daemon.stop() == 0, daemon.output()
        assert len(es.docs(stream("default"))) == 8


def test_a_new_output_is_taken_while_the_old_one_fails_too(tmp_path: Path, es: FakeES) -> None:
    log = tmp_path / "messages"
    append(log, 0, 5)
    cfg = config(tmp_path, log, [es.url])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the first 5 documents")
        es.stop()  # an outage after the output was opened: nothing was written since
        config(tmp_path, log, ["http://127.0.0.1:1"])
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload, taken")
        assert "not reloading" not in daemon.output()
        es.start()
        config(tmp_path, log, [es.url])  # (the same port)
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: daemon.output().count("shipper: reloaded") == 2, 60, "the second reload")
        append(log, 5, 3)
        wait_for(lambda: len(es.docs(stream("default"))) == 8, 60, "the new lines")
        assert daemon.stop() == 0, daemon.output()


def test_a_new_namespace_while_batches_wait_in_the_disk_buffer_stores_each_event_once(tmp_path: Path) -> None:
    with FakeES("8.15.3") as es:
        assert run_command("setup", ["--es-url", es.url], make_env()) == 0
        es.stop()  # down from the start: every batch goes to the disk buffer
        log = tmp_path / "messages"
        log.touch()
        cfg = config(tmp_path, log, [es.url])
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            spooled(daemon, tmp_path, log)
            config(tmp_path, log, [es.url], namespace="moved")
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
            append(log, 30, 10)
            es.start()
            wait_for(lambda: len(es.docs(stream("moved"))) == 40, 60, "the 40 documents in the new data stream")
            wait_for(lambda: status(tmp_path).get("in_flight_batches") == 0 and status(tmp_path).get("spool_bytes") == 0,
                     60, "everything acknowledged")
            assert daemon.stop() == 0, daemon.output()
        assert es.docs(stream("default")) == {}
        assert len(set(ids(es, stream("moved")))) == 40
        messages = sorted(doc["message"] for doc in es.docs(stream("moved")).values())
        assert messages == sorted(f"line {i}" for i in range(40))


def test_a_new_namespace_at_a_restart_with_batches_in_the_disk_buffer_stores_each_event_once(tmp_path: Path) -> None:
    with FakeES("8.15.3") as es:
        assert run_command("setup", ["--es-url", es.url], make_env()) == 0
        es.stop()
        log = tmp_path / "messages"
        log.touch()
        cfg = config(tmp_path, log, [es.url])
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            spooled(daemon, tmp_path, log)
            assert daemon.stop() == 0, daemon.output()
        assert any((tmp_path / "state" / "spool").glob("*.seg"))
        es.start()
        config(tmp_path, log, [es.url], namespace="moved")
        with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
            wait_for(lambda: len(es.docs(stream("moved"))) == 30, 60, "the 30 documents in the new data stream")
            wait_for(lambda: status(tmp_path).get("in_flight_batches") == 0 and status(tmp_path).get("spool_bytes") == 0,
                     60, "everything acknowledged")
            assert daemon.stop() == 0, daemon.output()
        assert es.docs(stream("default")) == {}
        assert len(set(ids(es, stream("moved")))) == 30


@pytest.mark.parametrize("rotated", [False, True], ids=["read-again", "rotated-away"])
def test_a_new_namespace_after_an_outage_began_while_connected_stores_each_event_once(
        tmp_path: Path, es: FakeES, rotated: bool) -> None:
    """The old output, retrying what it holds when the reload's run.stop_timeout runs out, lets go
    of it: into the disk buffer, encoded again for the new namespace. Its lines are read again too
    (one copy kept, by id), or, once rotated out of the input's paths, only the disk buffer has them."""
    log = tmp_path / "messages"
    append(log, 0, 5)
    cfg = config(tmp_path, log, [es.url])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the first 5 documents")
        es.stop()
        append(log, 5, 20)  # held by the output, retrying
        wait_for(lambda: status(tmp_path).get("inputs", {}).get("file-messages", {}).get("read") == 25, 60, "25 lines read")
        if rotated:
            log.rename(tmp_path / "messages.1")  # not in the input's paths: its lines are not read again
            log.touch()
        config(tmp_path, log, [es.url], namespace="moved")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        assert "(run.stop_timeout): it let go; the" in daemon.output(), daemon.output()
        es.start()
        wait_for(lambda: len(es.docs(stream("moved"))) == 20, 60, "the 20 documents in the new data stream")
        wait_for(lambda: status(tmp_path).get("in_flight_batches") == 0 and status(tmp_path).get("spool_bytes") == 0,
                 60, "everything acknowledged")
        assert daemon.stop() == 0, daemon.output()
    assert len(es.docs(stream("default"))) == 5, daemon.output()
    assert sorted(doc["message"] for doc in es.docs(stream("moved")).values()) == sorted(f"line {i}" for i in range(5, 25))
