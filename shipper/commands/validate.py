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
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True, help="the configuration file to check")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.config.model import load_config
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
    env.stdout.write(f"  outputs: {', '.join(outputs) or 'none (the local store in the state directory)'}\n")
    env.stdout.write(f"  state directory: {cfg.state_dir}\n")
    return ExitCode.OK
