"""Classify snowflake-connector errors into the product's error tree, from one table (dlt-style).

Order of evidence: the Snowflake error number, then the SQLSTATE class, then the message, then the
exception type. What we cannot recognise is treated as transient: a retry is cheap, a wrong give-up is not.

Choices worth knowing:
- 000606 "No active warehouse selected" is a ConfigurationError: the settings name no warehouse (or the
  role has no default one); retrying cannot fix it. A warehouse that is merely suspended resumes itself.
- 002003 "does not exist or not authorized" is a NotFoundError: Snowflake deliberately does not say which.
"""

from __future__ import annotations

import re

from snowflake.connector import errors as sf_errors

from monday_snowflake.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidDataError,
    MondaySnowflakeError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
)

_MAX_MESSAGE_CHARS = 500

_Rule = tuple[type[MondaySnowflakeError], str]
"""The error class and the stable cause name (see `errors.CAUSES`)."""

_EXPIRED = (AuthenticationError, "snowflake_token_expired")
_AUTH = (AuthenticationError, "snowflake_auth")
_CONFIG = (ConfigurationError, "snowflake_config")
_NETWORK = (TransientError, "network")

ERRNO_CLASSES: dict[int, _Rule] = {
    # authentication
    390100: _AUTH,  # incorrect username or password
    390144: _AUTH,  # JWT token is invalid
    390303: _AUTH,  # invalid OAuth access token
    390318: _EXPIRED,  # OAuth access token expired
    394400: _AUTH,  # programmatic access token is invalid
    394401: _EXPIRED,  # programmatic access token is expired
    251010: _AUTH,  # JWT retry expired
    # session tokens expire during long runs; a new connection fixes it
    390104: (TransientError, "snowflake_session_expired"),  # user must login again
    390114: (TransientError, "snowflake_session_expired"),  # authentication token has expired
    # connector-side configuration
    251001: _CONFIG,  # no account name
    251005: _CONFIG,  # no user
    251006: _CONFIG,  # no password
    251007: _CONFIG,  # invalid value
    251008: _CONFIG,  # invalid private key
    251009: _CONFIG,  # no host name found
    # permissions and missing objects
    3001: (PermissionDeniedError, "snowflake_privilege"),  # insufficient privileges
    2003: (NotFoundError, "snowflake_not_found"),  # object does not exist or not authorized
    2043: (NotFoundError, "snowflake_not_found"),  # object does not exist
    # warehouse
    606: _CONFIG,  # no active warehouse selected in the current session
    # cancelled / timed out statements
    604: (TransientError, "statement_timeout"),  # statement canceled
    630: (TransientError, "statement_timeout"),  # statement reached its statement or warehouse timeout
    # network
    250001: _NETWORK,  # could not connect to Snowflake backend
    250002: _NETWORK,  # connection is closed
    250003: _NETWORK,  # failed to get the response
    250005: _NETWORK,  # failed to reach the server
    251011: _NETWORK,  # connection timeout
    251012: _NETWORK,  # retryable code
    253003: _NETWORK,  # failed to upload to stage
}

# Checked in order, case-insensitively, when the number is not in the table.
MESSAGE_CLASSES: tuple[tuple[re.Pattern[str], _Rule], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), rule)
    for pattern, rule in (
        (r"programmatic access token is expired", _EXPIRED),
        (r"programmatic access token is (invalid|disabled)", _AUTH),
        (r"incorrect username or password", _AUTH),
        (r"jwt token is invalid", _AUTH),
        (r"oauth access token (is )?expired", _EXPIRED),
        (r"oauth access token (is )?invalid", _AUTH),
        (r"insufficient privileges", (PermissionDeniedError, "snowflake_privilege")),
        (r"does not exist or not authorized", (NotFoundError, "snowflake_not_found")),
        (r"no active warehouse", _CONFIG),
        (r"warehouse .*(is )?suspended", (TransientError, "warehouse_suspended")),
        (r"statement .*(timeout|timed out)|reached its statement", (TransientError, "statement_timeout")),
        (r"timeout|timed out|could not connect", _NETWORK),
    )
)

