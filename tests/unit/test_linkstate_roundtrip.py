"""Linking's state through its file and back (`Incidents.state`/`restore`, `Nearby.facts`, the
``linking.json`` format of `shipper.state.linkstate`): a log linked in two halves, with the state
saved after the first and restored in fresh enrichers, gets the links it gets read in one go, at
every point it is cut (open incidents found by unit, by PID, by the host's last failure; an OOM
kill waiting for its unit; a unit's start after its failure, also 39 minutes after; two managers'
units of one name; a cause counted on; an Elasticsearch bootstrap-check report, whose numbered
check lines are read in the context its first line opened: `Recognise.contexts_json`)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from tests.helpers.samples import enrich_all, parse_lines
from shipper.config.model import RecogniseConfig
from shipper.enrich.chain import default_enrichers
from shipper.enrich.incidents import Incidents
from shipper.enrich.recognise import Recognise
from shipper.event import Doc
from shipper.recognise.model import Rules
from shipper.sources.live import TextMark
from shipper.state.linkstate import LinkStore, fingerprint, state_body

LINES = [
    "Aug 30 14:50:00 gorp sendmail[100]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use",
    "Aug 30 14:50:05 gorp sendmail[100]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use",
    "Aug 30 14:51:00 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/OSERR",
    "Aug 30 14:51:00 gorp systemd[1]: sendmail.service: Failed with result 'exit-code'.",
    "Aug 30 14:52:00 gorp systemd[1]: Started Sendmail Mail Transport Agent.",
    "Aug 30 14:55:00 gorp kernel: Out of memory: Killed process 4242 (java) total-vm:8000000kB, anon-rss:4000000kB",
    "Aug 30 14:55:02 gorp systemd[1]: elasticsearch.service: A process of this unit has been killed by the OOM killer.",
    "Aug 30 14:55:02 gorp systemd[1]: elasticsearch.service: Failed with result 'oom-kill'.",
    "Aug 30 14:56:00 gorp systemd[1]: nginx.service: Main process exited, code=exited, status=1/FAILURE",
    "Aug 30 14:56:00 gorp systemd[1]: nginx.service: Failed with result 'exit-code'.",
    "Aug 30 14:57:00 gorp systemd[1]: Started nginx.service - The nginx HTTP and reverse proxy server.",
    # the system manager's and a user manager's foo.service, each its own incident; PID 1's starts 39 minutes after
    "Aug 30 15:00:00 gorp systemd[1]: foo.service: Main process exited, code=exited, status=1/FAILURE",
    "Aug 30 15:00:00 gorp systemd[1]: foo.service: Failed with result 'exit-code'.",
    "Aug 30 15:01:00 gorp systemd[1562]: foo.service: Failed with result 'exit-code'.",
    "Aug 30 15:39:00 gorp systemd[1]: Started foo.service - Foo.",
    "Aug 30 15:40:00 gorp elasticsearch[200]: ERROR: [2] bootstrap checks failed",
    "Aug 30 15:40:00 gorp elasticsearch[200]: [1]: memory locking requested for elasticsearch process but memory is not locked",
    "Aug 30 15:40:00 gorp elasticsearch[200]: [2]: discovery type [zen] is unsuitable for production use",
    "Aug 30 15:40:01 gorp systemd[1]: elasticsearch.service: Main process exited, code=exited, status=78/CONFIG",
]


def _rootcauses(docs: list[Doc]) -> list[object]:
    return [d.get("rootcause") for d in docs]


@pytest.mark.parametrize("cut", range(1, len(LINES)))
def test_a_log_linked_in_two_halves_across_the_state_file_links_as_in_one_go(tmp_path: Path, cut: int) -> None:
    docs = parse_lines(LINES, year=2024)
    whole = _rootcauses(enrich_all(copy.deepcopy(docs), batch=1))
    first = default_enrichers(RecogniseConfig())
    halves = enrich_all(copy.deepcopy(docs[:cut]), batch=1, enrichers=first)
    recognise, incidents = first
    assert isinstance(recognise, Recognise) and isinstance(incidents, Incidents)
    rules = fingerprint(recognise.rules, incidents.window)
    store = LinkStore(tmp_path)
    store.save(rules, {"sample": TextMark(0, cut)},
               state_body(incidents.state(), recognise.nearby.facts(), recognise.contexts_json()))
    saved, why = LinkStore(tmp_path).load(rules)
    assert saved is not None and why is None and saved.fences == {"sample": TextMark(0, cut)}
    second = default_enrichers(RecogniseConfig())
    assert isinstance(second[0], Recognise) and isinstance(second[1], Incidents)
    second[1].restore(saved.incidents)
    second[0].restore((*second[0].contexts_from(saved.contexts), saved.facts))
    halves += enrich_all(copy.deepcopy(docs[cut:]), batch=1, enrichers=second)
    assert _rootcauses(halves) == whole


def test_a_state_of_other_signatures_or_window_is_not_used(tmp_path: Path) -> None:
    recognise = Recognise()
    store = LinkStore(tmp_path)
    store.save(fingerprint(recognise.rules, 600), {},
               state_body(Incidents().state(), recognise.nearby.facts(), recognise.contexts_json()))
    assert store.load(fingerprint(recognise.rules, 300)) == (
        None, "was linked with other signatures or another recognise.incident_window")
    (tmp_path / "linking.json").write_bytes(b'{"version": 1, "rules": "x", "fences": {}, "links": {"incid')
    assert store.load("x") == (None, "is damaged")


def test_the_signatures_fingerprint_is_not_where_they_are_installed() -> None:
    """The fingerprint held the file and line of each signature (``where``): a shipper installed
    in another directory, or a signature file with a comment added above a rule, found the state
    "linked with other signatures" and did not use it (an upgrade lost the incidents open across
    it; found by the eighteenth session's second tester)."""
    rules = Recognise().rules
    elsewhere = Rules(tuple(dataclasses.replace(family, signatures=tuple(
        dataclasses.replace(sig, where=f"/opt/other/{sig.where}:9") for sig in family.signatures))
        for family in rules.families))
    assert [sig.where for sig in elsewhere.signatures] != [sig.where for sig in rules.signatures]
    assert fingerprint(elsewhere, 600) == fingerprint(rules, 600)
