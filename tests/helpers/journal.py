"""Real journal files for tests, made by systemd-journal-remote from export text.

``make_journal(tmp_path, export_entry({...}) + export_entry({...}))`` writes
``tmp_path/test.journal``, a binary journal that `systemd.journal.Reader` and
``journalctl --directory`` read like any other. systemd-journal-remote may rotate a large output:
the extra files (``test@….journal``) land in the same directory, so read the directory to get
every entry.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Mapping

JOURNAL_REMOTE = Path("/lib/systemd/systemd-journal-remote")

# Fields every entry needs for journal-remote to accept it; `export_entry` adds them when missing.
DEFAULT_BOOT_ID = "5ea5fc4f82a14186b5332a788ef9435e"
DEFAULT_HOSTNAME = "gorp"
_BASE_REALTIME = 1_504_104_947_000_000  # 2017-08-30T14:55:47Z, the seed incident


def export_entry(fields: Mapping[str, str | bytes], *, seq: int = 0) -> bytes:
    """One entry in ``journalctl -o export`` form (ends with the blank separator line).

    ``__REALTIME_TIMESTAMP`` (µs) and ``__MONOTONIC_TIMESTAMP`` default to values that grow with
    ``seq``; ``_BOOT_ID`` and ``_HOSTNAME`` get fixed defaults. Values that are bytes, or that
    hold a newline or control character, are written in the binary-safe form
    ``NAME\\n<u64 LE length><bytes>\\n``.
    """
    full: dict[str, str | bytes] = {
        "__REALTIME_TIMESTAMP": str(_BASE_REALTIME + seq * 1_000_000),
        "__MONOTONIC_TIMESTAMP": str(1_000_000 + seq * 1_000_000),
        "_BOOT_ID": DEFAULT_BOOT_ID,
        "_HOSTNAME": DEFAULT_HOSTNAME,
    }
    full.update(fields)
    out = bytearray()
    for name, value in full.items():
        raw = value if isinstance(value, bytes) else value.encode()
        if isinstance(value, bytes) or any(c < 0x20 and c != 0x09 for c in raw):
            out += name.encode() + b"\n" + len(raw).to_bytes(8, "little") + raw + b"\n"
        else:
            out += name.encode() + b"=" + raw + b"\n"
    return bytes(out + b"\n")


def make_journal(directory: Path, export: bytes, name: str = "test") -> Path:
    """Write ``export`` text into ``directory/<name>.journal`` with systemd-journal-remote and
    return that path. Raises `RuntimeError` with journal-remote's output when it fails."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.journal"
    proc = subprocess.run(
        [str(JOURNAL_REMOTE), "--split-mode=none", "--compress=no", f"--output={target}", "-"],
        input=export,
        capture_output=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0 or not target.exists():
        raise RuntimeError(
            f"systemd-journal-remote failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return target
