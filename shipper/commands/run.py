"""`shipper run`: the host daemon (follow the journal and log files, ship, checkpoint)."""

from __future__ import annotations

import argparse
from pathlib import Path

from shipper.env import Env

HELP = "follow the journal and log files and ship them, unattended (the systemd service)"
EXAMPLES = """\
examples:
  shipper run                                   with /etc/shipper/shipper.yml (the local journal if it has no inputs)
  shipper run --config ./shipper.yml            another configuration
  systemctl reload shipper                      (SIGHUP) reload the configuration; one that is invalid, whose
                                                output cannot be opened (or reached, while the old one works) or whose
                                                run.metrics.listen is taken is refused
  shipper status                                what the daemon is doing

With no output configured, events go to the local store <state_dir>/events.db
(`shipper causes --config /etc/shipper/shipper.yml` reads it). SIGTERM: deliver what is queued,
save the checkpoints, exit 0. Nothing is lost: what was not acknowledged is read again.
If the state directory is deleted while it runs, it delivers what is queued and exits 5
without writing there again (start it again to begin afresh).
"""

DEFAULT_CONFIG = Path("/etc/shipper/shipper.yml")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help=f"the configuration file (default: {DEFAULT_CONFIG})")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.config.model import Config, load_config
    from shipper.daemon.console import Console
    from shipper.daemon.loop import Daemon
    from shipper.daemon.notify import Notifier
    from shipper.daemon.plan import Plan, make_plan
    from shipper.state.lock import lock_state_dir

    path: Path | None = args.config
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    cfg = load_config(path)
    console = Console(env.stderr, env.stderr_isatty)
    if path is None:
        console.log(f"shipper: no {DEFAULT_CONFIG}: following the local journal into {cfg.state_dir}")
    sink_env = Env(stdin=env.stdin, stdout=env.stdout, stderr=console.stream(), environ=env.environ, clock=env.clock)

    def plan_for(c: Config) -> Plan:
        return make_plan(c, env, console.log, sink_env)

    plan = plan_for(cfg)
    lock = lock_state_dir(cfg.state_dir)
    daemon = Daemon(plan, plan_for, path, console, Notifier(env.environ), lock)
    try:
        return daemon.run()
    finally:
        lock.close()
