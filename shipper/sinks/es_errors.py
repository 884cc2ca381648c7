"""What an Elasticsearch error says, in one line for the operator: the reason of an error body or
bulk item, and the errno of a connection failure. Plain text work, kept apart from `es_client` so
that using it does not import the official client (about 0.1 s and 13 MB, see `ElasticsearchSink`)."""

from __future__ import annotations

import re
from typing import Any

_ERRNO = re.compile(
    r"\[Errno -?\d+\] [^)'\"]+|\[SSL[^\]]*\][^)'\"]*|Read timed out|timed out|Remote end closed connection without response|Connection reset by peer"
)


def connection_reason(exc: BaseException) -> str:
    """``[Errno 111] Connection refused`` out of urllib3's nested exception text."""
    parts = [str(getattr(exc, "message", "")), str(exc.__cause__ or ""), str(exc)]
    for text in parts:
        m = _ERRNO.search(text)
        if m:
            return m.group(0).strip()
    return next((p for p in parts if p), type(exc).__name__)


def error_reason(body: Any) -> str:
    """``type: reason (caused by: ...)`` of an Elasticsearch error body or bulk item error."""
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, str):
        return error
    if not isinstance(error, dict):
        return str(body)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    caused = error.get("caused_by")
    if isinstance(caused, dict) and caused.get("reason"):
        text += f" (caused by {caused.get('type')}: {caused.get('reason')})"
    return text
