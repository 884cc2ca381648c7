"""`shipper print-unit`: the systemd unit this version of shipper ships with (package data)."""

from __future__ import annotations

import argparse

from shipper.env import Env
from shipper.errors import ExitCode

HELP = "print the systemd unit packaged with this shipper (install it as /etc/systemd/system/shipper.service)"
EXAMPLES = """\
examples:
  shipper print-unit > /etc/systemd/system/shipper.service && systemctl daemon-reload
  mkdir -p /etc/systemd/system/shipper.service.d
  shipper print-unit --credentials > /etc/systemd/system/shipper.service.d/credentials.conf

The unit runs /usr/local/bin/shipper: link it to the installed one, e.g.
  ln -s /opt/shipper/bin/shipper /usr/local/bin/shipper
The drop-in (--credentials) hands /etc/shipper/es_api_key to the service as
/run/credentials/shipper.service/es_api_key. Install it only where that file exists: systemd does
not start the service while it is missing (status 243/CREDENTIALS).
"""
DROP_IN = "shipper.service.d/credentials.conf"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--credentials", action="store_true",
                   help=f"print the drop-in {DROP_IN} (LoadCredential= of the Elasticsearch API key) instead")


def run(args: argparse.Namespace, env: Env) -> int:
    """The packaged file, byte for byte."""
    env.stdout.write(read_packaged(DROP_IN if args.credentials else "shipper.service"))
    return ExitCode.OK


def read_packaged(name: str) -> str:
    """The text of ``shipper/assets/deploy/<name>`` from the installed package (wheel or checkout)."""
    from importlib import resources

    from shipper.errors import ShipperError

    resource = resources.files("shipper") / "assets" / "deploy" / name
    try:
        return resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise ShipperError(
            f"the packaged file assets/deploy/{name} is missing from this installation ({exc.strerror})",
            hint="reinstall shipper from its wheel; a build without package data is broken",
        ) from None
