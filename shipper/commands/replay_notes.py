"""What `shipper replay` tells the operator besides its counts: where a guessed year came from,
which stamps named a zone that is not the replay's, what an interrupt left in the output, and,
after a replay into Elasticsearch, how to link its events with those other runs sent there."""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from shipper.config.model import DEFAULT_INCIDENT_WINDOW
from shipper.enrich.incidents import Incidents
from shipper.event import TAG_TIMESTAMP_ZONE_IGNORED
from shipper.sinks.replace_file import written_in_place
from shipper.timeargs import zone

if TYPE_CHECKING:
    from shipper.sinks.base import Sink
    from shipper.sources.open import YearGuess


def year_note(guess: YearGuess, tz: str) -> str:
    """Where the year of ``guess``'s RFC 3164 stamps came from, and what to do if that is wrong."""
    days = sorted({_day(t, tz) for t in guess.mtimes})
    year = int(days[-1][:4])
    if guess.arrival:
        whence = f"year {year} taken from {guess.name}'s arrival (now, {days[-1]}"
    else:
        whose = "the file's" if len(guess.mtimes) == 1 else "each file's"
        if len(days) == 1:
            whence = f"year {year} taken from {whose} modification time ({days[0]}"
        else:
            whence = f"years taken from {whose} modification time ({days[0]} to {days[-1]}"
    return (f"replay: {guess.name}: RFC 3164 stamps carry no year: {whence}; a later day of the year is of the "
            f"year before); give --year (the year of the first line) if the log is older"
            f"{'' if guess.arrival else ', as a copied file is'}")


def zone_note(count: int, tz: str, whence: str) -> str:
    """``count`` events' stamps ended in a zone abbreviation that is not one of ``tz``'s (given by
    ``whence``): they were read in ``tz`` (`shipper.parse.syslog_journalctl`)."""
    what = "1 event's stamp ends" if count == 1 else f"{count:,} events' stamps end"
    return (f"replay: {what} in a time zone abbreviation that is not one of {tz}'s (journalctl -o short-full "
            f"writes the zone of the machine that wrote the logs, such as EDT for America/New_York); "
            f"{'it was' if count == 1 else 'they were'} read in {tz} ({whence}) and tagged "
            f"{TAG_TIMESTAMP_ZONE_IGNORED}: give --timezone (or parse.timezone) the zone the logs were written in")


def _day(epoch: float, tz: str) -> str:
    return datetime.fromtimestamp(epoch, zone(tz)).strftime("%Y-%m-%d")


def interrupted_note(sinks: Sequence[Sink]) -> str:
    """What an interrupted replay left in its output (the pipeline has closed the sinks)."""
    from shipper.sinks.local import LocalSink
    from shipper.sinks.ndjson import NdjsonSink

    sink = sinks[0] if len(sinks) == 1 else None
    again = "running the same replay again adds the rest (event ids are deterministic: none is added twice)"
    if isinstance(sink, NdjsonSink):
        paths = sink.files()
        written = sink.counters["written"]
        if not paths:
            return f"replay: interrupted: {written:,} lines were written to standard output"
        if _in_place(paths[0]):
            return f"replay: interrupted: {written:,} lines were written to {paths[0]}"
        return f"replay: interrupted: {_left_as_it_was(paths[0])}; nothing written"
    if isinstance(sink, LocalSink):
        return (f"replay: interrupted: {sink.counters['stored']:,} new events were stored in {sink.path} before the "
                f"interrupt; {again}")
    if sink is not None and sink.name == "elasticsearch":
        return (f"replay: interrupted: {sink.counters['indexed']:,} new documents were indexed in Elasticsearch "
                f"before the interrupt (the last requests may be in too); {again}")
    return "replay: interrupted"


def _in_place(path: Path) -> bool:
    try:
        return written_in_place(path)
    except OSError:
        return False


def _left_as_it_was(path: Path) -> str:
    return f"{path} was left as it was" if path.exists() else f"{path} was not created"


def relink_note(span: Incidents, options: list[str]) -> str | None:
    """After a replay that indexed recognised events in Elasticsearch (``span``: the replay's linking,
    which noted the first and last of them): the `shipper relink` that
    links them with those other runs sent (a failure there whose cause is here, or the reverse),
    with the replay's incident window when it is not the default. ``options``: the replay's
    --config and --es-url; its config is not named (its key, create_doc, cannot change a
    document: relink needs an operator's credentials)."""
    if span.first is None or span.last is None:
        return None
    until = datetime.fromisoformat(span.last[:19]) + timedelta(seconds=1)  # (--until is not included)
    url = options[options.index("--es-url"):][:2] if "--es-url" in options else []
    argv = ["--config", "OPERATOR.yml", *url, "--since", span.first[:19] + "Z", "--until", until.isoformat() + "Z"]
    if span.window != float(DEFAULT_INCIDENT_WINDOW):  # (relink's default too)
        argv += ["--incident-window", duration_text(span.window)]
    return ("replay: to link these events with causes or failures other runs sent to Elasticsearch, run with an "
            "operator's credentials (the index privileges read and index on logs-shipper.*-*; the shipper's own "
            f"key, create_doc, cannot change a document): shipper relink {shlex.join(argv)}")


def duration_text(seconds: float) -> str:
    """``seconds`` as a duration the configuration and --incident-window read: 30m, 2h, 90s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
