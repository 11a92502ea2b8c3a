"""Every monday and Snowflake error lands on one stable cause, with its kind and the action to take."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from snowflake.connector import errors as sf_errors

from monday_snowflake.errors import (
    CAUSES,
    ConfigurationError,
    MondaySnowflakeError,
    PermanentError,
    TransientError,
    cause_of,
)
from monday_snowflake.monday.classify import classify_response, classify_transport_error
from monday_snowflake.queue.handlers import classify
from monday_snowflake.retry import RetryPolicy
from monday_snowflake.snowflake.classify import classify_error


def _monday(message: str, code: str | None = None) -> dict[str, Any]:
    extensions = {"code": code} if code else {}
    return {"errors": [{"message": message, "extensions": extensions}]}


def _family(error: MondaySnowflakeError) -> str:
    if isinstance(error, TransientError):
        return "transient"
    if isinstance(error, ConfigurationError):
        return "configuration"
    assert isinstance(error, PermanentError), type(error)
    return "permanent"


MONDAY_CASES: list[tuple[str, int, Any, str]] = [
    ("token rejected", 401, {"error_message": "Not Authenticated"}, "monday_auth"),
    ("plain 401", 401, "", "monday_auth"),
    (
        "no board access",
        403,
        _monday("User unauthorized to perform action", "UserUnauthorizedException"),
        "monday_permission",
    ),
    (
        "missing scope",
        200,
        _monday("Missing required permissions: boards:write", "missingRequiredPermissions"),
        "monday_permission",
    ),
    ("bad column value", 200, _monday("invalid value", "ColumnValueException"), "column_value"),
    ("corrected value", 200, _monday("value corrected", "CorrectedValueException"), "column_value"),
    ("bad json", 200, _monday("Syntax error in JSON", "JsonParseException"), "monday_invalid_request"),
    ("complexity", 429, _monday("Complexity budget exhausted", "COMPLEXITY_BUDGET_EXHAUSTED"), "complexity"),
    (
        "complexity, old shape",
        200,
        {"errors": ["Complexity budget exhausted, query cost 30001"]},
        "complexity",
    ),
    ("rate limit", 429, _monday("Rate limit exceeded", "RATE_LIMIT_EXCEEDED"), "monday_rate_limited"),
    ("board locked", 423, _monday("Board is currently locked"), "board_locked"),
    ("locked in a 200", 200, _monday("Item is currently locked, try again"), "board_locked"),
    ("internal error", 500, "<html>oops</html>", "monday_5xx"),
    ("bad gateway", 502, "", "monday_5xx"),
    ("bad board id", 200, _monday("Invalid board id", "InvalidBoardIdException"), "monday_config"),
    ("deleted board", 200, _monday("not found", "ResourceNotFoundException"), "monday_not_found"),
    (
        "cursor expired",
        200,
        _monday("CursorExpiredError: cursor has expired", "CursorExpiredError"),
        "cursor_expired",
    ),
    ("something new", 200, _monday("The moon is in the wrong phase", "MoonPhaseException"), "unknown"),
]


@pytest.mark.parametrize(
    ("status", "body", "cause"), [c[1:] for c in MONDAY_CASES], ids=[c[0] for c in MONDAY_CASES]
)
def test_monday_errors_map_to_a_cause_of_their_kind(status: int, body: Any, cause: str) -> None:
    error = classify_response(status, body)
    assert error is not None
    assert error.cause == cause
    found = cause_of(error)
    assert found.name == cause
    assert found.kind == _family(error), (cause, type(error).__name__)
    assert found.source in ("monday", "product")


def test_monday_transport_errors_are_network() -> None:
    error = classify_transport_error(httpx.ConnectError("refused"))
    assert cause_of(error).name == "network"
    assert error.details["transport"] == "ConnectError"


def _sf(
    cls: type[sf_errors.Error], msg: str, errno: int | None = None, sqlstate: str | None = None
) -> Exception:
    return cls(msg=msg, errno=errno, sqlstate=sqlstate)


SNOWFLAKE_CASES: list[tuple[str, Exception, str]] = [
    (
        "PAT expired, by number",
        _sf(sf_errors.DatabaseError, "Programmatic access token is expired.", 394401, "08001"),
        "snowflake_token_expired",
    ),
    (
        "PAT expired, by message",
        _sf(sf_errors.DatabaseError, "Failed to connect to DB: x. Programmatic access token is expired."),
        "snowflake_token_expired",
    ),
    (
        "OAuth token expired",
        _sf(sf_errors.DatabaseError, "OAuth access token expired.", 390318, "08001"),
        "snowflake_token_expired",
    ),
    (
        "bad password",
        _sf(sf_errors.DatabaseError, "Incorrect username or password was specified.", 390100, "08001"),
        "snowflake_auth",
    ),
    ("bad JWT", _sf(sf_errors.DatabaseError, "JWT token is invalid.", 390144, "08001"), "snowflake_auth"),
    ("PAT revoked", _sf(sf_errors.DatabaseError, "Programmatic access token is invalid."), "snowflake_auth"),
    (
        "no privilege",
        _sf(sf_errors.ProgrammingError, "Insufficient privileges to operate on schema 'S'", 3001, "42501"),
        "snowflake_privilege",
    ),
    ("privilege by state", _sf(sf_errors.ProgrammingError, "denied", 9999, "42501"), "snowflake_privilege"),
    (
        "missing table",
        _sf(sf_errors.ProgrammingError, "Object 'T' does not exist or not authorized.", 2003, "02000"),
        "snowflake_not_found",
    ),
    (
        "no warehouse",
        _sf(sf_errors.ProgrammingError, "No active warehouse selected in the current session.", 606, "57P03"),
        "snowflake_config",
    ),
    (
        "warehouse suspended",
        _sf(sf_errors.ProgrammingError, "Warehouse 'LOAD_WH' is suspended.", 0, None),
        "warehouse_suspended",
    ),
    (
        "statement timeout",
        _sf(
            sf_errors.ProgrammingError,
            "Statement reached its statement or warehouse timeout of 60 second(s) and was canceled.",
            630,
            "57014",
        ),
        "statement_timeout",
    ),
    (
        "session expired",
        _sf(sf_errors.DatabaseError, "Authentication token has expired.", 390114, "08001"),
        "snowflake_session_expired",
    ),
    (
        "cannot connect",
        _sf(sf_errors.OperationalError, "Could not connect to Snowflake backend", 250001, "08001"),
        "network",
    ),
    ("socket error", ConnectionResetError("reset by peer"), "network"),
    (
        "bad value",
        _sf(sf_errors.ProgrammingError, "Numeric value 'abc' is not recognized", 100038, "22018"),
        "invalid_value",
    ),
    (
        "syntax error",
        _sf(sf_errors.ProgrammingError, "SQL compilation error: syntax error line 1", 1003, "42000"),
        "snowflake_sql",
    ),
    ("anything else", RuntimeError("what"), "unknown"),
]


@pytest.mark.parametrize(
    ("exc", "cause"), [c[1:] for c in SNOWFLAKE_CASES], ids=[c[0] for c in SNOWFLAKE_CASES]
)
def test_snowflake_errors_map_to_a_cause_of_their_kind(exc: Exception, cause: str) -> None:
    error = classify_error(exc)
    assert error.cause == cause
    found = cause_of(error)
    assert found.name == cause
    assert found.kind == _family(error), (cause, type(error).__name__)


def test_expired_tokens_and_revoked_apps_are_account_wide_credential_problems() -> None:
    for name in ("snowflake_token_expired", "snowflake_auth", "monday_auth"):
        cause = CAUSES[name]
        assert cause.kind == "permanent" and cause.credential and cause.account_wide, name
        assert "authenticate" in cause.action.lower()
    assert not CAUSES["snowflake_privilege"].credential
    assert "grant" in CAUSES["snowflake_privilege"].action.lower()
    assert "mapping" in CAUSES["column_value"].action.lower()


def test_every_cause_says_what_to_do_and_account_wide_means_credential() -> None:
    for name, cause in CAUSES.items():
        assert cause.name == name
        assert cause.title and cause.action.endswith("."), name
        assert not cause.account_wide or cause.credential, name
        assert not cause.credential or cause.kind == "permanent", name
        assert cause.disconnects == (cause.credential and name != "credential_expiring"), name


def test_errors_without_a_named_cause_fall_back_on_their_class() -> None:
    assert cause_of(PermanentError("no")).name == "permanent"
    assert cause_of(ConfigurationError("bad recipe")).name == "mapping"
    assert cause_of(TransientError("blip")).name == "unknown"
    assert cause_of(TransientError("blip", cause="not-a-cause")).name == "unknown"
    assert cause_of(KeyError("x")).name == "unknown"


def test_unknown_errors_retry_but_only_up_to_the_attempt_limit() -> None:
    outcome = classify(RuntimeError("a bug or a blip"))
    assert outcome.retry and not outcome.pause_queue
    assert cause_of(RuntimeError("x")).kind == "transient"
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up(n) for n in (1, 2, 3)] == [False, False, True]
    permanent = classify(
        classify_error(_sf(sf_errors.DatabaseError, "Programmatic access token is expired.", 394401))
    )
    assert not permanent.retry and permanent.pause_queue
