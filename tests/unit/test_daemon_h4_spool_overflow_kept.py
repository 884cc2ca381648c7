"""The disk buffer full while Elasticsearch is away: what did not fit under run.spool_max_bytes waits
in memory, and a stop writes it to the buffer (past the bound) rather than leave it to the inputs. The
log file is then rotated out of the input's paths before the next start: every line the first run
read is delivered all the same (it used to be only those that fitted on disk: the rest was lost). So
are the batches queued in memory before the output was found unreachable (they stayed there)."""

from __future__ import annotations

from pathlib import Path

from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config
from tests.unit.test_run_spool_bound import on_disk

LINES = 60_000
BOUND = 1 << 20


def line(i: int) -> str:
    return f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: overflow line {i} {'x' * 40}"



def test_what_waits_in_memory_when_the_buffer_is_full_survives_a_stop_and_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(line(i) + "\n" for i in range(LINES)))
    state = tmp_path / "state"
    with FakeES("8.15.3", security=False) as es:
        es.stop()  # away from the start: what is read goes to the disk buffer
        cfg = write_config(tmp_path / "shipper.yml", {
            "state_dir": str(state),
            "inputs": [{"type": "file", "paths": [str(log)], "name": "messages"}],
            "parse": {"timezone": "UTC", "year": 2017},
            "output": {"elasticsearch": {"hosts": [es.url], "retry_initial": 0.05, "retry_max": 0.5}},
            "run": {"spool_max_bytes": "1MiB", "batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "1s"},
        })
        sizes: list[int] = []

        def paused() -> bool:
            sizes.append(on_disk(state / "spool"))
            return len(sizes) > 40 and sizes[-1] > BOUND // 2 and sizes[-1] == sizes[-40]  # 2 s without growth

        with DaemonProcess(cfg, tmp_path / "stderr1.txt") as daemon:
            wait_for(paused, 60, "the disk buffer to fill and reading to pause")
            assert daemon.stop() == 0, daemon.output()
        read = read_status(state)["inputs"]["file-messages"]["read"]
        assert 0 < read < LINES, read  # (reading paused before the end of the file)
        assert max(sizes) <= BOUND  # the bound held while running
        log.rename(tmp_path / "messages-rotated")  # out of the input's paths: its lines cannot be read again
        es.start()

        def delivered() -> set[str]:
            return {d["message"] for docs in es.cluster.all_docs().values() for d in docs.values()}

        with DaemonProcess(cfg, tmp_path / "stderr2.txt") as again:
            wait_for(lambda: read_status(state).get("spool_bytes") == 0 and read_status(state).get("in_flight_batches") == 0
                     and read_status(state).get("state") == "running" and len(delivered()) > 0, 120,
                     "the disk buffer delivered")
            assert again.stop() == 0, again.output()
    got = delivered()
    # (the last line read is held by its parser, in case more lines continue it: read again, if still there)
    expected = {line(i).split(": ", 1)[1] for i in range(read - 1)}
    assert expected <= got, f"{len(expected - got)} of the {read} lines read before the stop were lost"
