"""A file one file input reads is not read again by another (`shipper.sources.claims`) when it moves
out of the first one's patterns: renamed, its link removed, compressed; across SIGHUP and restarts
(real `shipper run` processes, NDJSON output, every line counted).

* Renamed to a name only another input matches (``maillog.log`` -> ``old.log``): the input that read
  it goes on reading it under its new name (the other input's), also after a reload and a restart;
  its checkpoint says where the file is now.
* logrotate's rename (``a.log`` -> ``a.log.1``) with a reload that adds an input before it: read to
  its end by the input that was reading it.
* The symlink and the hard link an input read a file through are removed, and the inputs swapped:
  the file stays with that input, which follows it under the other input's name.
* Compressed afterwards (``a.log.1`` -> ``a.log.1.gz``) where only another input matches archives:
  the archive holds content the first input reads, and is not read, also after a restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from shipper.sources.tail import ARCHIVE_SETTLE
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def file_input(name: str, *paths: Path) -> dict[str, Any]:
    return {"type": "file", "name": name, "paths": [str(p) for p in paths], "flush_after": "100ms",
            "scan_interval": "200ms"}


def append(path: Path, first: int, n: int) -> None:
    with path.open("a") as f:
        f.write(lines(first, n))


def checkpoint(tmp_path: Path, name: str) -> dict[str, Any]:
    try:
        return dict(orjson.loads((tmp_path / "state" / "checkpoints" / f"file-{name}.json").read_bytes())["state"])
    except (OSError, orjson.JSONDecodeError, KeyError):
        return {}


def reload(daemon: DaemonProcess, stderr: Path) -> None:
    before = stderr.read_text().count("shipper: reloaded")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: stderr.read_text().count("shipper: reloaded") > before, 60, "the reload")


def exactly(tmp_path: Path, n: int) -> None:
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(n)), sorted((m, c) for m, c in got.items() if c != 1)[:5]


def test_a_file_renamed_to_a_name_only_another_input_matches_stays_with_its_reader(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    mail = logs / "maillog.log"
    mail.write_text(lines(0, 300))
    cfg = config(tmp_path, [file_input("mail", logs / "maillog*"), file_input("all", logs / "*.log")])
    err = tmp_path / "stderr1.txt"
    with DaemonProcess(cfg, err) as daemon:
        wait_for(lambda: settled(tmp_path, 300), 60, "the 300 lines shipped")
        old = logs / "old.log"
        mail.rename(old)  # (the writer goes on writing to its descriptor)
        append(old, 300, 5)
        wait_for(lambda: settled(tmp_path, 305), 60, "the 5 lines written after the rename")
        reload(daemon, err)
        append(old, 305, 5)
        wait_for(lambda: settled(tmp_path, 310), 60, "the 5 lines written after the reload")
        stop(daemon)
    [saved] = checkpoint(tmp_path, "mail")["files"]
    assert saved["path"] == str(old) and saved["shipped"] == old.stat().st_size, saved  # where it is now
    assert checkpoint(tmp_path, "all")["files"] == []
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        append(old, 310, 5)
        wait_for(lambda: settled(tmp_path, 315), 60, "the 5 lines written after the restart")
        said = stop(daemon)
    exactly(tmp_path, 315)
    assert f"{old} is read by the input mail ({logs}/maillog*), which started reading it under a name" in said, said
    assert (f"{mail} is now {old} (renamed, or the link this input read it through removed), which this input's "
            f"patterns do not match; this input goes on reading it there, and the input all ({logs}/*.log) skips it"
            ) in err.read_text()
    assert "removed or replaced" not in err.read_text() + said


def test_a_file_rotated_by_rename_is_read_to_its_end_by_its_reader_across_a_reload(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    a, b = logs / "a.log", logs / "b.log"
    a.write_text(lines(0, 200))
    b.write_text(lines(200, 200))
    x = file_input("x", logs / "*.log")
    err = tmp_path / "stderr.txt"
    with DaemonProcess(config(tmp_path, [x]), err) as daemon:
        wait_for(lambda: settled(tmp_path, 400), 60, "the 400 lines shipped")
        rotated = logs / "a.log.1"
        a.rename(rotated)
        config(tmp_path, [file_input("y", logs / "*"), x])  # an input added before x
        reload(daemon, err)
        append(rotated, 400, 5)  # (written through the descriptor its writer still has)
        append(b, 405, 5)
        wait_for(lambda: settled(tmp_path, 410), 60, "the 10 lines written after the reload")
        said = stop(daemon)
    exactly(tmp_path, 410)
    assert f"{rotated} is read by the input x ({logs}/*.log), which started reading it under a name" in said, said
    assert (f"{a} is now {rotated} (renamed, or the link this input read it through removed), which this input's "
            f"patterns do not match; this input reads it there to its end, as a rotated file, and the input y "
            f"({logs}/*) then takes it as read") in said, said


def test_a_file_whose_symlink_and_hard_link_are_removed_stays_with_its_reader(tmp_path: Path) -> None:
    logs, links = tmp_path / "logs", tmp_path / "links"
    logs.mkdir()
    links.mkdir()
    a, h = logs / "a.log", logs / "h.log"
    a.write_text(lines(0, 500))
    h.write_text(lines(500, 500))
    (links / "a.log").symlink_to(a)
    os.link(h, links / "h.log")
    via_links, direct = file_input("links", links / "*.log"), file_input("logs", logs / "*.log")
    cfg = config(tmp_path, [via_links, direct])
    with DaemonProcess(cfg, tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 1000), 60, "the 1,000 lines shipped")
        stop(daemon)
    (links / "a.log").unlink()
    (links / "h.log").unlink()
    config(tmp_path, [direct, via_links])  # and the other input first now
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        append(a, 1000, 5)
        append(h, 1005, 5)
        wait_for(lambda: settled(tmp_path, 1010), 60, "the 10 lines written after the restart")
        said = stop(daemon)
    exactly(tmp_path, 1010)
    assert f"{a} is read by the input links ({links}/*.log), which started reading it under a name" in said, said
    assert f"{links}/h.log is now {h} (renamed, or the link this input read it through removed)" in said, said
    assert {f["path"] for f in checkpoint(tmp_path, "links")["files"]} == {str(a), str(h)}


def test_a_rotated_file_compressed_where_only_another_input_matches_archives_is_not_read_again(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    a = logs / "a.log"
    a.write_text(lines(0, 300))
    cfg = config(tmp_path, [file_input("x", logs / "*.log", logs / "*.log.1"), file_input("y", logs / "*.gz")])
    err = tmp_path / "stderr.txt"
    gz = logs / "a.log.1.gz"
    with DaemonProcess(cfg, err) as daemon:
        wait_for(lambda: settled(tmp_path, 300), 60, "the 300 lines shipped")
        a.rename(logs / "a.log.1")
        a.write_text(lines(300, 5))
        subprocess.run(["gzip", str(logs / "a.log.1")], check=True)
        wait_for(lambda: f"{gz} holds the content of a file the input x" in err.read_text()
                 or sum(shipped(tmp_path).values()) > 305, 60, "y taking the archive as read (or reading it)")
        append(a, 305, 5)
        wait_for(lambda: settled(tmp_path, 310), 60, "the lines of the new a.log")
        time.sleep(ARCHIVE_SETTLE + 1.0)  # (an archive read by y would be read by now)
        stop(daemon)
    exactly(tmp_path, 310)
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:  # x's checkpoint gives y the archive as read
        append(a, 310, 5)
        wait_for(lambda: settled(tmp_path, 315), 60, "the lines written after the restart")
        time.sleep(1.0)
        said = stop(daemon)
    exactly(tmp_path, 315)
    # (y's checkpoint, saved when its files changed, holds the archive as read: the restart has nothing to say of it)
    assert f"{gz} holds the content of a file the input x" in err.read_text() and str(gz) not in said, said
