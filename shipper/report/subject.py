"""What an incident is about, as `shipper causes` and the report say it: its unit, or its program.

A family's signatures fall back on a unit when the log names none (Elasticsearch: elasticsearch.service),
so that the events of one failure link as one incident. When no event of the incident came from
systemd or syslog, that unit was never seen: the program is named instead, not a systemd unit.
"""

from __future__ import annotations

from shipper.event import Doc, get_path

# What an incident is called when no line of it came from systemd or syslog (a container's console,
# a tarball's console, the node's own log file): its unit is then only the one its family falls back
# on, not a systemd unit the log showed, so the program is named instead (`subject`).
_PROGRAMS = {"elasticsearch.service": "Elasticsearch node", "opensearch.service": "OpenSearch node"}
_OPENSEARCH = "OpenSearch node"  # an Elasticsearch fork that logs the same checks


def subject(unit: str | None, events: list[Doc]) -> str:
    """``unit``, unless no event came from systemd or syslog and `_PROGRAMS` names its program:
    then ``Elasticsearch node elastic01``, ``OpenSearch node (container opensearch-node1)``."""
    program = _PROGRAMS.get(unit or "")
    if program is None or any(d.get("systemd") or get_path(d, "process.name") for d in events):
        return unit or "a unit"
    texts = [str(d.get("message", "")) + str(get_path(d, "container.name") or "") for d in events]
    if any("opensearch" in t.lower() for t in texts):
        program = _OPENSEARCH
    node = next((get_path(d, "elasticsearch.node.name") for d in events if get_path(d, "elasticsearch.node.name")), None)
    container = next((get_path(d, "container.name") for d in events if get_path(d, "container.name")), None)
    return f"{program}{f' {node}' if node else ''}{f' (container {container})' if container else ''}"
