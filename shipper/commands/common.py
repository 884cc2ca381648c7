"""Options shared by the commands that read the local store (`causes`, `report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from shipper.env import Env


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", type=Path, help="the local store (default: ~/.local/share/shipper/events.db)")
    p.add_argument("--config", type=Path, help="read the store `shipper run` writes with this config (its state_dir)")


def store_path(args: argparse.Namespace, env: Env) -> Path:
    """``--store``, else the store of ``--config`` (what `shipper run` writes), else the user's."""
    if args.store is not None:
        return Path(args.store)
    if args.config is not None:
        from shipper.config import load_config

        return load_config(args.config).local_store()
    return env.default_store
