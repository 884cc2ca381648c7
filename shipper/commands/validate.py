"""`shipper validate`: is a configuration file valid? Offline: no server is contacted."""

from __future__ import annotations

import argparse
from pathlib import Path

from shipper.env import Env
from shipper.errors import ExitCode

HELP = "check a configuration file strictly (keys, types, values) without contacting any server"
EXAMPLES = """\
examples:
  shipper validate --config /etc/shipper/shipper.yml
  shipper validate --config new.yml && cp new.yml /etc/shipper/shipper.yml && systemctl reload shipper

exit status: 0 valid; 3 invalid or unreadable (the error names the file, line, key and fix).
`shipper check` goes further: it connects to Elasticsearch with the configured credentials.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True, help="the configuration file to check")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.config.model import load_config

    cfg = load_config(args.config)  # a ConfigError names file:line, the key and the fix (exit 3)
    inputs = ", ".join(i.type for i in cfg.inputs) or "none (the daemon follows the local journal)"
    outputs = [name for name in ("local", "ndjson", "elasticsearch") if getattr(cfg.output, name) is not None]
    env.stdout.write(f"config valid: {args.config}\n")
    env.stdout.write(f"  inputs: {inputs}\n")
    env.stdout.write(f"  outputs: {', '.join(outputs) or 'none (the local store in the state directory)'}\n")
    env.stdout.write(f"  state directory: {cfg.state_dir}\n")
    return ExitCode.OK
