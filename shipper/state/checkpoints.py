"""Checkpoints: one JSON file per input in ``<state_dir>/checkpoints/``, written atomically.

What a checkpoint holds is the input's business (journal: the cursor reached; files: every known
file's identity and offset); this module only names, reads and writes the files. A file that
cannot be read back (a disk error, a hand edit gone wrong) is reported, not silently replaced:
starting over from nothing could re-ship or skip months of logs.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import orjson

from shipper.errors import ConfigError, OutputError
from shipper.state.atomic import fsync_path, write_atomic

DIRNAME = "checkpoints"
VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def input_key(kind: str, name: str | None, identity: str) -> str:
    """The file name stem of an input's checkpoint: its configured ``name``, else a readable
    slug of ``identity`` (its paths) plus a short hash, so that two inputs never share one."""
    if name:
        return f"{kind}-{name}"
    slug = _UNSAFE.sub("_", identity).strip("_")[-40:] or "local"
    digest = hashlib.blake2b(identity.encode(), digest_size=4).hexdigest()
    return f"{kind}-{slug}-{digest}"


class CheckpointStore:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / DIRNAME

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        """The saved checkpoint of input ``key``, None when it has none yet."""
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read checkpoint {path}: {exc.strerror}", hint="check the state directory's permissions") from None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        state = data.get("state") if isinstance(data, dict) and data.get("version") == VERSION else None
        if not isinstance(state, dict):  # (`save` writes an object: anything else is no checkpoint of this version)
            raise ConfigError(
                f"checkpoint {path} is damaged or from another shipper version",
                hint="move it away to start this input afresh: the events it already shipped are recognised by id and not stored twice",
            )
        return state

    def save(self, key: str, state: dict[str, Any]) -> None:
        """Write input ``key``'s checkpoint; ``checkpoints/`` is made in the state directory, never
        the state directory itself (made when shipper starts: one deleted since is an error)."""
        try:
            self.dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot make the checkpoint directory {self.dir}: {exc.strerror}",
                              hint=f"the state directory {self.dir.parent} must exist and be writable "
                                   "(shipper makes it when it starts)") from None
        write_atomic(self.path(key), orjson.dumps({"version": VERSION, "state": state}, option=orjson.OPT_INDENT_2))

    def remove(self, key: str) -> None:
        """Remove input ``key``'s checkpoint (the removal synced, as a write: `fsync_path`)."""
        try:
            self.path(key).unlink(missing_ok=True)
            fsync_path(self.dir, directory=True)
        except OSError as exc:
            raise OutputError(f"cannot remove checkpoint {self.path(key)}: {exc.strerror}",
                              hint="check the state directory's permissions") from None

    def all(self, damaged: dict[str, ConfigError] | None = None) -> dict[str, dict[str, Any]]:
        """Every input's checkpoint, by key (for `shipper status`); damaged ones are left out (their
        errors put in ``damaged``, by key, when given: `shipper.daemon.session` says so)."""
        out: dict[str, dict[str, Any]] = {}
        if not self.dir.is_dir():
            return out
        for path in sorted(self.dir.glob("*.json")):
            try:
                state = self.load(path.stem)
            except ConfigError as exc:
                if damaged is not None:
                    damaged[path.stem] = exc
                continue
            if state is not None:
                out[path.stem] = state
        return out
