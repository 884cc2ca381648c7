"""Times given on the command line (--since/--until), turned into the stored @timestamp form."""

from __future__ import annotations

import argparse
import os
import re
from datetime import datetime, timezone, tzinfo
from typing import Callable, Mapping

from shipper.env import Env
from shipper.errors import UsageError
from shipper.parse.localtime import load_zone, reversed_offset

_RELATIVE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME_HINT = "use a date/time such as 2017-08-30T14:55:00Z or an age such as 30m, 2h, 7d"
ZONE_HINT = "use an IANA name such as UTC or Europe/Berlin, or an offset from UTC such as +02:00 or -05:30 (+: east of UTC)"
_TZ_HINT = ("set TZ to an IANA name such as Europe/Berlin, to ':' and a time zone file such as :/etc/localtime, "
            "or to a POSIX TZ string such as CET-1CEST,M3.5.0,M10.5.0/3; or unset it (the machine's /etc/localtime)")
LOCALTIME = "/etc/localtime"  # the machine's zone when TZ is not set


def format_ts(dt: datetime) -> str:
    """The fixed-width UTC form every document uses for ``@timestamp`` (four-digit years before
    1000 too: these strings are compared as times)."""
    return dt.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time_arg(text: str, *, now: float, tz: str | Callable[[], str], option: str) -> str:
    """``2017-08-30``, ``2017-08-30T14:55``, ``2017-08-30 14:55:00+02:00`` or ``2h`` (ago). ``tz``:
    the zone of a time given without one, or what finds it (asked only for such a time: an age or
    a time with its offset needs none, so a ``TZ`` that names no zone is then no error)."""
    try:
        moment = _moment(text.strip(), now, tz)
    except (ValueError, OverflowError, OSError):  # before year 1 or after 9999 (here or in UTC)
        raise UsageError(f"{option} {text!r} is not a time from year 1 to 9999 (in UTC)", hint=_TIME_HINT) from None
    if moment is None:
        raise UsageError(f"{option} {text!r} is not a time", hint=_TIME_HINT)
    return moment


def _moment(value: str, now: float, tz: str | Callable[[], str]) -> str | None:
    """``value`` in the stored form; None when it is neither a date/time nor an age. A time out of
    ``datetime``'s range raises ValueError, OverflowError or OSError."""
    rel = _RELATIVE.match(value)
    if rel:
        return format_ts(datetime.fromtimestamp(now - int(rel.group(1)) * _UNITS[rel.group(2)], timezone.utc))
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(tz if isinstance(tz, str) else tz()))
    return format_ts(dt)


def known_zone(name: str) -> tzinfo | None:
    """The zone ``name`` names (an IANA name, a tzfile, a POSIX TZ string or an offset: `load_zone`);
    None when there is none (``Europe``, a directory, is none either)."""
    try:
        return load_zone(name)
    except ValueError:
        return None


def zone(name: str) -> tzinfo:
    found = known_zone(name)
    if found is None:
        raise UsageError(f"unknown time zone {name!r}", hint=ZONE_HINT)
    return found


def zone_setting_error(name: str) -> str | None:
    """What is wrong with ``name`` given as a zone on the command line or in the configuration (not
    in TZ): unknown, or ``UTC+2``, which the C library reads as 2 hours *west* of UTC; None if nothing."""
    reversed_ = reversed_offset(name)
    if reversed_ is not None:
        return reversed_
    if known_zone(name) is None:
        return f"{name!r} is not a known time zone: {ZONE_HINT}"
    return None


def check_zone_option(name: str | None, option: str = "--timezone") -> None:
    """A `UsageError` when ``name``, given to ``option``, is no zone, or ``UTC+2`` (`reversed_offset`)."""
    if name is None:
        return
    reversed_ = reversed_offset(name)
    if reversed_ is not None:
        raise UsageError(f"{option} {reversed_}")
    zone(name)


def local_zone_name(environ: Mapping[str, str]) -> str:
    """The machine's zone as the C library finds it, in a form `load_zone` reads: ``TZ`` when set
    (empty, or ':' alone: UTC), else the file ``/etc/localtime`` (a link or a copy), else UTC. A
    ``TZ`` that names no zone is a `UsageError` that says so."""
    tz = environ.get("TZ")
    if tz is None:
        return LOCALTIME if os.path.isfile(LOCALTIME) else "UTC"
    if tz in ("", ":"):
        return "UTC"
    if known_zone(tz) is None:
        raise UsageError(f"the environment variable TZ={tz!r} is not a time zone", hint=_TZ_HINT)
    return tz


def add_window_arguments(p: argparse.ArgumentParser) -> None:
    """--since/--until/--timezone, as the commands that read the local store take them."""
    p.add_argument("--since", help="only events at or after this time (2017-08-30T14:00Z, or an age: 2h, 7d)")
    p.add_argument("--until", help="only events before this time")
    p.add_argument("--timezone",
                   help="zone of --since/--until without one: Europe/Berlin, +02:00, ... (default: the machine's)")


def window_from_args(args: argparse.Namespace, env: Env, tz: str | None = None) -> tuple[str | None, str | None]:
    """The (since, until) of ``args`` in the stored @timestamp form; None where not given. A window
    that holds no time (--since not before --until) is refused: it would select nothing, silently."""
    if not args.since and not args.until:
        return None, None  # (no zone needed: here a TZ that names none is no error)
    if not tz:
        check_zone_option(args.timezone)
    given = tz or args.timezone

    def zone_name() -> str:  # (TZ is read only for a time given without a zone)
        return given or local_zone_name(env.environ)

    now = env.clock()
    since = parse_time_arg(args.since, now=now, tz=zone_name, option="--since") if args.since else None
    until = parse_time_arg(args.until, now=now, tz=zone_name, option="--until") if args.until else None
    if since is not None and until is not None and since >= until:
        order = "after" if since > until else "the same time as"
        raise UsageError(f"--since {args.since!r} is {order} --until {args.until!r}: no event can be in between",
                         hint="--since is where the window starts, --until where it ends (not included): "
                              "give --since the earlier time")
    return since, until
