"""Logs written to trouble a reader: terminal controls and JavaScript property names as log text.

Any local user can put these in syslog or the journal (`logger`, a process's own name, a host's
name). The files are written into a test's temporary directory; they are real input to
`shipper replay` (a syslog file and a ``journalctl -o json`` dump).
"""

from __future__ import annotations

import json
from pathlib import Path

OSC_TITLE, CLEAR = "\x1b]0;PWNED\x07", "\x1b[2J"  # set the terminal's title; clear the screen

_BIND = "NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use"
_EXIT = "sendmail.service: Main process exited, code=exited, status=71/n/a"


def control_characters(tmp: Path) -> list[Path]:
    """A syslog file and a journal dump whose hosts, processes and messages carry control characters:
    two sendmail incidents, on hosts ``gorp ESC[2J`` and ``mx ESC]0;PWNED BEL``."""
    syslog = tmp / "messages"
    syslog.write_text(
        f"Aug 30 14:55:50 gorp{CLEAR} evil{OSC_TITLE}[12]: hello\tthere \x9b31m red\n"
        f"Aug 30 14:55:52 gorp{CLEAR} sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon "
        f"{OSC_TITLE}: cannot bind: Address already in use{CLEAR}\n"
        f"Aug 30 14:55:58 gorp{CLEAR} systemd[1]: {_EXIT}\n",
        encoding="utf-8")
    dump = tmp / "journal.json"
    host, t = f"mx{OSC_TITLE}", 1504104952000000
    entries = [
        {"__REALTIME_TIMESTAMP": str(t), "_HOSTNAME": host, "SYSLOG_IDENTIFIER": "sendmail", "_COMM": "sendmail",
         "_PID": "24097", "PRIORITY": "2", "_SYSTEMD_UNIT": "sendmail.service",
         "MESSAGE": f"NOQUEUE: SYSERR(root): opendaemonsocket: daemon {CLEAR}MTA\tX\x9b31m: cannot bind: "
                    f"Address already in use\nsecond line\r{OSC_TITLE}"},
        {"__REALTIME_TIMESTAMP": str(t + 6_000_000), "_HOSTNAME": host, "SYSLOG_IDENTIFIER": "systemd",
         "_COMM": "systemd", "_PID": "1", "PRIORITY": "5", "UNIT": "sendmail.service", "_SYSTEMD_UNIT": "init.scope",
         "MESSAGE": _EXIT},
    ]
    dump.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    return [syslog, dump]


def property_names(tmp: Path) -> Path:
    """A syslog file whose hosts and processes are named like JavaScript's built-in properties (and
    array indexes, which objects list first): a sendmail incident on host ``__proto__`` and one on
    host ``constructor``."""
    path = tmp / "messages"
    path.write_text(
        "Aug 30 14:55:40 __proto__ __proto__[12]: hello\n"
        "Aug 30 14:55:41 __proto__ __proto__[12]: hello again\n"
        "Aug 30 14:55:42 constructor constructor[13]: hi\n"
        "Aug 30 14:55:43 toString valueOf[14]: hi\n"
        "Aug 30 14:55:44 42 0[15]: names like array indexes\n"
        f"Aug 30 14:55:52 __proto__ sendmail[24097]: {_BIND}\n"
        f"Aug 30 14:55:58 __proto__ systemd[1]: {_EXIT}\n"
        f"Aug 30 14:57:52 constructor sendmail[24098]: {_BIND}\n"
        f"Aug 30 14:57:58 constructor systemd[1]: {_EXIT}\n",
        encoding="utf-8")
    return path
