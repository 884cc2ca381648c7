"""Inputs as rsyslog writes them on a host: sendmail's lines in maillog, the others in messages."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "corpus"


def maillog_and_messages(tmp_path: Path, incidents: int) -> list[Path]:
    """Two groups in time order: the seed's incident (sendmail's SYSERRs, then systemd's verdict)
    happens ``incidents`` times among loghub's Linux lines, on four hosts; sendmail's lines go to
    maillog, the others to messages, as rsyslog writes them. The lines are real; their stamps are
    moved so that both files run in time order (a second per filler line)."""
    seed = (DATA / "seed" / "messages-sendmail.log").read_text().splitlines()
    filler = (CORPUS / "real" / "loghub" / "Linux_2k.log").read_text().splitlines()
    maillog: list[str] = []
    messages: list[str] = []
    second = 0
    for n in range(incidents):
        for line in filler[(n * 97) % 1800 :][:150]:
            second += 1
            messages.append(_at(second, line[16:]))
        host = f"mx{n % 4}"
        for line in seed:  # 20 s from the first SYSERR to the verdict, as in the report
            rest = line[16:].replace("gorp", host, 1)
            (maillog if " sendmail[" in line else messages).append(_at(second + clock_seconds(line) - clock_seconds(seed[0]), rest))
        second += 20
    (tmp_path / "maillog").write_text("\n".join(maillog) + "\n")
    (tmp_path / "messages").write_text("\n".join(messages) + "\n")
    return [tmp_path / "maillog", tmp_path / "messages"]


def clock_seconds(line: str) -> int:
    """Seconds since midnight of an RFC 3164 line's stamp."""
    h, m, s = (int(x) for x in line[7:15].split(":"))
    return h * 3600 + m * 60 + s


def _at(second: int, rest: str) -> str:
    return f"Aug 30 {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d} {rest}"
