"""Generates the benchmark inputs: a realistic RFC 3164 mix and journal export text.

    python bench/gen.py syslog N OUT      N lines (1,000,000 ≈ 140 MB)
    python bench/gen.py export N OUT      N journal entries in `journalctl -o export` format

The mix, per 1,000 lines: sendmail deliveries and a SYSERR bind burst with its systemd verdict,
sshd logins and failures, cron, kernel, and systemd unit failures (exit codes, start limits).
"""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
HOSTS = ["gorp", "mx1", "web-03", "db-primary", "es-node-1"]

ORDINARY = [
    ("sendmail", "{qid}: from=<alerts@{host}.example.com>, size={n}, class=0, nrcpts=1, msgid=<{qid}@{host}.example.com>, proto=ESMTP, daemon=MTA, relay=localhost [127.0.0.1]"),
    ("sendmail", "{qid}: to=<ops@example.com>, ctladdr=<root@{host}> (0/0), delay=00:00:01, xdelay=00:00:00, mailer=esmtp, pri=120{n}, relay=smtp.example.com. [192.0.2.10], dsn=2.0.0, stat=Sent (Message queued)"),
    ("sshd", "Accepted publickey for deploy from 192.0.2.{b} port {n} ssh2: ED25519 SHA256:q2lS8j0d9WkXnJ2f0mVf3r7tT1Yp0bVx4c6s8u0w2y4"),
    ("sshd", "Failed password for invalid user admin from 198.51.100.{b} port {n} ssh2"),
    ("sshd", "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"),
    ("CRON", "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"),
    ("kernel", "[{n}.123456] TCP: request_sock_TCP: Possible SYN flooding on port 25. Sending cookies.  Check SNMP counters."),
    ("kernel", "[{n}.654321] EXT4-fs (vda1): mounted filesystem with ordered data mode. Opts: (null)"),
    ("systemd", "Started Session {n} of user deploy."),
    ("systemd", "Starting Daily apt upgrade and clean activities..."),
    ("dhclient", "DHCPACK of 192.0.2.{b} from 192.0.2.1"),
    ("postfix/smtpd", "connect from unknown[203.0.113.{b}]"),
]

BURST = [
    ("sendmail", "NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use"),
    ("sendmail", "daemon MTA: problem creating SMTP socket"),
]
VERDICT = [
    ("systemd", "sendmail.service: Main process exited, code=exited, status=71/OSERR"),
    ("systemd", "sendmail.service: Failed with result 'exit-code'."),
    ("systemd", "Failed to start Sendmail Mail Transport Agent."),
    ("systemd", "nginx.service: Control process exited, code=exited, status=203/EXEC"),
    ("systemd", "nginx.service: Start request repeated too quickly."),
]


def syslog_lines(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    out: list[str] = []
    t = 0
    while len(out) < n:
        t += rnd.randint(0, 2)
        host = rnd.choice(HOSTS)
        stamp = _stamp(t)
        if len(out) % 1000 == 500:  # a SYSERR burst and systemd's verdict
            pid = rnd.randint(1000, 60000)
            for ident, msg in BURST * 3:
                out.append(f"{stamp} {host} {ident}[{pid}]: {msg}")
            for ident, msg in VERDICT:
                out.append(f"{stamp} {host} {ident}[1]: {msg}")
            continue
        ident, tmpl = rnd.choice(ORDINARY)
        msg = tmpl.format(qid=f"r5I9Yc{rnd.randint(100000, 999999)}", host=host, n=rnd.randint(1000, 99999), b=rnd.randint(1, 254))
        tag_pid = "" if ident == "kernel" else f"[{rnd.randint(100, 60000)}]"
        out.append(f"{stamp} {host} {ident}{tag_pid}: {msg}")
    return out[:n]


def _stamp(t: int) -> str:
    day, rest = divmod(t, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{MONTHS[(day // 28) % 12]} {day % 28 + 1:2d} {h:02d}:{m:02d}:{s:02d}"


def export_entries(n: int, seed: int = 1) -> bytes:
    """Journal export text for ``n`` entries (one boot, realtime stamps 1 ms apart)."""
    boot = uuid.UUID(int=seed).hex
    base = 1_700_000_000_000_000
    parts = []
    for i, line in enumerate(syslog_lines(n, seed)):
        host, rest = line[16:].split(" ", 1)
        ident, msg = rest.split(": ", 1)
        name, _, pid = ident.partition("[")
        fields = {
            "__REALTIME_TIMESTAMP": str(base + i * 1000),
            "__MONOTONIC_TIMESTAMP": str(1_000_000 + i * 1000),
            "_BOOT_ID": boot,
            "_HOSTNAME": host,
            "SYSLOG_IDENTIFIER": name,
            "_PID": pid.rstrip("]") or "1",
            "PRIORITY": "6",
            "_TRANSPORT": "syslog",
            "MESSAGE": msg,
        }
        parts.append("".join(f"{k}={v}\n" for k, v in fields.items()) + "\n")
    return "".join(parts).encode()


def main(argv: list[str]) -> None:
    kind, n, out = argv[0], int(argv[1]), Path(argv[2])
    if kind == "syslog":
        out.write_text("\n".join(syslog_lines(n)) + "\n")
    elif kind == "export":
        out.write_bytes(export_entries(n))
    else:
        raise SystemExit("usage: gen.py syslog|export N OUT")


if __name__ == "__main__":
    main(sys.argv[1:])
