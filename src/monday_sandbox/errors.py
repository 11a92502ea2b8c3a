"""Errors the sandbox answers with, shaped like monday.com's (API-FACTS section 4)."""

from __future__ import annotations

from typing import Any


class SandboxError(Exception):
    """An application error: HTTP 200 (unless `http_status` says otherwise) with an `errors[]` entry."""

    def __init__(
        self,
        message: str,
        code: str,
        *,
        error_data: dict[str, Any] | None = None,
        status_code: int = 200,
        http_status: int = 200,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.error_data = error_data if error_data is not None else {}
        self.status_code = status_code
        self.http_status = http_status
        self.extra_extensions = extensions or {}

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code}
        if self.code not in ("CursorExpiredError", "COMPLEXITY_BUDGET_EXHAUSTED"):
            ext["error_data"] = self.error_data
            ext["status_code"] = self.status_code
        ext.update(self.extra_extensions)
        return ext


class RequestRejectedError(Exception):
    """A transport-level answer: a full HTTP response with its own status, body and headers."""

    def __init__(self, http_status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {http_status}")
        self.http_status = http_status
        self.body = body
        self.headers = headers or {}


def invalid_argument(message: str, **error_data: Any) -> SandboxError:
    return SandboxError(message, "InvalidArgumentException", error_data=error_data)


def not_found(message: str, **error_data: Any) -> SandboxError:
    return SandboxError(message, "ResourceNotFoundException", error_data=error_data, status_code=404)


def user_unauthorized(**error_data: Any) -> SandboxError:
    """monday's permission error (API-FACTS §4.1/4.2): `UserUnauthorizedException`, status 403 in
    `extensions` (the HTTP status stays 200, as for the sandbox's other field errors)."""
    return SandboxError(
        "User unauthorized to perform action",
        "UserUnauthorizedException",
        error_data=error_data,
        status_code=403,
    )
