"""Recognising an input's format from the first bytes of its (decompressed) content. Pure.

Formats: ``journal-file`` (a binary systemd journal), ``journal-export`` (``journalctl -o
export``), ``journal-json`` (``journalctl -o json``), ``journal-verbose`` (``journalctl -o
verbose``), ``elasticsearch`` (log4j lines
``[2019-01-01T12:00:00,123][``, JSON server/ECS lines, console output of a failed start), and
``syslog`` for everything else (the syslog parser turns what it cannot read into ``unparsed``).
`is_tar` tells an archive, and `not_a_log` the files that are no log at all (a shipper store, a
file named like a binary journal that is none, a journal file with no header yet), which
`shipper.sources.open` does not read.
"""

from __future__ import annotations

import re
from typing import Literal

import orjson

from shipper.sources.export import BROKEN, DONE, MORE, read_entry
from shipper.sources.verbose import FIELD, HEADER, is_catalog, is_meta

Sniffed = Literal["journal-file", "journal-export", "journal-json", "journal-verbose", "elasticsearch", "syslog"]
# The dumps of journalctl (text a file named like a binary journal may hold).
DUMPS = ("journal-export", "journal-json", "journal-verbose")
# What a file that is no log is (`not_a_log`).
NotALog = Literal["sqlite", "not-journal", "unwritten-journal"]

SNIFF_BYTES = 64 * 1024
JOURNAL_FILE_MAGIC = b"LPKSHHRH"
_SAMPLE_LINES = 200

_EXPORT_KEYS = frozenset({"__CURSOR", "__REALTIME_TIMESTAMP", "MESSAGE"})  # every entry has one
_EXPORT_SHARE = 2  # export: at least 2 in 3 sampled entries are well-formed (not 1 quoted in text)
_JSON_JOURNAL_KEY = re.compile(rb'"(?:__REALTIME_TIMESTAMP|__CURSOR)"\s*:|^\{\s*"_{0,2}[A-Z][A-Z0-9_]*"\s*:')

# A syslog-style header: "Mmm dd HH:MM:SS " (any month word, localised too) or an ISO stamp,
# optionally after a PRI, or "ident[pid]: " at the start of a line (journal short output).
_SYSLOG = re.compile(
    r"\s*(?:<\d{1,3}>\d?\s*)?"
    r"(?:\S{1,12}\s+\d{1,2}\s+\d\d:\d\d:\d\d\s"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
    r"|[\w./@-]+\[\d+\]: )"
)
# log4j "[2019-01-01T12:00:00,123][" (also "[2016-09-15 08:52:04,867][" of 2.x).
_ES_LOG4J = re.compile(r"\[\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d,\d{3}\]\[")
_ES_JSON_SERVER = re.compile(r'"type"\s*:\s*"server"')
# Console output of a node that failed to start (possibly behind a docker-compose prefix).
_ES_CONSOLE = re.compile(
    r"bootstrap checks? fail|node validation exception|^\[\d+\]: |"
    r"ERROR: (?:Elasticsearch|OpenSearch) did not exit normally|enforcing bootstrap checks|"
    r"\[o\.e\.[\w.]+\]|"  # an abbreviated Elasticsearch logger: [o.e.b.Bootstrap]
    r"^\s+at [\w$.<>]+\(|^(?:Caused by: )?[a-z]\w*(?:\.[\w$]+)+(?:Exception|Error)\b"  # Java stack traces
)
_ES_SHARE = 5  # Elasticsearch lines must be at least 1 in 5 sampled lines (not a doc quoting one)
_VERBOSE_SHARE = 2  # verbose: at least 2 in 3 sampled lines are verbose output (not 1 entry quoted in text)


# A journal file's header: at least the fields up to ``header_size`` (systemd's journal-def.h),
# then as many bytes as that field gives.
_JOURNAL_HEADER_SIZE_AT = 88
_JOURNAL_HEADER_MIN = _JOURNAL_HEADER_SIZE_AT + 8
_JOURNAL_HEADER_MAX = 4096  # systemd's headers have 208 to 272 bytes; a larger size is a damaged header's
# The names journald and systemd-journal-remote give journal files (``system.journal``,
# ``user-1000@….journal~``), also compressed (the content is what is decompressed).
_JOURNAL_NAME = re.compile(r"\.journal~?(?:\.(?:zst|xz|gz|bz2|lz4))?$")
_SQLITE_MAGIC = b"SQLite format 3\0"  # the first 16 bytes of every SQLite 3 database (a shipper store)
_TAR_MAGIC = b"ustar"  # POSIX ("ustar\\0" "00") and GNU ("ustar  \\0") headers
_TAR_MAGIC_AT = 257
# An RFC 3164 stamp ("Aug 30 14:00:01 "), which carries no year, at the start of a line (after a PRI).
_BSD_STAMP = re.compile(rb"^[ \t]*(?:<\d{1,3}>\d?[ \t]*)?[A-Z][a-z]{2}[ \t]+\d{1,2}[ \t]+\d\d:\d\d:\d\d[ \t]", re.MULTILINE)


def is_tar(head: bytes) -> bool:
    """Whether ``head`` (decompressed) is the start of a tar archive (its first member's header)."""
    return head[_TAR_MAGIC_AT : _TAR_MAGIC_AT + len(_TAR_MAGIC)] == _TAR_MAGIC


def is_sqlite(head: bytes) -> bool:
    """Whether ``head`` (decompressed) is the start of an SQLite database, such as a shipper store."""
    return head.startswith(_SQLITE_MAGIC)


