"""Elasticsearch server logs -> documents (``event.dataset: elasticsearch.server``).

Shapes, per line (after stripping a ``docker compose`` prefix ``es01  | `` or a supervisor prefix
``[elastic_3c3cdec4-8]: ``, whose name goes to ``container.name``):

* plain log4j, 2.x-7.x: ``[2019-01-01T12:00:00,123][ERROR][o.e.b.Bootstrap          ] [node-1] msg``;
  the lines that follow without a header (the rest of a multi-line message, a stack trace) are
  folded into it, ``message`` keeping the ``\\n``s.
* JSON 7.x (``"type": "server", "timestamp", "level", "component", "cluster.name", "node.name",
  "stacktrace"``) and ECS JSON 8.x (``"@timestamp", "log.level", "log.logger",
  "elasticsearch.*", "error.*"``). Kept: the fields of docs/fields.md, every ``elasticsearch.*`` and
  ``error.*`` key (nested), ``process.thread.name``; 7.x ``stacktrace`` -> ``error.stack_trace``.
  A line with bytes that are not UTF-8 is read with U+FFFD for them, but its message keeps them
  for the id, as a plain line's does (`shipper.ids`).
  Other ECS keys of the layout (``ecs.version``, ``service.name``, ``event.dataset``,
  ``data_stream.*``) are shipper's own business and are not copied.
* stderr of the CLI (console captures): ``ERROR: ...`` starts a record (``log.level: ERROR``);
  the numbered bootstrap-check lines (``[1]: ...``, ``bootstrap check failure [1] of [2]: ...``,
  ``[2] bootstrap checks failed``) fold into the open ``ERROR:`` record or into a log record
  about the node validation exception, else start a record of their own (8.x prints them
  without a header). Stderr records have no time: the previous record's, tagged
  ``timestamp_inferred``.
* SonarQube's embedded ES: ``2025.05.11 14:24:20 INFO  es[][o.e.n.Node] msg`` (``process.name``
  is SonarQube's process key, ``es`` or ``app``).

Stamps without a zone (log4j's, SonarQube's, 7.x JSON's ``timestamp`` without an offset) are local
times in ``--timezone``: a time of the hour repeated when clocks go back is in the pass the order
of the stamps tells, a time of the hour skipped when they go forward is tagged
``timestamp_nonexistent`` (shipper/parse/localtime.py), as in syslog.

Anything else that cannot be folded is an ``unparsed`` document with the whole raw line; so is a
JSON line whose document would nest deeper than orjson writes (`MAX_DEPTH`: a value nested that
deep, or a kept key of that many dots), which the outputs could not write.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from shipper.event import TAG_TIMESTAMP_INFERRED, Doc, set_path
from shipper.ids import raw_bytes
from shipper.parse.base import ParseContext
from shipper.parse.common import TAG_TIMESTAMP_NONEXISTENT, TextParser, add_item_tags
from shipper.parse.timestamps import ISO_STAMP, IsoStamps, LocalTime
from shipper.sources.base import Origin, RawChunk

_LOG4J = re.compile(r"\[" + ISO_STAMP.pattern + r"\]\[ *([A-Za-z]+) *\]\[([^\]]*?) *\] ?(.*)", re.S | re.A)
_NODE = re.compile(r"\[([^\]\s]*)\] ?")
_SONAR = re.compile(r"(\d{4})\.(\d\d)\.(\d\d) (\d\d:\d\d:\d\d) ([A-Z]+) +(\w+)\[[^\]]*\]\[([^\]]*)\] ?(.*)", re.S | re.A)
_BOOTSTRAP_LINE = re.compile(
    r"\[\d+\]: |bootstrap check failure \[\d+\] of \[\d+\]|(?:\[\d+\] )?bootstrap checks failed", re.A
)
_COMPOSE = re.compile(r"([A-Za-z0-9][\w.\-]*) +\| ?")
_SUPERVISOR = re.compile(r"\[([A-Za-z_][\w.\-]*)\]: ")

# Record kinds (what may fold into the open record).
_LOG, _JSON, _STDERR = "log", "json", "stderr"
_JSON_RENAMES = {
    "timestamp": "", "@timestamp": "", "message": "", "type": "", "stacktrace": "",
    "level": "log.level", "log.level": "log.level", "component": "log.logger", "log.logger": "log.logger",
    "cluster.name": "elasticsearch.cluster.name", "node.name": "elasticsearch.node.name",
    "cluster.uuid": "elasticsearch.cluster.uuid", "node.id": "elasticsearch.node.id",
    "process.thread.name": "process.thread.name",
}
_JSON_KEPT_PREFIXES = ("elasticsearch.", "error.")
_DEEP = "deep"  # (`_header`'s kind of a JSON line too deep to write: unparsed, never folded)

# The deepest nesting orjson writes (it reads 1,024 levels, but writes 254 and raises TypeError
# beyond): the document itself is one level, each dot of a kept key one more.
MAX_DEPTH = 254


class ElasticsearchParser(TextParser):
    DATASET = "elasticsearch.server"

    def __init__(self, origin: Origin, ctx: ParseContext) -> None:
        super().__init__(origin, ctx)
        # One local time for the stream's stamps: which pass of a repeated hour a stamp is in
        # follows from those before it (shipper/parse/localtime.py).
        self._local = LocalTime(ctx.timezone, infer_fold=True)
        self._iso = IsoStamps(self._local)
        self._held_kind = ""  # kind of the held record
        self._held_container: str | None = None

    def state(self) -> tuple[Any, ...]:
        return (*super().state(), self._held_kind, self._held_container, self._local.state())

    def restore(self, state: tuple[Any, ...]) -> None:
        super().restore(state[:-3])
        self._held_kind, self._held_container, fold = state[-3:]
        self._local.restore(fold)

    def _parse_lines(self, chunk: RawChunk) -> list[Doc]:
        out, held = self._start()
        # The open record of each stream (container prefix, or None): interleaved containers of a
        # docker compose capture keep their own records within a chunk; only the last record of
        # the chunk stays open into the next one.
        open_records: dict[str | None, tuple[Doc, str]] = {}
        if held is not None:
            open_records[self._held_container] = (held, self._held_kind)
        last: tuple[Doc, str, str | None] | None = None
        offsets = chunk.offsets
        tagmap = chunk.tags
        for i, line in enumerate(chunk.items):
            off = offsets[i] if offsets is not None else None
            container, body = strip_prefix(line)
            doc, kind = self._header(body, off)
            if doc is None:
                current = open_records.get(container)
                if kind != _DEEP and current is not None and _folds(current[1], current[0], body):
                    current[0]["message"] += "\n" + body
                    if tagmap and i in tagmap:
                        add_item_tags(current[0], tagmap[i])
                    continue
                if _BOOTSTRAP_LINE.match(body):
                    doc, kind = self._stderr(body, off, level=None), _STDERR
                else:
                    doc, kind = self._unparsed(line, off), ""
            if kind:
                if container is not None:
                    doc["container"] = {"name": container}
                if TAG_TIMESTAMP_INFERRED not in doc.get("tags", ()):
                    self._last_ts = doc["@timestamp"]
                open_records[container] = (doc, kind)
                last = (doc, kind, container)
            else:
                open_records.pop(container, None)
                last = None
            out.append(doc)
            if tagmap and i in tagmap:
                add_item_tags(doc, tagmap[i])
        if last is None and held is not None and out and out[-1] is held:
            last = (held, self._held_kind, self._held_container)  # nothing new: it stays open
        record = last[0] if last is not None else None
        if last is not None:
            self._held_kind, self._held_container = last[1], last[2]
        return self._end(out, record)

    def _header(self, body: str, off: int | None) -> tuple[Doc | None, str]:
        """A new record for a header line, with its kind; (None, "") for a line without header."""
        self._local.skipped = False  # (set by the conversion of this line's stamp, read by `_doc`)
        c = body[:1]
        if c == "{":
            doc = self._json(body, off)
            if doc is _TOO_DEEP:
                return None, _DEEP
            if doc is not None:
                return doc, _JSON
        elif c == "[" and "0" <= body[1:2] <= "9":
            m = _LOG4J.match(body)
            if m is not None:
                return self._log4j(m, off), _LOG
        elif c == "E" and body.startswith("ERROR: "):
            return self._stderr(body, off, level="ERROR"), _STDERR
        elif "0" <= c <= "9":
            s = _SONAR.match(body)
            if s is not None:
                return self._sonar(s, off), _LOG
        return None, ""

    def _doc(self, ts: str | None, message: str, off: int | None) -> Doc:
        doc: Doc = {
            "@timestamp": ts or self._last_ts,
            "message": message,
            "event": {"dataset": self.DATASET, "kind": "event"},
        }
        log = self._log(off)
        if log:
            doc["log"] = log
        if ts is None:
            doc["tags"] = [TAG_TIMESTAMP_INFERRED]
        elif self._local.skipped:
            doc["tags"] = [TAG_TIMESTAMP_NONEXISTENT]
        return doc

    def _log4j(self, m: re.Match[str], off: int | None) -> Doc:
        level, logger, message = m.group(9, 10, 11)
        node = _NODE.match(message)
        if node is not None:
            message = message[node.end() :]
        doc = self._doc(self._iso.from_match(m), message, off)
        _set_log(doc, level.upper(), logger)
        if node is not None and node.group(1):
            doc["elasticsearch"] = {"node": {"name": node.group(1)}}
        return doc

    def _sonar(self, m: re.Match[str], off: int | None) -> Doc:
        y, mo, d, hms, level, process, logger, message = m.groups()
        doc = self._doc(self._iso.convert(f"{y}-{mo}-{d} {hms}"), message, off)
        _set_log(doc, level, logger)
        doc["process"] = {"name": process}
        return doc

    def _stderr(self, body: str, off: int | None, level: str | None) -> Doc:
        doc = self._doc(None, body, off)
        if level:
            _set_log(doc, level, None)
        return doc

    def _json(self, body: str, off: int | None) -> Doc | None:
        """The document of a JSON line; None if it is not a JSON object, `_TOO_DEEP` if it nests
        deeper than `MAX_DEPTH`. Only values that are not strings, and long keys, are measured: a
        line of strings costs no more."""
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            obj = _json_with_kept_bytes(body)
        if not isinstance(obj, dict):
            return None
        stamp = obj.get("@timestamp") or obj.get("timestamp")
        ts = self._iso.convert(stamp) if isinstance(stamp, str) else None
        message = obj.get("message")
        trace = obj.get("stacktrace")
        if (type(message) is not str and _too_deep(message, 0)) or (type(trace) is list and _too_deep(trace, 0)):
            return _TOO_DEEP
        doc = self._doc(ts, message if isinstance(message, str) else _text(message), off)
        for key, value in obj.items():
            if type(value) is str:
                if not value:
                    continue
            elif value is None:
                continue
            elif _too_deep(value, _level(key)):  # (a value that is no string: rare)
                return _TOO_DEEP
            target = _JSON_RENAMES.get(key)
            if target is None:
                if not key.startswith(_JSON_KEPT_PREFIXES):
                    continue
                if len(key) > MAX_DEPTH and _too_deep(value, _level(key)):
                    return _TOO_DEEP
                target = key
            if target:
                set_path(doc, target, value)
        if isinstance(trace, list) and trace:
            set_path(doc, "error.stack_trace", "\n".join(str(t) for t in trace))
        return doc


_TOO_DEEP: Doc = {}  # (`_json`'s answer for a line too deep to write; compared by identity)


def _level(key: str) -> int | None:
    """In how many objects the document holds the value of the JSON key ``key`` (None: not kept)."""
    target = _JSON_RENAMES.get(key)
    if target is None:
        target = key if key.startswith(_JSON_KEPT_PREFIXES) else ""
    return target.count(".") + 1 if target else None


def _too_deep(value: Any, above: int | None) -> bool:
    """Whether ``value``, written in ``above`` levels of objects (None: it is not written), nests
    deeper than `MAX_DEPTH` (without recursion: orjson reads deeper than Python's recursion limit)."""
    if above is None:
        return False
    if above > MAX_DEPTH:
        return True
    todo = [(value, above)]
    while todo:
        value, depth = todo.pop()
        if type(value) is dict:
            value = value.values()
        elif type(value) is not list:
            continue
        if depth >= MAX_DEPTH:
            return True
        todo += [(v, depth + 1) for v in value if type(v) is dict or type(v) is list]
    return False


def _json_with_kept_bytes(body: str) -> Any:
    """A JSON line with bytes that are not UTF-8 (kept as surrogateescape does for the id,
    `shipper.ids`), which orjson cannot read: read with U+FFFD for them, but for its message, which
    keeps them for the id (the json module reads such text); None when it is no JSON.

    `shipper.ids.settle` then replaces them in the message as in the rest of the line."""
    try:
        obj = orjson.loads(raw_bytes(body).decode("utf-8", "replace"))
    except orjson.JSONDecodeError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("message"), str):
        obj["message"] = json.loads(body)["message"]  # the JSON orjson read, but for the bytes it replaced
    return obj


