"""The enrichers `replay` and `run` apply, in order.

1. `Recognise`: signatures, hints, typed fields; one extra document per failed bootstrap check;
   the from=, to=, stat=, relay=, ... fields of ordinary sendmail lines.
2. `Incidents`: one ``rootcause.incident`` per failure and its cause; failures carry their cause.

The signature files are loaded once (and validated strictly: a bad file is a `ConfigError`).
"""

from __future__ import annotations

from shipper.config.model import RecogniseConfig
from shipper.enrich.base import Enricher
from shipper.enrich.incidents import Incidents
from shipper.enrich.recognise import Recognise
from shipper.recognise.rules import Rules, load_rules


def default_enrichers(cfg: RecogniseConfig) -> list[Enricher]:
    rules = load_rules()
    return [Recognise(rules), linker(cfg, rules)]


def linker(cfg: RecogniseConfig, rules: Rules | None = None) -> Incidents:
    """The `Incidents` enricher alone: the parallel replay runs `Recognise` in its workers (with
    the same signature files) and links here, in order."""
    return Incidents(float(cfg.incident_window), rules)
