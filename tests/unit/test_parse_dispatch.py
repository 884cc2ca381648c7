"""`make_parser`: one parser per stream and format; errors a user can act on."""

from __future__ import annotations

import pytest

from shipper.errors import UsageError
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.parse.eslog import ElasticsearchParser
from shipper.parse.journal_fields import JournalParser
from shipper.parse.syslog import SyslogParser
from shipper.sources.base import Origin


@pytest.mark.parametrize(
    ("fmt", "cls"), [("syslog", SyslogParser), ("elasticsearch", ElasticsearchParser), ("journal", JournalParser)]
)
def test_a_parser_per_format(fmt: str, cls: type) -> None:
    origin = Origin("x", fmt)  # type: ignore[arg-type]
    first, second = make_parser(origin, ParseContext("UTC")), make_parser(origin, ParseContext("UTC"))
    assert isinstance(first, cls) and first is not second


def test_unknown_format_and_zone_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="no parser for format 'auto' of /var/log/x"):
        make_parser(Origin("x", "auto", "/var/log/x"), ParseContext("UTC"))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unknown time zone 'Mars/Olympus'") as err:
        make_parser(Origin("x", "syslog"), ParseContext("Mars/Olympus"))
    assert err.value.hint and "IANA" in err.value.hint