def strip_prefix(line: str) -> tuple[str | None, str]:
    """(container or supervisor name, the line without its prefix)."""
    if "| " in line[:80] or line[-1:] == "|":
        m = _COMPOSE.match(line)
        if m is not None:
            return m.group(1), line[m.end() :]
    elif line[:1] == "[" and "]: " in line[:80]:
        m = _SUPERVISOR.match(line)
        if m is not None:
            return m.group(1), line[m.end() :]
    return None, line


def _folds(kind: str, record: Doc, body: str) -> bool:
    """Whether a line without header continues the open record of this kind."""
    if _BOOTSTRAP_LINE.match(body):
        # Only into a record about failed checks: not into "... enforcing bootstrap checks" or
        # "ERROR: Elasticsearch did not exit normally" (8.x prints its check lines after those),
        # nor into another check's line (a docker capture may print the checks before the summary:
        # each is a record of its own, its message its own line).
        message = record["message"]
        return kind != _JSON and ("validation exception" in message or "checks failed" in message)
    if kind == _JSON:
        return body[:1] in ("\t", " ")  # a stack trace printed after a JSON line
    return kind in (_LOG, _STDERR)


def _set_log(doc: Doc, level: str, logger: str | None) -> None:
    log = doc.setdefault("log", {})
    log["level"] = level
    if logger:
        log["logger"] = logger


def _text(value: Any) -> str:
    if value is None:
        return ""
    return orjson.dumps(value).decode()