def not_a_log(name: str, head: bytes, sniffed: Sniffed) -> NotALog | None:
    """What the file called ``name``, whose (decompressed) content starts with ``head`` (all of it
    if shorter than `SNIFF_BYTES`) and reads as ``sniffed``, is if it is no log: an SQLite
    database (a shipper store); a journal file that is empty or shorter than its header (a writer
    has just created it, nothing is in it yet); a file named like a binary journal (``*.journal``)
    whose text is no journal export or JSON dump (read as text, its bytes would be unparsed lines).
    None for a log."""
    if is_sqlite(head):
        return "sqlite"
    named = _JOURNAL_NAME.search(name) is not None
    if head.startswith(JOURNAL_FILE_MAGIC) or (named and JOURNAL_FILE_MAGIC.startswith(head)):
        return "unwritten-journal" if len(head) < _journal_header_size(head) else None
    if named and sniffed not in DUMPS:
        return "not-journal"
    return None


def _journal_header_size(head: bytes) -> int:
    """The bytes of the journal header that starts ``head``: its ``header_size``, once it is there;
    0 if that is no header's size (a damaged file, which the journal reader reports)."""
    if len(head) < _JOURNAL_HEADER_MIN:
        return _JOURNAL_HEADER_MIN
    size = int.from_bytes(head[_JOURNAL_HEADER_SIZE_AT:_JOURNAL_HEADER_MIN], "little")
    return size if _JOURNAL_HEADER_MIN <= size <= _JOURNAL_HEADER_MAX else 0


def has_year_less_stamps(head: bytes) -> bool:
    """Whether a line of ``head`` starts with an RFC 3164 stamp (whose year is guessed)."""
    return _BSD_STAMP.search(head) is not None


def sniff(head: bytes) -> Sniffed:
    """The format of an input whose decompressed content starts with ``head`` (up to
    `SNIFF_BYTES`; the last line may be cut)."""
    if head.startswith(JOURNAL_FILE_MAGIC):
        return "journal-file"
    if _is_export(head):
        return "journal-export"
    first = head.lstrip()
    if first.startswith(b"{"):
        line = first.split(b"\n", 1)[0]
        if _is_journal_json(line):
            return "journal-json"
    if _is_verbose(head):
        return "journal-verbose"
    return _text_format(head)


def _is_export(head: bytes) -> bool:
    """Most entries of the sample are well-formed export text with a key every entry has: a
    damaged entry does not turn a dump into text, nor do entries quoted between paragraphs of
    text turn it into a dump."""
    good, bad = _export_entries(head)
    return good > 0 and good >= _EXPORT_SHARE * bad


def _export_entries(head: bytes) -> tuple[int, int]:
    """How many entries of ``head`` are well-formed export text (``NAME=value`` lines and binary
    fields ``NAME\\n<u64 length><bytes>\\n``) with a key every entry has, and how many are not.
    The last entry may be cut by the end of the sample; a broken one runs to the next blank line."""
    good = bad = pos = 0
    while pos < len(head):
        status, fields, end = read_entry(head, pos, eof=False)
        if status == BROKEN or (fields and _EXPORT_KEYS.isdisjoint(fields)):
            bad += 1
        elif fields:
            good += 1
        if status == MORE:
            break
        if status == DONE:
            pos = end
            continue
        blank = head.find(b"\n\n", end)
        if blank < 0:
            break
        pos = blank + 2
    return good, bad


def _is_journal_json(line: bytes) -> bool:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        # The line may be cut by the end of the sample: look for a key every entry has, or a
        # journal field name (upper case) as the first key.
        return bool(_JSON_JOURNAL_KEY.search(line))
    return isinstance(obj, dict) and any(k in obj for k in ("__REALTIME_TIMESTAMP", "__CURSOR", "MESSAGE"))


def _is_verbose(head: bytes) -> bool:
    """The sample has an entry header of ``journalctl -o verbose`` (``<time> [<cursor>]``), and
    most of its lines are verbose output: headers, indented field lines and their continuations,
    journalctl's ``-- Boot … --`` lines, the catalog text of ``-x``. The last line may be cut by
    the end of the sample."""
    headers = verbose = other = 0
    for line in head.split(b"\n")[:_SAMPLE_LINES]:
        if HEADER.match(line):
            headers += 1
        elif FIELD.match(line) or line.startswith(b"      ") or is_meta(line) or is_catalog(line):
            verbose += 1
        elif line.strip():
            other += 1
    return headers > 0 and headers + verbose >= _VERBOSE_SHARE * other


def _text_format(head: bytes) -> Sniffed:
    """``elasticsearch`` when more sampled lines look like Elasticsearch output than like
    syslog lines, and they are not a few quotes in other text; else ``syslog``."""
    text = head.decode("utf-8", "replace")
    es = sl = other = 0
    for line in text.splitlines()[:_SAMPLE_LINES]:
        if not line.strip():
            continue
        if _SYSLOG.match(line):
            sl += 1
        elif _ES_LOG4J.match(line) or _is_es_json(line) or _ES_CONSOLE.search(line):
            es += 1
        else:
            other += 1
    return "elasticsearch" if es > sl and es * _ES_SHARE >= es + sl + other else "syslog"


def _is_es_json(line: str) -> bool:
    """A JSON line of Elasticsearch 7 (``"type": "server"``) or 8+ (ECS: ``@timestamp`` and
    ``log.level``)."""
    if not line.startswith("{"):
        return False
    return bool(_ES_JSON_SERVER.search(line)) or ('"log.level"' in line and '"@timestamp"' in line)
