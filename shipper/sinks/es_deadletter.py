"""The Elasticsearch sink's dead letter: what a refused document becomes (a `Letter` for the table
in the state directory, and the copy for the dead letter data stream), and that directory's checks."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from shipper.errors import OutputError
from shipper.sinks.bulk import split_item
from shipper.sinks.deadletter import Letter
from shipper.sinks.es_errors import error_reason


def letter_of(item: bytes, result: dict[str, Any], at: float) -> Letter:
    """The dead letter of a bulk ``item`` Elasticsearch answered with ``result``, at ``at`` (epoch)."""
    meta, source = split_item(item)
    error = result.get("error") or {}
    return Letter(_iso(at), str(meta.get("_index", "")), meta.get("_id"), int(result.get("status", 0)),
                  str(error.get("type", "error")) if isinstance(error, dict) else "error", error_reason(result), source)


def copy_of(letter: Letter) -> dict[str, Any]:
    """The dead letter data stream's document: the original as a string, so it can never conflict."""
    event: dict[str, Any] = {"kind": "pipeline_error", "original": letter.source.decode("utf-8", "replace")}
    if letter.doc_id:
        event["id"] = letter.doc_id
    return {
        "@timestamp": letter.at,
        "message": letter.reason,
        "event": event,
        "error": {"type": letter.error_type, "message": letter.reason},
        "shipper": {"deadletter": {"target": letter.target, "status": letter.status}},
    }


def check_state_dir(state_dir: Path, *, make: bool) -> None:
    """The state directory, where the dead letter goes, is there and writable: made if ``make``;
    else (the daemon, whose lock made it) missing means it was deleted while the daemon ran."""
    if not make:
        if not state_dir.is_dir():
            raise OutputError(f"the state directory {state_dir} is gone; the Elasticsearch output "
                              "keeps its dead letter there",
                              hint="was it deleted while shipper was running? start shipper again: it makes the directory")
    else:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the state directory {state_dir}: {exc.strerror}",
                              hint="set state_dir in the config to a directory shipper may write") from None
    if not os.access(state_dir, os.W_OK):
        raise OutputError(f"the state directory {state_dir} is not writable; the Elasticsearch output "
                          "keeps its dead letter there", hint="set state_dir in the config, or run as its owner")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"
