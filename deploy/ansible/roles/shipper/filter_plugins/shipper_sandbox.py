"""The filter ``shipper_sandbox_conflicts``: the settings of a shipper.yml that the packaged unit's
sandbox (deploy/shipper.service) would defeat, each told as an operator message.

`shipper validate` checks a configuration, not the unit it runs under: it accepts a ``state_dir``
of /srv/shipper, which the daemon then cannot write (ProtectSystem=strict), so the service fails at
its start. The role asserts that this list is empty before it installs anything.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any

# What the unit lets the daemon write: StateDirectory=shipper and LogsDirectory=shipper.
WRITABLE = ("/var/lib/shipper", "/var/log/shipper")
# What the daemon cannot see: ProtectHome=yes hides these, PrivateTmp=yes gives it its own empty ones.
HIDDEN = {"/home": "ProtectHome=yes", "/root": "ProtectHome=yes", "/run/user": "ProtectHome=yes",
          "/tmp": "PrivateTmp=yes", "/var/tmp": "PrivateTmp=yes"}
WRITTEN_FIXES = {
    "state_dir": "remove state_dir (the role sets /var/lib/shipper); for the state on another disk, "
                 "mount that disk at /var/lib/private/shipper (where systemd keeps StateDirectory=)",
    "output.local.path": "leave it out (<state_dir>/events.db) or give a file under /var/lib/shipper",
    "output.ndjson.path": "give a file under /var/log/shipper, e.g. /var/log/shipper/events.ndjson, "
                          "or leave it out (standard output: the journal)",
}
ES_FILES = ("api_key_file", "password_file", "bearer_token_file", "ca_file", "client_cert", "client_key")
LOWEST_UNPRIVILEGED_PORT = 1024


def shipper_sandbox_conflicts(config: Mapping[str, Any], extra: Mapping[str, Any]) -> list[str]:
    """What in ``config`` (shipper.yml as the role renders it) the unit's sandbox forbids;
    ``extra`` is shipper_config_extra, to name the inventory variable that sets each setting."""
    problems = [_written(key, path) for key, path in _written_paths(config)]
    problems += [_hidden(key, path) for key, path in _read_paths(config)]
    problems.append(_privileged_port(_get(config, "run.metrics.listen")))
    return [f"{_variable(key, extra)}: {problem}" for key, problem in filter(None, problems)]


def _written(key: str, path: str) -> tuple[str, str] | None:
    if any(_under(path, top) for top in WRITABLE):
        return None
    return key, (f"{key} is {path}, where the unit does not let shipper write (only /var/lib/shipper, "
                 "StateDirectory=, and /var/log/shipper, LogsDirectory=: ProtectSystem=strict makes the "
                 f"rest read-only), so the service would fail at its start: {WRITTEN_FIXES[key]}")


def _hidden(key: str, path: str) -> tuple[str, str] | None:
    for top, setting in HIDDEN.items():
        if _under(path, top):
            return key, (f"{key} is {path}, which the unit hides from shipper ({setting}: it sees no file "
                         f"under {top}), so it would find nothing there: move the files out of {top}, "
                         "e.g. under /var/log or /etc")
    return None


def _privileged_port(listen: object) -> tuple[str, str] | None:
    port = str(listen).rpartition(":")[2] if listen is not None else ""
    if not port.isdigit() or int(port) >= LOWEST_UNPRIVILEGED_PORT:
        return None  # a malformed address is shipper validate's to refuse
    return "run.metrics.listen", (f"run.metrics.listen is {listen}: the unit gives shipper no capability "
                                  "(CapabilityBoundingSet=), so it cannot listen on a port below 1024 and "
                                  "would fail at its start: use a port such as 9464")


def _written_paths(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key in WRITTEN_FIXES:
        value = _get(config, key)
        if value is not None:
            yield key, str(value)


def _read_paths(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for i, source in enumerate(config.get("inputs") or []):
        if not isinstance(source, Mapping):
            continue  # shipper validate's to refuse
        patterns = source.get("paths")
        for j, pattern in enumerate(patterns if isinstance(patterns, list) else []):
            yield f"inputs[{i}].paths[{j}]", str(pattern)
        if source.get("path") is not None:
            yield f"inputs[{i}].path", str(source["path"])
    for name in ES_FILES:
        value = _get(config, f"output.elasticsearch.{name}")
        if value is not None:
            yield f"output.elasticsearch.{name}", str(value)


def _get(config: Mapping[str, Any], dotted: str) -> object:
    """The value at ``dotted`` (``run.metrics.listen``), None where a level is missing or empty."""
    value: object = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _under(path: str, top: str) -> bool:
    """Whether ``path`` is ``top`` or inside it, after resolving ``.`` and ``..`` (a relative
    path is not: the daemon's working directory is /)."""
    normal = posixpath.normpath(path)
    return path.startswith("/") and (normal == top or normal.startswith(top + "/"))


def _variable(key: str, extra: Mapping[str, Any]) -> str:
    """The inventory variable that sets ``key`` (dotted, with list indexes)."""
    top = key.split("[")[0].split(".")
    if _get(extra, ".".join(top)) is not None:
        return "shipper_config_extra"
    if top[0] == "inputs":
        return "shipper_inputs"
    if top[:2] == ["output", "elasticsearch"]:
        return "shipper_elasticsearch_settings"
    return "shipper_config_extra"


class FilterModule:
    """Ansible's entry point for the role's filters."""

    def filters(self) -> dict[str, Any]:
        return {"shipper_sandbox_conflicts": shipper_sandbox_conflicts}