# The SQLSTATE class (first two characters) decides when nothing more specific matched.
SQLSTATE_CLASSES: dict[str, _Rule] = {
    "08": _NETWORK,  # connection exception
    "22": (InvalidDataError, "invalid_value"),  # data exception: a value could not be converted or stored
    "23": (InvalidDataError, "invalid_value"),  # integrity constraint violation
    "28": _AUTH,  # invalid authorization specification
    "42": (PermanentError, "snowflake_sql"),  # syntax error or access rule violation (SQL compilation error)
    "57": (TransientError, "statement_timeout"),  # operator intervention (e.g. query cancelled)
}
SQLSTATE_EXACT: dict[str, _Rule] = {
    "42501": (PermissionDeniedError, "snowflake_privilege"),
    "42S02": (NotFoundError, "snowflake_not_found"),
}

_HTTP_CLASSES: tuple[tuple[type[BaseException], _Rule], ...] = (
    (sf_errors.TooManyRequests, (RateLimitedError, "snowflake_rate_limited")),
    (sf_errors.ForbiddenError, (PermissionDeniedError, "snowflake_privilege")),
    (sf_errors.BadRequest, (PermanentError, "snowflake_sql")),
    (sf_errors.InternalServerError, (TransientError, "snowflake_unavailable")),
    (sf_errors.ServiceUnavailableError, (TransientError, "snowflake_unavailable")),
    (sf_errors.GatewayTimeoutError, (TransientError, "snowflake_unavailable")),
    (sf_errors.BadGatewayError, (TransientError, "snowflake_unavailable")),
    (sf_errors.RequestTimeoutError, _NETWORK),
    (sf_errors.OtherHTTPRetryableError, (TransientError, "snowflake_unavailable")),
    (sf_errors.RequestExceedMaxRetryError, _NETWORK),
)


def classify_error(exc: BaseException) -> MondaySnowflakeError:
    """The product error for a connector (or network) error. Raise it `from exc` to keep the cause."""
    if isinstance(exc, MondaySnowflakeError):
        return exc
    raw_errno = getattr(exc, "errno", None)
    errno = raw_errno if isinstance(raw_errno, int) and raw_errno > 0 else None
    raw_sqlstate = getattr(exc, "sqlstate", None)
    sqlstate = raw_sqlstate if isinstance(raw_sqlstate, str) and raw_sqlstate != "n/a" else None
    message = _message(exc)
    cls, cause = _class_for(exc, errno, sqlstate, message)
    text = f"Snowflake: {message}" if message else f"Snowflake: {type(exc).__name__}"
    return cls(text, errno=errno, sqlstate=sqlstate, cause=cause)


def _class_for(exc: BaseException, errno: int | None, sqlstate: str | None, message: str) -> _Rule:
    if errno is not None and errno in ERRNO_CLASSES:
        return ERRNO_CLASSES[errno]
    for pattern, rule in MESSAGE_CLASSES:
        if pattern.search(message):
            return rule
    if sqlstate:
        if sqlstate in SQLSTATE_EXACT:
            return SQLSTATE_EXACT[sqlstate]
        if sqlstate[:2] in SQLSTATE_CLASSES:
            return SQLSTATE_CLASSES[sqlstate[:2]]
    if errno is not None and 100000 <= errno < 200000:
        return InvalidDataError, "invalid_value"  # 100xxx: a staged or bound value was rejected
    for exc_type, rule in _HTTP_CLASSES:
        if isinstance(exc, exc_type):
            return rule
    if isinstance(exc, sf_errors.ProgrammingError) and errno is not None:
        return PermanentError, "snowflake_sql"
    if isinstance(exc, OSError):
        return _NETWORK
    return TransientError, "unknown"  # OperationalError, requests errors and anything unknown


def _message(exc: BaseException) -> str:
    raw = getattr(exc, "raw_msg", None) or getattr(exc, "msg", None) or str(exc)
    text = " ".join(str(raw).split())
    return text[:_MAX_MESSAGE_CHARS]
