"""`shipper print-config`: the commented example configuration packaged with this shipper."""

from __future__ import annotations

import argparse

from shipper.env import Env
from shipper.errors import ExitCode

HELP = "print the example configuration packaged with this shipper (a starting /etc/shipper/shipper.yml)"
EXAMPLES = """\
examples:
  shipper print-config > /etc/shipper/shipper.yml      then edit it
  shipper validate --config /etc/shipper/shipper.yml   check what you wrote
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    del p  # no options: the packaged file, byte for byte


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.commands.print_unit import read_packaged

    env.stdout.write(read_packaged("shipper.yml"))
    return ExitCode.OK
