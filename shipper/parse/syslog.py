"""Syslog text lines -> documents (``event.dataset: syslog``).

Two hot paths cost a dict lookup (the stamp's minute) and one regex (host, tag, message): RFC 3164
file lines and ISO stamps with a zone. Every other shape is chosen by the line's first character
(`SyslogParser._slow`). Header families:

* ``Aug 30 14:55:47 host tag[pid]: msg`` (RFC 3164 as written to files; also journalctl
  ``short``). Day space- or zero-padded or a single digit; month names of common locales
  (``avril 20``, `` 1월 27``); fractions (journalctl ``short-precise``); FreeBSD ``-v``/``-vv``
  (``<4.3>``, ``<auth.info>`` after the stamp); a missing host (``Jun 21 16:47:48 tag[pid]: ...``).
* ``<PRI>`` before any of these; ``<PRI>1 ...`` is RFC 5424 (SD parsed, ``-`` = nil, BOM stripped).
* ISO stamps: rsyslog's high-precision format, journalctl ``short-iso``, zone ``Z``/``+02:00``/
  ``+0200``/`` UTC`` or none (-> the context's zone); journalctl ``short-full``
  (``Mon 2022-10-24 00:00:05 UTC``, also ``EDT``, ``+03``: shipper/parse/syslog_journalctl.py) and
  ``short-unix`` (``1666569605.123456``).
* loghub's Thunderbird prefix (``- 1131566490 2005.11.09 node Nov 9 12:01:30 src@node tag: ...``):
  ``@timestamp`` from its epoch seconds, ``host.name`` = the node.
* ``tag[pid]: msg`` or ``host tag[pid]: msg`` without a stamp (journal views without time):
  parsed, ``@timestamp`` inferred.
* a stamp in brackets (``[Jun 21 16:55:03] host tag: msg``, fail2ban's "date ambit").

Tags: ``tag[pid]:``, ``tag:``, ``tag[pid]`` without colon (macOS ``launchd[1] (...)``), tags with
odd characters (``postfix/smtpd``, ``sshd(pam_unix)``, ``gdm-password]``, ``Microsoft Word``).
A line with no tag keeps everything after the host in ``message`` (``process`` absent). A tag that
is a systemd unit (``journalctl -o with-unit``: ``sendmail.service[123]``) sets ``systemd.unit``
instead (shipper/parse/syslog_journalctl.py).

Continuation lines (starting with a tab or a space, ``journalctl -x`` catalog text ``░░ ...`` and
``-- ...``) are folded into the previous record. journalctl's own lines (``-- Logs begin at ...``,
``-- Boot ... --``, ``-- No entries --``) are documents tagged ``meta`` (not ``unparsed``: they were
recognised; they are not log entries) with the inferred timestamp.

``log.syslog.*`` is set from a PRI (or FreeBSD's ``<fac.sev>``), and for RFC 5424 also
``hostname``/``appname``/``procid``/``msgid``/``version``/``structured_data``; RFC 3164 header
parts go to ``host.name`` and ``process.*`` only.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from shipper.event import TAG_META, TAG_TIMESTAMP_INFERRED, TAG_TIMESTAMP_ZONE_IGNORED, Doc, add_tag
from shipper.parse.base import ParseContext
from shipper.parse.common import TAG_TIMESTAMP_NONEXISTENT, TextParser, add_item_tags, is_record
from shipper.parse.syslog_journalctl import UNIT_SUFFIXES, add_unit, unit_ident, zone_word_offset
from shipper.parse.syslog_fields import ENGLISH_MONTHS, add_pri, add_verbose_pri, month_number, parse_structured_data
from shipper.parse.timestamps import ISO_STAMP, BsdStamps, IsoStamps, LocalTime, fraction, from_epoch_micros
from shipper.sources.base import Origin, RawChunk

# After the stamp: [FreeBSD <fac.sev>] host [tag[pid][:] | tag:] message
_TAG = r"([^ :\[\]](?:[^:\[]{0,46}?[^ :\[])?)\[(\d{1,10})\]:? ?|([^ :\[\]]{1,48}): ?"
_TAIL = re.compile(r" *(?:<(\d{1,2}\.\d|[a-z0-9]{2,12}\.[a-z]{3,7})> +)?([^ ]+)(?: |$)(?:" + _TAG + r")?(.*)", re.S | re.A)
# The common case after the stamp: "host tag[pid]: " (the rest is the message).
_HEAD_PATTERN = r"([^ :<][^ ]*) ([^ :\[\]]{1,48})(?:\[(\d{1,10})\])?: (.*)"
_HEAD = re.compile(_HEAD_PATTERN, re.S | re.A)
# The same after an ISO stamp of rsyslog's high-precision format or journalctl short-iso (with a
# zone): stamp, fraction, zone, then _HEAD's groups.
_ISO_HOT = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d) " + _HEAD_PATTERN, re.S | re.A)
_PADDED_PID = re.compile(r" +\[(\d{1,10})\]: ?", re.A)
_TAG_ONLY = re.compile(r"(?:" + _TAG + r")(.*)", re.S | re.A)

_ISO_HEAD = re.compile(ISO_STAMP.pattern + " ", re.A)
_BSD_HEAD = re.compile(r" ?(\S{1,12}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))? ", re.A)
_FULL_HEAD = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d{1,9})? ([A-Za-z]{1,6}|[+-]\d\d(?::?\d\d)?) ",
    re.A,
)
_UNIX_HEAD = re.compile(r"(\d{9,11})\.(\d{6}) ", re.A)
_THUNDERBIRD = re.compile(r"\S+ (\d{9,11}) \d{4}\.\d\d\.\d\d (\S+) \S+ +\d{1,2} \d\d:\d\d:\d\d ", re.A)
_STAMPLESS = re.compile(r"(?:([^ :\[\]]+) )?([^ :\[\]][^ :\[]{0,47})\[(\d{1,10})\]: ?(.*)", re.S | re.A)
_PRI = re.compile(r"<(\d{1,3})>", re.A)
_RFC5424 = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)")
_META_PREFIXES = (
    "-- Logs begin at ", "-- Journal begins at ", "-- No entries --", "-- Boot ", "-- Reboot --", "-- cursor: "
)

_SECONDS = frozenset(f"{s:02d}" for s in range(60))
_FOLD: Any = object()  # returned by the slow path for a continuation line


class SyslogParser(TextParser):
    DATASET = "syslog"

    def __init__(self, origin: Origin, ctx: ParseContext) -> None:
        super().__init__(origin, ctx)
        # One local time for the stream's stamps: which pass of a repeated hour a stamp is in
        # follows from those before it (shipper/parse/localtime.py).
        self._local = local = LocalTime(ctx.timezone, infer_fold=True)
        self._bsd = BsdStamps(local, ctx.year, origin.mtime)
        self._iso = IsoStamps(local)

    def state(self) -> tuple[Any, ...]:
        return (*super().state(), self._bsd.state(), self._local.state())

    # -- for the express lane (shipper/parallel/_express.c), which reads lines as the hot path does

    @property
    def minutes(self) -> dict[str, str]:
        """The hot path's cache of stamp minutes (`BsdStamps.minutes`)."""
        return self._bsd.minutes

    @property
    def path(self) -> str | None:
        return self._path

    def learn_minute(self, line: str) -> None:
        """Convert the stamp of a line the hot path reads, so that its minute is in `minutes`
        (unless the date is impossible, the zone's offset changes in its hour, or its stamps
        change the state of a repeated hour: `BsdStamps`). The hot path converts it the same way
        on a cache miss, and converting a stamp twice changes nothing (not the pass of a repeated
        hour either: `LocalTime`)."""
        self._bsd_key(line[:15])

    def waiting(self) -> bool:
        """Whether the input's undated first lines wait for a dated one (`TextParser`): then the
        next line must go through `parse`, which gives them its time, not be read elsewhere."""
        return bool(self._leading)

    def passed(self, last_ts: str) -> None:
        """Lines were read elsewhere up to one stamped ``last_ts`` (the stamp an undated line
        after them takes). Only between chunks or after `flush`: nothing may be held or waiting
        (`waiting`), and the input's first lines are behind."""
        assert self._held is None and not self._leading
        self._last_ts = last_ts
        self._leading = None

    def restore(self, state: tuple[Any, ...]) -> None:
        super().restore(state[:-2])
        self._bsd.restore(state[-2])
        self._local.restore(state[-1])

    def _parse_lines(self, chunk: RawChunk) -> list[Doc]:
        out, record = self._start()
        items: list[str] = chunk.items
        fast = chunk.offsets is not None  # sources give offsets for text; without them, no hot path
        offsets: list[int] | list[None] = chunk.offsets if chunk.offsets is not None else [None] * len(items)
        tagmap = chunk.tags
        minutes = self._bsd.minutes
        head, iso_line, iso_seconds = _HEAD.match, _ISO_HOT.match, self._iso.seconds
        # One log.file object for all documents of the chunk (nothing changes it after parsing).
        file = {"path": self._path} if self._path is not None else None
        last_ts = self._last_ts
        for i, line in enumerate(items):
            off = offsets[i]
            doc: Doc | None = None
            # The hot paths: "Mmm dd HH:MM:SS host tag[pid]: msg" and the same after an ISO stamp
            # with a zone; anything unusual (or invalid) takes _slow.
            fields: tuple[Any, ...] | None = None  # host, tag, pid, message
            if fast and line[15:16] == " " and line[9:10] == ":":
                prefix = minutes.get(line[:12])
                sec = line[13:15]
                if prefix is not None and sec in _SECONDS:
                    ts: str | None = f"{prefix}{sec}.000000Z"
                else:
                    ts = self._bsd_key(line[:15])
                    if self._local.skipped:  # a time that does not exist: _slow tags the document
                        ts = None
                m = head(line, 16) if ts is not None else None
                if m is not None:
                    fields = m.groups()
            elif fast and line[10:11] == "T":
                m = iso_line(line)
                if m is not None:
                    base = iso_seconds(m.group(1), m.group(3))
                    ts = None if base is None else f"{base}.{fraction(m.group(2))}Z"
                    fields = m.group(4, 5, 6, 7)
            if fields is not None and ts is not None:
                host, tag, pid, msg = fields
                if host[-1] != ":" and not ("." in tag and tag.endswith(UNIT_SUFFIXES)):  # (a unit: _slow)
                    doc = {
                        "@timestamp": ts,
                        "message": msg,
                        "event": {"dataset": "syslog", "kind": "event"},
                        "host": {"name": host},
                        "process": {"name": tag, "pid": int(pid)} if pid is not None else {"name": tag},
                        "log": {"file": file, "offset": off} if file is not None else {"offset": off},
                    }
                    last_ts = ts
                    record = doc
            if doc is None:
                self._last_ts = last_ts
                doc = self._slow(line, off)
                if doc is _FOLD:
                    if record is not None:
                        record["message"] += "\n" + line
                        if tagmap and i in tagmap:
                            add_item_tags(record, tagmap[i])
                        continue
                    doc = self._unparsed(line, off)
                last_ts = self._last_ts
                record = doc if is_record(doc) else None
            out.append(doc)
            if tagmap and i in tagmap:
                add_item_tags(doc, tagmap[i])
        self._last_ts = last_ts
        return self._end(out, record)

    # -- slow paths (rare shapes); each returns a Doc, or _FOLD for a continuation line ----------

    def _bsd_key(self, key: str) -> str | None:
        """Convert an ``Mmm dd HH:MM:SS`` stamp text (the hot path's cache miss); `LocalTime.skipped`
        then says whether it names a time that does not exist."""
        self._local.skipped = False
        month = ENGLISH_MONTHS.get(key[:3]) or month_number(key[:3])
        day, h, mi, s = key[4:6].strip(), key[7:9], key[10:12], key[13:15]
        if month is None or key[6] != " " or key[12] != ":" or not _digits(day + h + mi + s):
            return None
        return self._bsd.convert(key[:12], month, int(day), int(h), int(mi), int(s), hour=key[:10])

    def _slow(self, line: str, off: int | None) -> Doc:
        self._local.skipped = False  # (set by the conversion of this line's stamp, read by `_doc`)
        c = line[:1]
        if c == "\t" or c == "░":
            return _FOLD
        if c == " ":
            b = _BSD_HEAD.match(line)
            if b is None or month_number(b.group(1)) is None:
                return _FOLD
        if c == "-" and (line.startswith("-- ") or line == "--"):
            if line.endswith(" --") or line.startswith(_META_PREFIXES):
                return self._single(line, off, TAG_META)
            return _FOLD  # old journalctl -x catalog text ("-- Subject: ...")
        if c == "<":
            doc = self._with_pri(line, off)
        elif c == "[" and "] " in line[:22]:  # "[Jun 21 16:55:03] host ...": a stamp in brackets
            end = line.index("] ")
            doc = self._header(line[1:end] + line[end + 1 :], off)
        else:
            doc = self._header(line, off)
        if doc is None:
            return self._unparsed(line, off)
        if TAG_TIMESTAMP_INFERRED not in doc.get("tags", ()):
            self._last_ts = doc["@timestamp"]
        return doc

    def _with_pri(self, line: str, off: int | None) -> Doc | None:
        m = _PRI.match(line)
        if m is None:
            return None
        rest = line[m.end() :]
        doc = self._rfc5424(rest, off) if rest.startswith("1 ") else self._header(rest, off)
        if doc is not None:
            add_pri(doc, int(m.group(1)))
        return doc

    def _header(self, text: str, off: int | None) -> Doc | None:
        """A record for a line without PRI, or None if no header family matches."""
        if "0" <= text[:1] <= "9":
            m = _ISO_HEAD.match(text)
            if m is not None:
                return self._record(self._iso.from_match(m), text, m.end(), off)
            u = _UNIX_HEAD.match(text)
            if u is not None:
                return self._record(from_epoch_micros(u.group(1) + u.group(2)), text, u.end(), off)
        b = _BSD_HEAD.match(text)
        if b is not None:
            month = month_number(b.group(1))
            if month is not None:
                return self._record(self._bsd_match(b, month), text, b.end(), off)
        f = _FULL_HEAD.match(text)
        if f is not None:
            return self._full(f, text, off)
        t = _THUNDERBIRD.match(text)
        if t is not None:
            doc = self._record(from_epoch_micros(t.group(1) + "000000"), text, t.end(), off)
            if doc is not None:
                doc["host"] = {"name": t.group(2)}
            return doc
        s = _STAMPLESS.match(text)
        if s is not None:
            return self._stampless(s, off)
        return None

    def _full(self, f: re.Match[str], text: str, off: int | None) -> Doc | None:
        """journalctl ``short-full``: the zone is an offset, UTC, or an abbreviation that counts
        only if it is the context's zone's (`zone_word_offset`); else the event is tagged."""
        date, time, frac, zone = f.groups()
        ignored = False
        if zone[0] not in "+-" and zone not in ("UTC", "GMT"):
            y, mo, d, h, mi = int(date[:4]), int(date[5:7]), int(date[8:]), int(time[:2]), int(time[3:5])
            offset = zone_word_offset(self._local.zone, zone, y, mo, d, h, mi)
            ignored = offset is None
            zone = "" if offset is None else _iso_offset(offset)
        doc = self._record(self._iso.convert(f"{date}T{time}{frac or ''}{zone}"), text, f.end(), off)
        if doc is not None and ignored:
            add_tag(doc, TAG_TIMESTAMP_ZONE_IGNORED)
        return doc

    def _bsd_match(self, m: re.Match[str], month: int) -> str | None:
        day, h, mi, s, frac = int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)), m.group(6)
        return self._bsd.convert(f"{month}/{day} {h}:{mi}", month, day, h, mi, s, frac or "")

    def _record(self, ts: str | None, text: str, pos: int, off: int | None) -> Doc | None:
        """The document for ``[<fac.sev>] host tag[pid]: msg`` at ``text[pos:]``."""
        m = _TAIL.match(text, pos)
        if m is None:
            return None
        vpri, host, tag, pid, tag2, msg = m.groups()
        if host[-1] == ":":
            # No host: what looked like one is the tag ("Jun 21 16:47:48 test-demo[13709]: ...").
            t = _TAG_ONLY.match(text, m.start(2))
            if t is not None:
                host = None
                tag, pid, tag2, msg = t.groups()
        elif tag is None and tag2 is None and msg[:1] == " ":
            # No host, a padded tag: "fail2ban.actions        [123]: NOTICE ..."
            p = _PADDED_PID.match(msg)
            if p is not None:
                host, tag, pid, msg = None, host, p.group(1), msg[p.end() :]
        doc = self._doc(ts, msg, host, tag or tag2, pid, off)
        if vpri is not None:
            add_verbose_pri(doc, vpri)
        return doc

    def _stampless(self, m: re.Match[str], off: int | None) -> Doc:
        host, tag, pid, msg = m.groups()
        return self._doc(None, msg, host, tag, pid, off)

    def _rfc5424(self, rest: str, off: int | None) -> Doc | None:
        """``1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`` (after ``<PRI>``)."""
        m = _RFC5424.match(rest)
        if m is None:
            return None
        stamp, hostname, appname, procid, msgid = m.groups()
        pos = m.end()
        sd: dict[str, dict[str, str]] | None = None
        if rest[pos : pos + 1] == "-":
            pos += 1
        elif rest[pos : pos + 1] == "[":
            parsed = parse_structured_data(rest, pos)
            if parsed is not None:
                sd, pos = parsed
        if rest[pos : pos + 1] == " ":
            pos += 1
        msg = rest[pos:]
        if msg[:1] == "\ufeff":
            msg = msg[1:]
        ts = None if stamp == "-" else self._iso.convert(stamp)
        pid = procid if _digits(procid) and len(procid) <= 10 else None
        doc = self._doc(ts, msg, _nil(hostname), _nil(appname), pid, off)
        syslog: dict[str, Any] = {"version": "1"}
        for name, value in (("hostname", hostname), ("appname", appname), ("procid", procid), ("msgid", msgid)):
            if value != "-":
                syslog[name] = value
        if sd:
            syslog["structured_data"] = sd
        doc.setdefault("log", {})["syslog"] = syslog
        return doc

    def _doc(self, ts: str | None, msg: str, host: str | None, tag: str | None, pid: str | None, off: int | None) -> Doc:
        doc: Doc = {"@timestamp": ts or self._last_ts, "message": msg, "event": {"dataset": "syslog", "kind": "event"}}
        if host:
            doc["host"] = {"name": host}
        unit = unit_ident(tag) if tag else None
        if unit is not None:
            add_unit(doc, *unit, pid)
        elif tag:
            doc["process"] = {"name": tag, "pid": int(pid)} if pid else {"name": tag}
        log = self._log(off)
        if log:
            doc["log"] = log
        if ts is None:
            doc["tags"] = [TAG_TIMESTAMP_INFERRED]
        elif self._local.skipped:
            doc["tags"] = [TAG_TIMESTAMP_NONEXISTENT]
        return doc


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _iso_offset(offset: timedelta) -> str:
    """``+HH:MM`` for a whole-minute offset (abbreviated zones have no seconds since 1972)."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _nil(value: str) -> str | None:
    return None if value == "-" else value
