"""A `journalctl -o json` entry whose field holds a value nested deeper than orjson writes (254
levels) crashed `shipper replay` (TypeError while keeping the value's text): it is an unparsed
event now, its raw line as message, and the entries around it are read as ever."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_a_too_deep_json_field_is_an_unparsed_entry(tmp_path: Path) -> None:
    entry = {"__REALTIME_TIMESTAMP": "1504104967000000", "_HOSTNAME": "gorp", "SYSLOG_IDENTIFIER": "app",
             "_BOOT_ID": "b" * 32}
    deep = '{"MESSAGE": "deep", "FOO": ' + "[" * 300 + "1" + "]" * 300 + "}"
    lines = [json.dumps({**entry, "MESSAGE": "before"}), deep, json.dumps({**entry, "MESSAGE": "after"})]
    dump = tmp_path / "j.json"
    dump.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.ndjson"
    done = subprocess.run([sys.executable, "-m", "shipper", "replay", "--format", "journal-json", "--output", "ndjson",
                           "--timezone", "UTC", str(dump)], stdout=out.open("wb"), stderr=subprocess.PIPE, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["message"] for d in docs] == ["before", deep, "after"]
    assert ["unparsed" in d.get("tags", []) for d in docs] == [False, True, False]  # (its time: the entry before)
