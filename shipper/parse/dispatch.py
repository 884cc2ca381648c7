"""The parser for a stream: `make_parser(origin, ctx)` by ``origin.format``.

    syslog         -> SyslogParser          (event.dataset: syslog)
    elasticsearch  -> ElasticsearchParser   (event.dataset: elasticsearch.server)
    journal        -> JournalParser         (event.dataset: journald; items are field dicts)

Every parser keeps state for one stream (the year of RFC 3164 stamps, the pass of a repeated
hour, the last timestamp for lines without one, a multi-line record still open), so make one per input stream and call
``flush()`` at its end.
"""

from __future__ import annotations

from zoneinfo import ZoneInfoNotFoundError

from shipper.errors import UsageError
from shipper.parse.base import ParseContext, Parser
from shipper.parse.eslog import ElasticsearchParser
from shipper.parse.journal_fields import JournalParser
from shipper.parse.syslog import SyslogParser
from shipper.sources.base import Origin
from shipper.timeargs import ZONE_HINT

_PARSERS: dict[str, type[SyslogParser] | type[ElasticsearchParser] | type[JournalParser]] = {
    "syslog": SyslogParser,
    "elasticsearch": ElasticsearchParser,
    "journal": JournalParser,
}


def make_parser(origin: Origin, ctx: ParseContext) -> Parser:
    """A new parser for the stream ``origin`` (raises `UsageError` for an unknown zone or format)."""
    cls = _PARSERS.get(origin.format)
    if cls is None:
        raise UsageError(
            f"no parser for format {origin.format!r} of {origin.path or origin.source_id}",
            hint="use one of: " + ", ".join(_PARSERS),
        )
    try:
        return cls(origin, ctx)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {ctx.timezone!r}", hint=ZONE_HINT) from None
