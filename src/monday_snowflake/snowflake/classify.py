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

ERRNO_CLASSES: dict[int, type[MondaySnowflakeError]] = {
    # authentication
    390100: AuthenticationError,  # incorrect username or password
    390144: AuthenticationError,  # JWT token is invalid
    390303: AuthenticationError,  # invalid OAuth access token
    390318: AuthenticationError,  # OAuth access token expired
    251010: AuthenticationError,  # JWT retry expired
    # session tokens expire during long runs; a new connection fixes it
    390104: TransientError,  # user must login again
    390114: TransientError,  # authentication token has expired
    # connector-side configuration
    251001: ConfigurationError,  # no account name
    251005: ConfigurationError,  # no user
    251006: ConfigurationError,  # no password
    251007: ConfigurationError,  # invalid value
    251008: ConfigurationError,  # invalid private key
    251009: ConfigurationError,  # no host name found
    # permissions and missing objects
    3001: PermissionDeniedError,  # insufficient privileges
    2003: NotFoundError,  # object does not exist or not authorized
    2043: NotFoundError,  # object does not exist
    # warehouse
    606: ConfigurationError,  # no active warehouse selected in the current session
    # cancelled / timed out statements
    604: TransientError,  # statement canceled
    630: TransientError,  # statement reached its statement or warehouse timeout
    # network
    250001: TransientError,  # could not connect to Snowflake backend
    250002: TransientError,  # connection is closed
    250003: TransientError,  # failed to get the response
    250005: TransientError,  # failed to reach the server
    251011: TransientError,  # connection timeout
    251012: TransientError,  # retryable code
    253003: TransientError,  # failed to upload to stage
}

# Checked in order, case-insensitively, when the number is not in the table.
MESSAGE_CLASSES: tuple[tuple[re.Pattern[str], type[MondaySnowflakeError]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), cls)
    for pattern, cls in (
        (r"programmatic access token is (expired|invalid|disabled)", AuthenticationError),
        (r"incorrect username or password", AuthenticationError),
        (r"jwt token is invalid", AuthenticationError),
        (r"oauth access token (is )?(expired|invalid)", AuthenticationError),
        (r"insufficient privileges", PermissionDeniedError),
        (r"does not exist or not authorized", NotFoundError),
        (r"no active warehouse", ConfigurationError),
        (r"timeout|timed out|could not connect", TransientError),
    )
)

# The SQLSTATE class (first two characters) decides when nothing more specific matched.
SQLSTATE_CLASSES: dict[str, type[MondaySnowflakeError]] = {
    "08": TransientError,  # connection exception
    "22": InvalidDataError,  # data exception: a value could not be converted or stored
    "23": InvalidDataError,  # integrity constraint violation
    "28": AuthenticationError,  # invalid authorization specification
    "42": PermanentError,  # syntax error or access rule violation (SQL compilation error)
    "57": TransientError,  # operator intervention (e.g. query cancelled)
}
SQLSTATE_EXACT: dict[str, type[MondaySnowflakeError]] = {
    "42501": PermissionDeniedError,
    "42S02": NotFoundError,
}

_HTTP_CLASSES: tuple[tuple[type[BaseException], type[MondaySnowflakeError]], ...] = (
    (sf_errors.TooManyRequests, RateLimitedError),
    (sf_errors.ForbiddenError, PermissionDeniedError),
    (sf_errors.BadRequest, PermanentError),
    (sf_errors.InternalServerError, TransientError),
    (sf_errors.ServiceUnavailableError, TransientError),
    (sf_errors.GatewayTimeoutError, TransientError),
    (sf_errors.BadGatewayError, TransientError),
    (sf_errors.RequestTimeoutError, TransientError),
    (sf_errors.OtherHTTPRetryableError, TransientError),
    (sf_errors.RequestExceedMaxRetryError, TransientError),
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
    cls = _class_for(exc, errno, sqlstate, message)
    text = f"Snowflake: {message}" if message else f"Snowflake: {type(exc).__name__}"
    return cls(text, errno=errno, sqlstate=sqlstate)


def _class_for(
    exc: BaseException, errno: int | None, sqlstate: str | None, message: str
) -> type[MondaySnowflakeError]:
    if errno is not None and errno in ERRNO_CLASSES:
        return ERRNO_CLASSES[errno]
    for pattern, cls in MESSAGE_CLASSES:
        if pattern.search(message):
            return cls
    if sqlstate:
        if sqlstate in SQLSTATE_EXACT:
            return SQLSTATE_EXACT[sqlstate]
        if sqlstate[:2] in SQLSTATE_CLASSES:
            return SQLSTATE_CLASSES[sqlstate[:2]]
    if errno is not None and 100000 <= errno < 200000:
        return InvalidDataError  # 100xxx: a staged or bound value was rejected
    for exc_type, cls in _HTTP_CLASSES:
        if isinstance(exc, exc_type):
            return cls
    if isinstance(exc, sf_errors.ProgrammingError) and errno is not None:
        return PermanentError
    return TransientError  # OperationalError, OSError, requests errors and anything unknown


def _message(exc: BaseException) -> str:
    raw = getattr(exc, "raw_msg", None) or getattr(exc, "msg", None) or str(exc)
    text = " ".join(str(raw).split())
    return text[:_MAX_MESSAGE_CHARS]
