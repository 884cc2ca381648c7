"""`shipper status` showed a file's checkpoint as ``mail.log @ 0`` once everything was shipped:
the offset a restart reads again from (up to 16 seconds before, for the ids), which looked as if
nothing had been read (found by a tester). It shows how far the file is shipped."""

from __future__ import annotations

from shipper.commands.status import _position


def test_a_file_s_position_is_how_far_it_is_shipped() -> None:
    state = {"files": [{"path": "/var/log/mail.log", "offset": 0, "shipped": 558},
                       {"path": "/var/log/mail.log.1", "offset": 900, "shipped": 900, "done": True}]}
    assert _position(state) == "/var/log/mail.log shipped to byte 558; /var/log/mail.log.1 shipped to byte 900 (done)"
