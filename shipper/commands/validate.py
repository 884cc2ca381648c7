"""`shipper validate`: is a configuration file valid? Offline: no server is contacted."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from shipper.env import Env
from shipper.errors import ExitCode, InputError

if TYPE_CHECKING:
    from shipper.config.model import Config

HELP = "check a configuration file strictly, as `shipper run` and its reload do, without contacting any server"
EXAMPLES = """\
examples:
  shipper validate --config /etc/shipper/shipper.yml
  shipper validate --config new.yml && cp new.yml /etc/shipper/shipper.yml && systemctl reload shipper

Checks what `shipper run` checks before it starts or reloads (keys, types, values, inputs that
would share a checkpoint, the output's settings, prometheus-client for run.metrics). It writes
nothing and opens neither the inputs nor the secret files: `shipper check` goes further, it
connects to Elasticsearch with the configured credentials.

exit status: 0 valid; 3 invalid or unreadable (the error names the file, line, key and fix);
4 valid, but this machine cannot run it: it reads the journal (configured, or by default when
there is no inputs:) and systemd-python is not installed. The summary is printed first; a config
used only by `shipper setup`, `check` or `replay --config` reads no journal and can ignore it.
A journal directory that is not there is not an error: `shipper run` waits for it (a note says so),
as it waits for a file input's files.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True, help="the configuration file to check")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.config.model import load_config
    from shipper.daemon.console import Console
    from shipper.daemon.plan import make_plan

    cfg = load_config(args.config)  # a ConfigError names file:line, the key and the fix (exit 3)
    no_reader = _journal_reader_missing(cfg)
    # The daemon's own checks, as at a start or a reload: its plan builds the inputs and the output
    # without opening them (no file, no state directory, no connection, no secret read). Without
    # systemd-python it fails last, once everything else was checked (`make_followers`).
    try:
        make_plan(cfg, env, Console(env.stderr, env.stderr_isatty).log, env)
    except InputError as exc:
        if no_reader is None or exc.message != no_reader.message:
            raise
    _summary(cfg, args.config, env)
    if no_reader is None:
        return ExitCode.OK
    raise _cannot_run(cfg, _first_journal(cfg))  # valid: only this host cannot run it


def _journal_reader_missing(cfg: Config) -> InputError | None:
    """systemd-python's error where the config reads a journal and this host has no systemd-python."""
    from shipper.sources.journal_entries import journal_module

    if cfg.inputs and _first_journal(cfg) is None:
        return None
    try:
        journal_module()
    except InputError as exc:
        return exc
    return None


def _first_journal(cfg: Config) -> int | None:
    """The index of the first journal input; None with no inputs: (the local journal, by default)."""
    from shipper.config.model import JournalInput

    return next((i for i, spec in enumerate(cfg.inputs) if isinstance(spec, JournalInput)), None)


def _cannot_run(cfg: Config, first: int | None) -> InputError:
    """Exit 4: this host cannot run the config (exit 3 is for a config that is invalid)."""
    if first is None:
        why = "it has no inputs:, so shipper run follows the local journal by default"
    else:
        why = f"{cfg.where.at(f'inputs[{first}]')}: inputs[{first}] reads the journal"
    return InputError(
        f"this machine cannot run {cfg.where.file} with shipper run: {why}, and reading the journal needs "
        f"systemd-python, which is not installed here",
        hint="install it (Debian: apt-get install python3-systemd, into a venv made with --system-site-packages; "
             "or pip install 'shipper[journal]'), or give inputs: without the journal. A config used only by "
             "shipper setup, check or replay --config reads no journal: for those this is no error")


def _summary(cfg: Config, path: Path, env: Env) -> None:
    from shipper.config.model import JournalInput

    inputs = ", ".join(i.type for i in cfg.inputs) or "none (the daemon follows the local journal)"
    outputs = cfg.output.configured()
    env.stdout.write(f"config valid: {path}\n")
    env.stdout.write(f"  inputs: {inputs}\n")
    for spec in cfg.inputs:  # as a file input's files: `shipper run` waits for it, reads it once it is there
        if isinstance(spec, JournalInput) and spec.path is not None and not spec.path.is_dir():
            env.stdout.write(f"  note: the journal directory {spec.path} is not there: shipper run waits for it\n")
    env.stdout.write(f"  outputs: {', '.join(outputs) or 'none (the local store in the state directory)'}\n")
    env.stdout.write(f"  state directory: {cfg.state_dir}\n")
