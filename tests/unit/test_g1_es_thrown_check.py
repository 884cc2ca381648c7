"""Elasticsearch 5.0.0-alpha threw its first failed bootstrap check as an exception: one record,
``[ERROR][bootstrap] Exception``, ``java.lang.RuntimeException: max file descriptors [65535] ...
likely too low, increase to at least [65536]`` and the frames of ``BootstrapCheck.check``. The
node did not start: the incident reads as a refusal to start with the check as its cause, not as
"errors, no failure seen" (the real excerpt of elastic/elasticsearch#17430)."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers.cli import shipper_out
from helpers.samples import CORPUS

ALPHA = CORPUS / "excerpts" / "elasticsearch" / "es5.0.0-alpha1-issue17430.log"


def test_the_thrown_check_is_the_cause_of_a_refusal_to_start(tmp_path: Path) -> None:
    log = tmp_path / "elasticsearch.log"
    shutil.copy(ALPHA, log)
    store = str(tmp_path / "events.db")
    shipper_out(tmp_path, "replay", "--quiet", "--store", store, "--timezone", "UTC", str(log))
    text = shipper_out(tmp_path, "causes", "--store", store)
    headline = text.splitlines()[0]
    assert "errors, no failure seen" not in headline
    assert ("Elasticsearch node: refused to start: a bootstrap check failed — cause: the node may open only 65535 "
            "files, it needs 65536 (×1, 23:12:05)") in headline
    assert "    incident " in text and ": 2 events, 23:12:05" in text
