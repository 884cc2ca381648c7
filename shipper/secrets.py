"""Secrets: loaded only from a file or an environment variable that the config names.

Never from the command line (argv is visible to every user in ``ps``). Every secret loaded is
registered here, with the forms it takes on the wire (the base64 of ``user:password`` in a Basic
header, of ``id:key`` in an ApiKey header), so the CLI's error boundary can `redact` all of them
from whatever it prints, whichever library composed the message.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import threading
from pathlib import Path
from typing import Mapping

from shipper.errors import ConfigError

REDACTED = "[REDACTED]"

_lock = threading.Lock()
_registered: set[str] = set()


def register(secret: str) -> None:
    """Remember ``secret`` (and its base64 form) so `redact` removes it from any text."""
    if not secret:
        return
    with _lock:
        _registered.add(secret)
        _registered.add(base64.b64encode(secret.encode("utf-8")).decode("ascii"))


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``[REDACTED]`` (longest first)."""
    with _lock:
        secrets = sorted(_registered, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


_HEADER_WORD = re.compile(r"[\x21-\x7e]+")  # what an Authorization header can carry as it is


def load_secret(
    what: str,
    *,
    file: Path | None,
    env_var: str | None,
    environ: Mapping[str, str],
    key: str,
    header: bool = False,
) -> str | None:
    """The secret named by ``file`` or ``env_var`` (at most one may be set), registered for redaction.

    ``what`` names the secret for messages ("the API key"); ``key`` is the config key prefix
    (``output.elasticsearch.api_key``) so an error says which setting to fix. Trailing whitespace
    and newlines (``echo key > file``) are stripped. Returns None when neither is configured.
    With ``header`` (an API key, a bearer token: sent as it is in an HTTP header), the secret must be
    one word of printable ASCII; the error says what is wrong, never what the secret holds.
    """
    if file is not None and env_var is not None:
        raise ConfigError(f"{key}_file and {key}_env are both set", hint=f"keep one source for {what}")
    if file is not None:
        value = _read_file(what, file, key)
    elif env_var is not None:
        raw = environ.get(env_var)
        if raw is None:
            raise ConfigError(
                f"{key}_env names the environment variable {env_var}, which is not set",
                hint=f"export {env_var} with {what}, or use {key}_file",
            )
        value = raw.strip()
    else:
        return None
    source = str(file) if file is not None else f"${env_var}"
    if not value:
        raise ConfigError(f"{what} in {source} is empty", hint=f"put {what} there, or remove {key}_*")
    register(value)
    if header and not _HEADER_WORD.fullmatch(value):
        lines = len(value.splitlines())
        shape = f"{lines} lines" if lines > 1 else "a space, a control or a non-ASCII character"
        raise ConfigError(f"{what} in {source} holds {shape}: it must be one word of printable ASCII",
                          hint=f"put {what} alone in it, as Elasticsearch gave it (base64, or id:key)")
    return value


def _read_file(what: str, path: Path, key: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"{key}_file: {path} does not exist", hint=f"create it with {what} (mode 0600)") from None
    except OSError as exc:
        raise ConfigError(f"{key}_file: cannot read {path}: {exc.strerror}", hint="check its owner and mode") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{key}_file: {path} is not UTF-8 text", hint=f"it should hold {what} only") from None


def readable_by_others(path: Path) -> bool:
    """True when a secret file can be read by group or others (``shipper check`` warns)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))
