"""The `shipper` command: argument parsing and the one error boundary.

Every command lives in `shipper/commands/<name>.py` (``HELP``, ``EXAMPLES``, ``add_arguments``,
``run``). Failures become one clear line on stderr and an `ExitCode`; a traceback is shown only
with ``--debug``, and every secret shipper loaded is redacted from whatever is printed.

`shipper run` holds its signals back first thing (`_held`): until then only modules the
interpreter has loaded already, and `signal`, are imported; the rest (argparse, the environment,
the errors, the command's module) is imported where it is used, after.
"""

from __future__ import annotations

import gc
import importlib
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from shipper import __version__

TYPE_CHECKING = False  # (as `typing.TYPE_CHECKING`, which type checkers take alike, without importing typing: 2 ms)
if TYPE_CHECKING:
    import argparse
    from types import ModuleType

    from shipper.env import Env

COMMANDS = (
    "replay",
    "causes",
    "report",
    "signatures",
    "run",
    "status",
    "setup",
    "check",
    "relink",
    "deadletter",
    "validate",
    "print-config",
    "print-unit",
)

EPILOG = """\
examples:
  shipper replay /var/log/maillog* /var/log/messages     replay log files into the local store
  shipper causes                                         what went wrong, newest first, with hints
  shipper replay --output ndjson -o events.ndjson x.gz    write documents as NDJSON
  shipper replay --output es --config shipper.yml /var/log/journal/
  shipper COMMAND --help                                 options and examples of one command

exit codes: 0 ok, 1 unexpected error (rerun with --debug), 2 usage, 3 configuration,
            4 input unreadable, 5 output unwritable, 6 server unavailable or refused, 130 interrupted
"""


def _command(name: str) -> ModuleType:
    return importlib.import_module(f"shipper.commands.{name.replace('-', '_')}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with a known ``command``, of that one only, so that only its
    module is imported (every command starts sooner, and a replay forks its workers from a smaller
    process)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="shipper",
        description="Ship the systemd journal and syslog files, with the root cause of each failure attached.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"shipper {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (command,) if command in COMMANDS else COMMANDS:
        module = _command(name)
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.HELP,
            epilog=module.EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def console() -> int:
    """The `shipper` command (the console script and ``python -m shipper``): `main`, then the
    process's objects frozen, since it ends: the interpreter's last collection would walk every one
    of them for nothing (about 50 ms of a replay's end). Tests call `main` in their own process."""
    code = main()
    gc.freeze()
    return code


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The first argument that is not an option names the command (the top level's options take no value).
    command = next((a for a in argv if not a.startswith("-")), None)
    with _held(command == "run"):
        from shipper.env import Env

        return _main(build_parser(command), argv, env or Env())


@contextmanager
def _held(daemon: bool) -> Iterator[None]:
    """For `shipper run` (``daemon``), SIGTERM, SIGINT and SIGHUP are held back (blocked) from here,
    before anything is imported or set up, until the daemon's loop has its handlers in place
    (`shipper.daemon.loop`): one that comes while it starts is taken then (a stop, a reload),
    instead of killing it. Threads started meanwhile keep them blocked (the loop takes them). One
    still held at the end (shipper stopped before its loop ran: a configuration error) is dropped,
    so that the exit status is that of what happened; the mask is then as it was."""
    if not daemon:
        yield
        return
    from shipper.daemon import SIGNALS

    before = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        held = SIGNALS - before
        while signal.sigpending() & held:
            signal.sigtimedwait(held, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _main(parser: argparse.ArgumentParser, argv: Sequence[str], env: Env) -> int:
    import traceback

    from shipper.errors import ExitCode, ShipperError

    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage or help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(env.stderr)
        return ExitCode.USAGE
    try:
        return int(args._module.run(args, env))
    except ShipperError as exc:
        _say(env, f"shipper: error: {exc.message}")
        if exc.hint:
            _say(env, f"shipper: {exc.hint}")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _say(env, "shipper: interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `shipper replay --output ndjson | head`
        return ExitCode.OK
    except Exception as exc:  # the boundary: anything else is a bug
        if args.debug:
            _say(env, "".join(traceback.format_exception(exc)))
        _say(env, f"shipper: unexpected error: {type(exc).__name__}: {exc}")
        _say(env, "shipper: this is a bug; rerun with --debug to see where, and report it")
        return ExitCode.ERROR


def _say(env: Env, text: str) -> None:
    from shipper.secrets import redact

    print(redact(text), file=env.stderr)
