"""Where each path given on the command line (one JSON list) leads on this host, symlinks followed
as the kernel follows them: prints {path: {"links": [...], "leads_to": ...}} as JSON.

Run by the role on the host (the controller cannot see the host's symlinks) before it checks the
configuration against the unit's sandbox (filter_plugins/shipper_sandbox.py): shipper opens a path
through every symlink on the way, so each link's place must be visible to it, and what it writes
must end up where the unit lets it write. "links" are the places of the symlinks passed through, in
order; "leads_to" is the path with no symlink left (null for a loop of symlinks, ELOOP). Parts that do not exist yet are kept as given;
a glob pattern's components (``*.log``) are kept too: only the directories before them resolve.
Reads only; changes nothing.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys

MAX_LINKS = 40  # the kernel's own limit (ELOOP)
GLOB = frozenset("*?[")


def follow(path: str) -> dict[str, object]:
    links: list[str] = []
    current = path
    while (step := _first_link(current)) is not None:
        place, current = step
        links.append(place)
        if len(links) > MAX_LINKS:  # a loop: opening it fails with ELOOP
            return {"links": list(dict.fromkeys(links)), "leads_to": None}
    return {"links": links, "leads_to": posixpath.normpath(current)}


def _first_link(path: str) -> tuple[str, str] | None:
    """The first symlink on ``path`` and the path with it replaced by its target; None when there
    is none (before the first glob component)."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        if GLOB & set(parts[i]):
            return None
        place = "/".join(parts[: i + 1])
        if parts[i] in ("", ".", "..") or not os.path.islink(place):
            continue
        target = os.readlink(place)
        base = target if target.startswith("/") else posixpath.join("/".join(parts[:i]) or "/", target)
        return posixpath.normpath(place), "/".join([base.rstrip("/"), *parts[i + 1:]])
    return None


def main(argv: list[str]) -> int:
    paths = json.loads(argv[1]) if len(argv) > 1 else []
    print(json.dumps({p: follow(p) for p in paths if p.startswith("/")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
