"""The role's checks of the shipper.yml it writes, told as operator messages naming the inventory
variable: ``shipper_sandbox_conflicts``, the settings the packaged unit's sandbox
(deploy/shipper.service) would defeat, and ``shipper_config_refused``, why `shipper validate`
refused the configuration, told against /etc/shipper/shipper.yml rather than the rendered
temporary file it checked.

`shipper validate` checks a configuration, not the unit it runs under: it accepts a ``state_dir``
of /srv/shipper, which the daemon then cannot write (ProtectSystem=strict), so the service fails at
its start. The role asserts that the list of conflicts is empty before it installs anything. The
controller cannot see the host's symlinks: the role first asks the host where each path leads
(files/shipper_path_links.py, given ``shipper_sandbox_paths``), and the check follows what it says,
as shipper's own opens would.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

# What the unit lets the daemon write: StateDirectory=shipper and LogsDirectory=shipper. With
# DynamicUser=yes systemd keeps them in /var/lib/private/shipper and /var/log/private/shipper (the
# first two are symlinks there) and mounts these two, and nothing else of /var/lib/private or
# /var/log/private, into the service's view: either name works, another entry there does not.
WRITABLE = ("/var/lib/shipper", "/var/log/shipper", "/var/lib/private/shipper", "/var/log/private/shipper")
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
# The file the template module has `shipper validate` check: the rendered configuration, copied to
# the host's Ansible temporary directory (.source.yml since ansible-core 2.16 or so, source before).
RENDERED = re.compile(r"(?:/[^/\s]+)*?/ansible-tmp-[^/\s]+/\.?source(?:\.yml)?")


class Route(NamedTuple):
    """Where a configured path leads on the host: the places of the symlinks on the way, and the
    path with none left (None: a loop of symlinks)."""

    links: list[str]
    leads_to: str | None


def shipper_sandbox_paths(config: Mapping[str, Any]) -> list[str]:
    """The paths in ``config`` that the sandbox check needs followed on the host."""
    return sorted({path for _, path in [*_written_paths(config), *_read_paths(config)]})


def shipper_sandbox_conflicts(config: Mapping[str, Any], extra: Mapping[str, Any],
                              routes: Mapping[str, Any] | None = None) -> list[str]:
    """What in ``config`` (shipper.yml as the role renders it) the unit's sandbox forbids;
    ``extra`` is shipper_config_extra, to name the inventory variable that sets each setting;
    ``routes`` is what files/shipper_path_links.py printed on the host ({path: {links, leads_to}}):
    a path it does not name is taken as it is written."""
    def route(path: str) -> Route:
        found = (routes or {}).get(path) or {}
        return Route(list(found.get("links") or []), found.get("leads_to", posixpath.normpath(path)))

    problems = [_written(key, path, route(path)) for key, path in _written_paths(config)]
    problems += [_hidden(key, path, route(path)) for key, path in _read_paths(config)]
    problems.append(_privileged_port(_get(config, "run.metrics.listen")))
    return [f"{_variable(key, extra)}: {problem}" for key, problem in filter(None, problems)]


def shipper_config_refused(told: str, dest: str, extra: Mapping[str, Any]) -> str:
    """Why `shipper validate` refused the configuration, from its error output ``told`` about the
    rendered temporary file, told about ``dest`` and the inventory variable of the setting."""
    lines = (line.strip().removeprefix("shipper: ").removeprefix("error: ") for line in told.splitlines())
    said = "; ".join(RENDERED.sub(dest, line) for line in lines if line)
    key = re.search(rf"{re.escape(dest)}(?::\d+)?: ([\w.\[\]]+): ", said)
    variable = _variable(key.group(1), extra) if key else None
    return (f"{variable + ': ' if variable else ''}shipper validate refused the configuration for {dest}: {said} "
            f"({dest} was not written: the host keeps its current one; a line number is that of the file as "
            f"rendered, which --diff shows). Fix {variable or 'the inventory'}"
            f"{' in the inventory' if variable else ''} and run again.")


def _written(key: str, path: str, route: Route) -> tuple[str, str] | None:
    if route.leads_to is None:
        return _loop(key, path, route)
    if any(_under(route.leads_to, top) for top in WRITABLE):
        return _hidden(key, path, route)  # it leads there, but through a place shipper cannot see
    not_widened = " (a symlink does not widen the sandbox: shipper writes where it leads)" if route.links else ""
    return key, (f"{key} is {path}{_through(route)}, where the unit does not let shipper write (only "
                 "/var/lib/shipper, StateDirectory=, and /var/log/shipper, LogsDirectory=, which systemd keeps "
                 "in /var/lib/private/shipper and /var/log/private/shipper: ProtectSystem=strict makes the rest "
                 f"read-only), so the service would fail at its start: {WRITTEN_FIXES[key]}{not_widened}")


def _hidden(key: str, path: str, route: Route) -> tuple[str, str] | None:
    if route.leads_to is None:
        return _loop(key, path, route)
    for place in (path, *route.links, route.leads_to):
        for top, setting in HIDDEN.items():
            if not _under(place, top):
                continue
            visible = not any(_under(route.leads_to, hidden) for hidden in HIDDEN)
            fix = (f"give {route.leads_to} (where it leads) instead: shipper cannot pass through {top}"
                   if route.links and visible else f"move the files out of {top}, e.g. under /var/log or /etc")
            return key, (f"{key} is {path}{_through(route)}, which the unit hides from shipper ({setting}: it "
                         f"sees no file under {top}), so it would find nothing there: {fix}")
    return None


def _loop(key: str, path: str, route: Route) -> tuple[str, str]:
    return key, (f"{key} is {path}, which goes round a loop of symlinks ({', '.join(route.links)}): shipper "
                 "could not open it (ELOOP): fix the symlinks on the host or give the path they should lead to")


def _through(route: Route) -> str:
    """``, which leads to X through the symlink(s) A, B`` for a path with symlinks on its way."""
    if not route.links:
        return ""
    return f", which leads to {route.leads_to} through the symlink{'s' * (len(route.links) > 1)} {', '.join(route.links)}"


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
    dotted = key.split("[")[0]
    top = dotted.split(".")
    if _get(extra, dotted) is not None:
        return "shipper_config_extra"
    if top[0] == "inputs":
        return "shipper_inputs"
    if top[:2] == ["output", "elasticsearch"]:
        own = {"hosts": "shipper_elasticsearch_hosts", "namespace": "shipper_elasticsearch_namespace"}
        return own.get(top[2] if len(top) > 2 else "", "shipper_elasticsearch_settings")
    return "shipper_config_extra"


class FilterModule:
    """Ansible's entry point for the role's filters."""

    def filters(self) -> dict[str, Any]:
        return {"shipper_sandbox_paths": shipper_sandbox_paths, "shipper_sandbox_conflicts": shipper_sandbox_conflicts,
                "shipper_config_refused": shipper_config_refused}
