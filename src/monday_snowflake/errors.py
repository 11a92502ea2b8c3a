"""One error tree for the whole product, grouped by what the caller should do about an error.

- `TransientError`: try again later (timeouts, 5xx, rate limits, lock conflicts).
- `PermanentError`: give up and tell a person (bad token, missing permission, invalid data).
- `ConfigurationError`: the recipe or settings are wrong; fix them before running again.

Vendor errors are classified once, at the adapter edge, and kept as `__cause__`.
Exceptions carry data (board id, item id, retry_after) and never a secret.
"""

from __future__ import annotations

from typing import Any


class MondaySnowflakeError(Exception):
    """Base of every error this product raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class TransientError(MondaySnowflakeError):
    """Worth retrying after a while."""


class RateLimitedError(TransientError):
    """The other side asked us to wait `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class CursorExpiredError(TransientError):
    """A monday pagination cursor outlived its 60 minutes; paging must restart."""


class PermanentError(MondaySnowflakeError):
    """Retrying will not help; a person must act."""


class AuthenticationError(PermanentError):
    """The credential was rejected (bad, expired or revoked token)."""


class PermissionDeniedError(PermanentError):
    """The credential is valid but lacks a permission or scope."""


class InvalidDataError(PermanentError):
    """The other side rejected a value we sent."""


class NotFoundError(PermanentError):
    """A board, item, integration or connection that should exist does not."""


class ConfigurationError(MondaySnowflakeError):
    """Settings or the integration recipe are wrong."""


class AlreadyRunningError(MondaySnowflakeError):
    """Another run of the same integration holds its lock."""

    def __init__(self, integration_id: str, **details: Any) -> None:
        super().__init__(
            f"integration {integration_id} is already running", integration_id=integration_id, **details
        )
        self.integration_id = integration_id
