"""Files a replay holds open from the moment it lists them.

A replay lists its inputs first and reads them later, file after file; on a live machine a file
can be renamed in between (logrotate moves ``messages`` to ``messages.1``, journald renames its
active file) and another takes its name. Read by its name, the file listed would then be another
one: some of it read twice, the renamed one not at all. So each file is opened when it is listed
(`shipper.sources.open`) and read through that descriptor.
"""

from __future__ import annotations

import errno
import os
import resource


def open_pinned(path: str) -> int:
    """A descriptor of ``path`` (OSError if it cannot be opened). When too many files are open
    already, the soft limit is raised towards the hard one first."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.EMFILE or not _raise_limit():
            raise
    return open_pinned(path)


def room_for(files: int) -> None:
    """Raise the soft limit of open files (up to the hard limit, as journalctl does) so that
    ``files`` more can be open at once, besides the others."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = files + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


def _raise_limit() -> bool:
    """Double the soft limit of open files (up to the hard limit); False if it is there already."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft >= hard:
        return False
    room_for(2 * soft)
    return True
