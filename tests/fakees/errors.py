"""Error bodies shaped as Elasticsearch writes them (``{"error": {...}, "status": N}``)."""

from __future__ import annotations

from typing import Any


class EsError(Exception):
    """Raised inside the fake; rendered as Elasticsearch's error response."""

    def __init__(self, status: int, type_: str, reason: str, *, caused_by: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.cause = cause(type_, reason, caused_by=caused_by, extra=extra)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        root = {k: v for k, v in self.cause.items() if k != "caused_by"}
        return {"error": {"root_cause": [root], **self.cause}, "status": self.status}


def cause(type_: str, reason: str, *, caused_by: dict[str, Any] | None = None,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "reason": reason}
    if extra:
        out.update(extra)
    if caused_by:
        out["caused_by"] = caused_by
    return out


AUTH_HEADER = {"WWW-Authenticate": 'Basic realm="security", charset="UTF-8", Bearer realm="security", ApiKey'}


def unauthenticated(path: str) -> EsError:
    """401: what Elasticsearch answers to missing or wrong credentials."""
    reason = f"unable to authenticate with provided credentials and anonymous access is not allowed for this request"
    return EsError(401, "security_exception", reason, headers=AUTH_HEADER,
                   extra={"additional_unsuccessful_credentials": f"request [{path}]",
                          "header": {"WWW-Authenticate": [AUTH_HEADER["WWW-Authenticate"]]}})


def unauthorized(action: str, user: str, privileges: str) -> EsError:
    """403: authenticated, but the role lacks the privilege for ``action``."""
    reason = (f"action [{action}] is unauthorized for user [{user}] with effective roles [shipper_writer], "
              f"this action is granted by the {privileges}")
    return EsError(403, "security_exception", reason)


def not_found_handler(method: str, path: str) -> EsError:
    return EsError(400, "illegal_argument_exception", f"no handler found for uri [{path}] and method [{method}]")
