"""`shipper status` showed a file's checkpoint as ``mail.log @ 0`` once everything was shipped:
the offset a restart reads again from (up to 16 seconds before, for the ids), which looked as if
nothing had been read (found by a tester). It shows how far the file is shipped. A damaged file
entry (a hand edit: ``"offset": [1]``) crashed it ("unexpected error … this is a bug", eighteenth
session's tester): it says the checkpoint is damaged, as the daemon does when it refuses it."""

from __future__ import annotations

from typing import Any

from shipper.commands.status import _position


def _entry(path: str, offset: Any, shipped: int, done: bool = False) -> dict[str, Any]:
    """A file entry as the daemon saves it (`Tracked.to_json`)."""
    return {"key": f"1:{path}", "fp": "0" * 32, "fp_len": 120, "path": path, "first_path": path, "dev": 2049,
            "ino": 1234, "offset": offset, "shipped": shipped, "size": shipped, "disk": shipped,
            "updated": 1732780800.0, "done": done, "copies": [], "fp_at": 0}


def test_a_file_s_position_is_how_far_it_is_shipped() -> None:
    state = {"files": [_entry("/var/log/mail.log", 0, 558), _entry("/var/log/mail.log.1", 900, 900, done=True)]}
    assert _position(state) == "/var/log/mail.log shipped to byte 558; /var/log/mail.log.1 shipped to byte 900 (done)"


def test_a_damaged_file_entry_is_said_damaged_not_a_crash() -> None:
    for damaged in ([1], "abc", -100, 12.7, 10**30):
        said = _position({"files": [_entry("/var/log/mail.log", damaged, 558)]})
        assert said.startswith("damaged (a file entry lacks a field or holds a wrong value"), (damaged, said)
    assert _position({"files": "nonsense"}).startswith("damaged"), "files not a list"
