"""Syslog vocabulary: month names (as journalctl prints them in common locales), facility and
severity names, PRI decoding, and RFC 5424 STRUCTURED-DATA.

Names are the syslog(3) keywords (``mail``, ``err``, ``info``); ``log.level`` gets the severity
keyword too, so ``log.level: err`` reads the same for a syslog line and a journal entry.
"""

from __future__ import annotations

import re
from typing import Any

# Month names by locale, as glibc's LC_TIME ``abmon`` (what ``%b`` prints) and full names, so
# that both old and new glibc spellings are known (fr_FR abmon was "avril", later "avr.").
# Lower-cased; a trailing "." is stripped before lookup. Korean/Japanese/Chinese abmon carry a
# leading space for 1..9 (" 1월"), stripped too.
_MONTH_NAMES: tuple[tuple[str, ...], ...] = (
    ("jan", "january", "janv", "janvier", "januar", "jän", "jänner", "ene", "enero", "gen", "gennaio",
     "janeiro", "januari", "янв", "января", "январь"),
    ("feb", "february", "févr", "fév", "février", "fevr", "februar", "febrero", "febbraio", "fev",
     "fevereiro", "februari", "фев", "февраля", "февраль"),
    ("mar", "march", "mars", "mär", "märz", "marzo", "março", "mrt", "maart", "мар", "марта", "март"),
    ("apr", "april", "avr", "avril", "abr", "abril", "aprile", "апр", "апреля", "апрель"),
    ("may", "mai", "mayo", "mag", "maggio", "maio", "mei", "мая", "май"),
    ("jun", "june", "juin", "juni", "junio", "giu", "giugno", "junho", "июн", "июня", "июнь"),
    ("jul", "july", "juil", "juillet", "jui", "juli", "julio", "lug", "luglio", "julho", "июл", "июля", "июль"),
    ("aug", "august", "août", "aoû", "ago", "agosto", "augustus", "авг", "августа", "август"),
    ("sep", "sept", "september", "septembre", "septiembre", "set", "settembre", "setembro", "сен",
     "сентября", "сентябрь"),
    ("oct", "october", "octobre", "okt", "oktober", "octubre", "ott", "ottobre", "out", "outubro", "окт",
     "октября", "октябрь"),
    ("nov", "november", "novembre", "noviembre", "novembro", "ноя", "ноября", "ноябрь"),
    ("dec", "december", "déc", "décembre", "dez", "dezember", "dic", "diciembre", "dicembre", "dezembro",
     "дек", "декабря", "декабрь"),
)
_CJK_NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二")


def _month_table() -> dict[str, int]:
    table: dict[str, int] = {}
    for number, names in enumerate(_MONTH_NAMES, start=1):
        for name in names:
            table[name] = number
        table[f"{number}월"] = number  # ko
        table[f"{number}月"] = number  # ja, zh
        table[f"{_CJK_NUMERALS[number - 1]}月"] = number
    return table


MONTHS: dict[str, int] = _month_table()
# The hot path looks the English abbreviation up as written ("Aug"), before any normalising.
ENGLISH_MONTHS: dict[str, int] = {n[0].capitalize(): i for i, n in enumerate(_MONTH_NAMES, start=1)}


def month_number(token: str) -> int | None:
    """1..12 for a month name in any known locale (``Aug``, ``avril``, ``janv.``, `` 1월``)."""
    n = ENGLISH_MONTHS.get(token)
    if n is None:
        n = MONTHS.get(token.strip().rstrip(".").lower())
    return n


FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_FACILITY_CODES = {name: code for code, name in enumerate(FACILITIES)}
_SEVERITY_CODES = {name: code for code, name in enumerate(SEVERITIES)}
_SEVERITY_CODES.update({"panic": 0, "error": 3, "warn": 4})


def syslog_fields(facility: int | None, severity: int | None) -> dict[str, Any]:
    """``log.syslog`` from a facility and/or severity code; ``priority`` only when both are known."""
    out: dict[str, Any] = {}
    if facility is not None and 0 <= facility < len(FACILITIES):
        out["facility"] = {"code": facility, "name": FACILITIES[facility]}
    if severity is not None and 0 <= severity < len(SEVERITIES):
        out["severity"] = {"code": severity, "name": SEVERITIES[severity]}
    if "facility" in out and "severity" in out:
        out["priority"] = facility * 8 + severity  # type: ignore[operator]
    return out


def add_pri(doc: dict[str, Any], pri: int) -> None:
    """Set ``log.syslog.*`` and ``log.level`` from a PRI value (``<34>`` -> auth.crit)."""
    if not 0 <= pri <= 191:
        return
    _add_syslog(doc, syslog_fields(pri >> 3, pri & 7))


def add_verbose_pri(doc: dict[str, Any], text: str) -> bool:
    """FreeBSD ``syslogd -v`` ``<4.3>`` / ``-vv`` ``<auth.info>``; False if not of that shape."""
    fac_text, sep, sev_text = text.partition(".")
    if not sep:
        return False
    if fac_text.isascii() and fac_text.isdigit() and sev_text.isascii() and sev_text.isdigit():
        fac: int | None = int(fac_text)
        sev: int | None = int(sev_text)
    else:
        fac, sev = _FACILITY_CODES.get(fac_text), _SEVERITY_CODES.get(sev_text)
    fields = syslog_fields(fac, sev)
    if not fields:
        return False
    _add_syslog(doc, fields)
    return True


def _add_syslog(doc: dict[str, Any], fields: dict[str, Any]) -> None:
    log = doc.setdefault("log", {})
    log.setdefault("syslog", {}).update(fields)
    severity = fields.get("severity")
    if severity is not None:
        log["level"] = severity["name"]


# RFC 5424 STRUCTURED-DATA: [SD-ID PARAM="VALUE" ...]..., values escape only \" \\ \].
_SD_NAME = re.compile(r'[^ =\]"]{1,32}')


def parse_structured_data(text: str, pos: int) -> tuple[dict[str, dict[str, str]], int] | None:
    """SD-ELEMENTs starting at ``text[pos] == "["``: ``({id: {param: value}}, end)``; None if malformed."""
    sd: dict[str, dict[str, str]] = {}
    n = len(text)
    while pos < n and text[pos] == "[":
        m = _SD_NAME.match(text, pos + 1)
        if m is None:
            return None
        params: dict[str, str] = {}
        pos = m.end()
        while pos < n and text[pos] == " ":
            p = _SD_NAME.match(text, pos + 1)
            if p is None or text[p.end() : p.end() + 2] != '="':
                return None
            value, pos = _sd_value(text, p.end() + 2)
            if pos < 0:
                return None
            params[p.group(0)] = value
        if pos >= n or text[pos] != "]":
            return None
        sd[m.group(0)] = params
        pos += 1
    return sd, pos


def _sd_value(text: str, pos: int) -> tuple[str, int]:
    """A PARAM-VALUE from just after its opening quote: (value, index after the closing quote)."""
    out = []
    n = len(text)
    while pos < n:
        c = text[pos]
        if c == "\\" and pos + 1 < n and text[pos + 1] in '"\\]':
            out.append(text[pos + 1])
            pos += 2
        elif c == '"':
            return "".join(out), pos + 1
        else:
            out.append(c)
            pos += 1
    return "", -1
