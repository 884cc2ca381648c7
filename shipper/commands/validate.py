"""`shipper validate`: is a configuration file valid? Offline: no server is contacted."""

from __future__ import annotations

import argparse
from pathlib import Path

from shipper.env import Env
from shipper.errors import ExitCode

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
4 an input this machine cannot read (the journal, configured or by default, without systemd-python).
A journal directory that is not there is not an error: `shipper run` waits for it (a note says so),
as it waits for a file input's files.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True, help="the configuration file to check")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.config.model import JournalInput, load_config
    from shipper.daemon.console import Console
    from shipper.daemon.plan import make_plan

    cfg = load_config(args.config)  # a ConfigError names file:line, the key and the fix (exit 3)
    # The daemon's own checks, as at a start or a reload: its plan builds the inputs and the output
    # without opening them (no file, no state directory, no connection, no secret read).
    make_plan(cfg, env, Console(env.stderr, env.stderr_isatty).log, env)
    inputs = ", ".join(i.type for i in cfg.inputs) or "none (the daemon follows the local journal)"
    outputs = cfg.output.configured()
    env.stdout.write(f"config valid: {args.config}\n")
    env.stdout.write(f"  inputs: {inputs}\n")
    for spec in cfg.inputs:  # as a file input's files: `shipper run` waits for it, reads it once it is there
        if isinstance(spec, JournalInput) and spec.path is not None and not spec.path.is_dir():
            env.stdout.write(f"  note: the journal directory {spec.path} is not there: shipper run waits for it\n")
    env.stdout.write(f"  outputs: {', '.join(outputs) or 'none (the local store in the state directory)'}\n")
    env.stdout.write(f"  state directory: {cfg.state_dir}\n")
    return ExitCode.OK
