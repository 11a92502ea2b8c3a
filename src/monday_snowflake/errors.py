"""One error tree for the whole product, grouped by what the caller should do about an error.

- `TransientError`: try again later (timeouts, 5xx, rate limits, lock conflicts).
- `PermanentError`: give up and tell a person (bad token, missing permission, invalid data).
- `ConfigurationError`: the recipe or settings are wrong; fix them before running again.

Vendor errors are classified once, at the adapter edge, and kept as `__cause__`.
Exceptions carry data (board id, item id, retry_after) and never a secret.

Each classified error also names its `cause` (see `CAUSES`): a stable name such as
`snowflake_token_expired` or `column_value`, with its kind, a title and the action a person should
take. Alerts, emails and metrics are keyed by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


class MondaySnowflakeError(Exception):
    """Base of every error this product raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        cause = details.pop("cause", None)
        self.cause: str | None = cause if isinstance(cause, str) else None
        """The stable cause name the classifier gave (see `CAUSES`), if any."""
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


# -- causes: what went wrong, in words a person can act on -----------------------------------------

ErrorKind = Literal["transient", "permanent", "configuration"]
ErrorSource = Literal["monday", "snowflake", "product"]


@dataclass(frozen=True)
class Cause:
    """A stable name for why an error happened, and what a person should do about it.

    `credential`: the connection's credential is the problem; saving new credentials fixes it, and
    unless this is only a `warning` (it still works, but not for long) the connection is marked
    disconnected. `account_wide`: every task of the account would fail the same way, so the account's
    queue is paused until it is fixed.
    """

    name: str
    kind: ErrorKind
    source: ErrorSource
    title: str
    action: str
    credential: bool = False
    account_wide: bool = False
    warning: bool = False

    @property
    def disconnects(self) -> bool:
        """The credential no longer works: its connection is marked disconnected."""
        return self.credential and not self.warning


def _cause(name: str, kind: ErrorKind, source: ErrorSource, title: str, action: str, **flags: bool) -> Cause:
    return Cause(name, kind, source, title, action, **flags)


CAUSES: dict[str, Cause] = {
    c.name: c
    for c in (
        # Snowflake
        _cause("snowflake_token_expired", "permanent", "snowflake", "The Snowflake access token has expired",
               "Re-authenticate: create a new programmatic access token (or OAuth token) in Snowflake and "
               "save it on the Snowflake connection.", credential=True, account_wide=True),
        _cause("snowflake_auth", "permanent", "snowflake", "Snowflake refused the credentials",
               "Re-authenticate: check the user, password, key pair or token of the Snowflake connection and "
               "save working credentials.", credential=True, account_wide=True),
        _cause("snowflake_privilege", "permanent", "snowflake", "The Snowflake role lacks a privilege",
               "Grant the connection's role the privilege named in the error (e.g. USAGE on the database and "
               "schema, CREATE TABLE on the schema, INSERT/UPDATE/DELETE on the table).", credential=False),
        _cause("snowflake_not_found", "permanent", "snowflake", "A Snowflake object does not exist",
               "Create the database, schema or table named in the error, or grant the role access to it."),
        _cause("snowflake_config", "configuration", "snowflake", "The Snowflake settings are incomplete",
               "Fix the Snowflake connection settings named in the error (account, user, warehouse, key)."),
        _cause("snowflake_sql", "permanent", "snowflake", "Snowflake rejected a statement",
               "Check the integration's mapping and target table; the error names the statement's problem."),
        _cause("warehouse_suspended", "transient", "snowflake", "The Snowflake warehouse is suspended",
               "None needed: the warehouse resumes; if it does not, resume it or enable AUTO_RESUME."),
        _cause("statement_timeout", "transient", "snowflake", "A Snowflake statement timed out",
               "None needed if it passes on retry; otherwise raise STATEMENT_TIMEOUT_IN_SECONDS or use a "
               "larger warehouse."),
        _cause("snowflake_session_expired", "transient", "snowflake", "The Snowflake session expired",
               "None needed: a new session is opened."),
        _cause("snowflake_rate_limited", "transient", "snowflake", "Snowflake asked us to slow down",
               "None needed: requests are retried later."),
        _cause("snowflake_unavailable", "transient", "snowflake", "Snowflake answered with a server error",
               "None needed: retried with backoff."),
        _cause("network", "transient", "product", "The network failed",
               "None needed: retried with backoff; check connectivity if it persists."),
        _cause("invalid_value", "permanent", "snowflake", "Snowflake rejected a value",
               "Fix the mapping or the value named in the error."),
        # monday
        _cause("monday_auth", "permanent", "monday", "monday.com refused the token",
               "Re-authenticate: reinstall the app or save a new monday token on the monday connection.",
               credential=True, account_wide=True),
        _cause("monday_permission", "permanent", "monday", "The monday user lacks a permission",
               "Give the connected monday user access to the board (or the scopes named in the error), or "
               "connect a user who has it."),
        _cause("monday_config", "configuration", "monday", "The monday settings or board are wrong",
               "Fix the integration's board id or the API version setting named in the error."),
        _cause("monday_not_found", "permanent", "monday", "A monday board or item does not exist",
               "Check the integration's board; it may have been deleted or archived."),
        _cause("column_value", "permanent", "monday", "monday rejected a column value",
               "Fix the mapping: the column named in the error does not accept the value sent."),
        _cause("monday_invalid_request", "permanent", "monday", "monday rejected a request",
               "Fix the mapping or value named in the error."),
        _cause("cursor_expired", "transient", "monday", "A monday page cursor expired",
               "None needed: paging restarts."),
        _cause("complexity", "transient", "monday", "The monday complexity budget is used up",
               "None needed: the sync waits for the budget to refill."),
        _cause("monday_rate_limited", "transient", "monday", "monday's rate limit was reached",
               "None needed: the sync waits and retries."),
        _cause("board_locked", "transient", "monday", "The monday board is locked",
               "None needed: retried once the lock is released."),
        _cause("monday_5xx", "transient", "monday", "monday.com answered with a server error",
               "None needed: retried with backoff."),
        # the product
        _cause("credential_expiring", "permanent", "product", "A credential expires soon",
               "Create a new token before it expires and save it on the connection.", credential=True,
               warning=True),
        _cause("mapping", "configuration", "product", "The integration's recipe is wrong",
               "Fix the mapping or settings named in the error and save the integration."),
        _cause("permanent", "permanent", "product", "A sync failed for good",
               "Read the error; fix what it names, then resolve the alert to retry."),
        _cause("unknown", "transient", "product", "An unexpected error",
               "None needed if it passes on retry; otherwise report it with the correlation id."),
    )
}  # fmt: skip


def cause_of(error: BaseException) -> Cause:
    """The cause an error carries (set by the classifiers), else one read from its class."""
    if isinstance(error, MondaySnowflakeError):
        if error.cause in CAUSES:
            return CAUSES[error.cause]
        if isinstance(error, TransientError):
            return CAUSES["unknown"]
        if isinstance(error, ConfigurationError):
            return CAUSES["mapping"]
        if isinstance(error, PermanentError):
            return CAUSES["permanent"]
    if isinstance(error, OSError | TimeoutError):
        return CAUSES["network"]
    return CAUSES["unknown"]
