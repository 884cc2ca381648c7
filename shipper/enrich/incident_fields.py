"""What linking (`shipper.enrich.incidents`) reads of an event: its time, host, boot, manager, program
and PIDs."""

from __future__ import annotations

from datetime import datetime, timezone

from shipper.enrich.hints import SERVICE_MANAGER
from shipper.event import Doc, get_path


def epoch(ts: str) -> float:
    """Seconds since the epoch of a stored ``@timestamp`` (``2017-08-30T14:56:07.000000Z``)."""
    base = datetime.fromisoformat(ts[:19]).replace(tzinfo=timezone.utc).timestamp()
    frac = ts[20:26] if len(ts) > 20 and ts[19] == "." else ""
    return base + (int(frac) / 10 ** len(frac) if frac.isdigit() else 0.0)


def boot_of(doc: Doc) -> str | None:
    journald = doc.get("journald")
    return journald.get("boot_id") if journald else None


def program_of(doc: Doc) -> str:
    proc = doc.get("process")
    return str(proc.get("name") or "") if proc else ""


def pid_of(doc: Doc) -> int | None:
    pid = get_path(doc, "process.pid")
    return pid if isinstance(pid, int) and pid > 1 else None


def named_pid(doc: Doc) -> int | None:
    """The PID a failure names: a status block's ``Main PID: N`` (such a line has no process name)."""
    proc = doc.get("process")
    return pid_of(doc) if proc and "name" not in proc else None


def host_of(doc: Doc) -> str:
    """The host an event is from (``""``: none, as in a pasted status block)."""
    host = doc.get("host")
    return str(host.get("name", "")) if host else ""


def manager_of(doc: Doc) -> int | None:
    """The PID of the service manager that logged ``doc``: 1 for the system manager, a user
    manager's (``systemd[1562]: ...``) for it; None for any other process and for ``systemd``
    with no PID (rsyslog on RHEL 7 writes ``systemd:``), which may be either. The system manager's
    ``foo.service`` and a user manager's are two units: they never share an incident."""
    proc = doc.get("process")
    if not proc or proc.get("name") != SERVICE_MANAGER:
        return None
    pid = proc.get("pid")
    return pid if isinstance(pid, int) and pid >= 1 else None
