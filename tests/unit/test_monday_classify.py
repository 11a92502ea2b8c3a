"""Every monday error shape from API-FACTS sections 3.4 and 4 lands on the right branch of the error tree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from monday_snowflake.errors import (
    AuthenticationError,
    ConfigurationError,
    CursorExpiredError,
    InvalidDataError,
    MondaySnowflakeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
)
from monday_snowflake.monday.classify import classify_response, classify_transport_error


def _err(message: str, code: str | None = None, **extensions: Any) -> dict[str, Any]:
    ext = dict(extensions)
    if code is not None:
        ext["code"] = code
    return {"errors": [{"message": message, "extensions": ext}]}


# (name, HTTP status, body, headers, expected class, expected retry_after or None)
CASES: list[tuple[str, int, Any, dict[str, str], type[MondaySnowflakeError], float | None]] = [
    # §3.4 throttling
    (
        "complexity 2025-07+, 429 + Retry-After",
        429,
        _err("Complexity budget exhausted", "COMPLEXITY_BUDGET_EXHAUSTED", retry_in_seconds=60),
        {"Retry-After": "60"},
        RateLimitedError,
        60.0,
    ),
    (
        "complexity 2025-07+, arriving with HTTP 200 (Airbyte fixture)",
        200,
        _err("Complexity budget exhausted", "COMPLEXITY_BUDGET_EXHAUSTED", retry_in_seconds=42),
        {},
        RateLimitedError,
        42.0,
    ),
    (
        "complexity 2025-01..04 hotfix shape",
        200,
        _err(
            "Complexity budget exhausted",
            "COMPLEXITY_BUDGET_EXHAUSTED",
            retry_in_seconds=17,
            complexity=30001,
            complexity_budget_left=19986,
            complexity_budget_limit=1000000,
            status_code=429,
        ),
        {},
        RateLimitedError,
        17.0,
    ),
    (
        "complexity legacy top-level ComplexityException, 'reset in N seconds' text",
        200,
        {
            "error_code": "ComplexityException",
            "status_code": 429,
            "error_message": "Complexity budget exhausted, query cost 30001 budget remaining 19986 out of "
            "1000000 reset in 3 seconds",
            "error_data": {},
            "errors": ["Complexity budget exhausted, query cost 30001 budget remaining 19986 out of 1000000"],
            "account_id": 123,
        },
        {},
        RateLimitedError,
        3.0,
    ),
    (
        "complexity camelCase (JS SDK helper)",
        200,
        _err("budget exhausted", "complexityBudgetExhausted"),
        {},
        RateLimitedError,
        None,
    ),
    (
        "complexity code in lower case",
        200,
        _err("x", "complexity_budget_exhausted", retry_in_seconds=5),
        {},
        RateLimitedError,
        5.0,
    ),
    (
        "rateLimitExceeded camelCase",
        429,
        _err("Rate limit", "rateLimitExceeded", retry_in_seconds=9),
        {},
        RateLimitedError,
        9.0,
    ),
    (
        "concurrency maxConcurrencyExceeded",
        429,
        _err("Concurrency limit exceeded", "maxConcurrencyExceeded"),
        {"Retry-After": "2"},
        RateLimitedError,
        2.0,
    ),
    (
        "FIELD_LIMIT_EXCEEDED legacy with error_data.retry_in_seconds",
        429,
        {
            "error_message": "Concurrency limit exceeded for the field",
            "error_code": "FIELD_LIMIT_EXCEEDED",
            "error_data": {"retry_in_seconds": 15, "entity": "boards"},
            "status_code": 429,
        },
        {},
        RateLimitedError,
        15.0,
    ),
    (
        "DAILY_LIMIT_EXCEEDED",
        429,
        _err("Daily limit exceeded", "DAILY_LIMIT_EXCEEDED", retry_in_seconds=3600),
        {},
        RateLimitedError,
        3600.0,
    ),
    (
        "Minute limit rate exceeded (message only)",
        429,
        {"errors": [{"message": "Minute limit rate exceeded"}]},
        {},
        RateLimitedError,
        None,
    ),
    (
        "Minute limit text with HTTP 200",
        200,
        {"errors": [{"message": "Minute limit rate exceeded", "extensions": {"retry_in_seconds": 30}}]},
        {},
        RateLimitedError,
        30.0,
    ),
    (
        "IP_RATE_LIMIT_EXCEEDED",
        429,
        _err("IP rate limit exceeded", "IP_RATE_LIMIT_EXCEEDED", retry_in_seconds=10),
        {},
        RateLimitedError,
        10.0,
    ),
    (
        "Rate Limit Exceeded text",
        200,
        {"errors": [{"message": "Rate Limit Exceeded"}]},
        {},
        RateLimitedError,
        None,
    ),
    ("bare 429 with Retry-After, no body", 429, None, {"Retry-After": "7"}, RateLimitedError, 7.0),
    (
        "endpoint limit 'Call limit exceeded for CreateBoard'",
        429,
        {"errors": [{"message": "Call limit exceeded for CreateBoard"}]},
        {},
        RateLimitedError,
        None,
    ),
    # §4 transient
    (
        "API_TEMPORARILY_BLOCKED",
        200,
        _err("API usage temporarily blocked", "API_TEMPORARILY_BLOCKED"),
        {},
        TransientError,
        None,
    ),
    (
        "423 board locked",
        423,
        {"errors": [{"message": "Resource is currently locked, please try again later"}]},
        {},
        TransientError,
        None,
    ),
    (
        "409 IDEMPOTENCY_CONFLICT",
        409,
        _err("conflict", "IDEMPOTENCY_CONFLICT"),
        {"Retry-After": "1"},
        TransientError,
        1.0,
    ),
    (
        "pre-2024 internal server error",
        500,
        {"error_message": "Internal server error", "status_code": 500},
        {},
        TransientError,
        None,
    ),
    (
        "pre-2024 internal server error with HTTP 200",
        200,
        {"error_message": "Internal server error", "status_code": 500},
        {},
        TransientError,
        None,
    ),
    (
        "500 Internal Server Error",
        500,
        {"errors": [{"message": "Internal Server Error"}]},
        {},
        TransientError,
        None,
    ),
    ("502 from a proxy, HTML body", 502, None, {}, TransientError, None),
    ("503 empty errors", 503, {"errors": []}, {}, TransientError, None),
    # §4 authentication
    ("401 Unauthorized", 401, {"errors": [{"message": "Unauthorized"}]}, {}, AuthenticationError, None),
    ("401 with no body", 401, None, {}, AuthenticationError, None),
    (
        "Not Authenticated text",
        200,
        {"errors": [{"message": "Not Authenticated"}]},
        {},
        AuthenticationError,
        None,
    ),
    (
        "401 ip restricted",
        401,
        {"errors": [{"message": "Your ip is restricted"}]},
        {},
        AuthenticationError,
        None,
    ),
    # §4 permission
    (
        "2025-01+ unified UserUnauthorizedException",
        200,
        {
            "data": {"me": None},
            "errors": [
                {
                    "message": "User unauthorized to perform action",
                    "locations": [{"line": 2, "column": 3}],
                    "path": ["me"],
                    "extensions": {"code": "UserUnauthorizedException", "error_data": {}, "status_code": 403},
                }
            ],
        },
        {},
        PermissionDeniedError,
        None,
    ),
    (
        "Airbyte 403.json",
        403,
        {"error_code": "UserUnauthorizedException", "status_code": 403},
        {},
        PermissionDeniedError,
        None,
    ),
    (
        "pre-2024-01 misspelling UserUnauthroizedException",
        200,
        {"error_code": "UserUnauthroizedException", "error_message": "User unauthorized", "status_code": 403},
        {},
        PermissionDeniedError,
        None,
    ),
    ("USER_ACCESS_DENIED", 403, _err("Access denied", "USER_ACCESS_DENIED"), {}, PermissionDeniedError, None),
    (
        "missingRequiredPermissions",
        200,
        _err("Missing scope boards:read", "missingRequiredPermissions"),
        {},
        PermissionDeniedError,
        None,
    ),
    (
        "2024-10 errors[] plus duplicated top-level fields",
        200,
        {
            "errors": [
                {
                    "message": "User unauthorized to perform action",
                    "extensions": {"code": "UserUnauthorizedException"},
                }
            ],
            "error_message": "User unauthorized to perform action",
            "error_code": "UserUnauthorizedException",
            "error_data": {},
            "status_code": 403,
            "account_id": 1,
        },
        {},
        PermissionDeniedError,
        None,
    ),
    # §4 invalid data
    (
        "ColumnValueException",
        200,
        _err(
            "invalid value - label does not exist in column",
            "ColumnValueException",
            error_data={"column_type": "status"},
            status_code=200,
        ),
        {},
        InvalidDataError,
        None,
    ),
    (
        "CorrectedValueException",
        200,
        _err("wrong type", "CorrectedValueException"),
        {},
        InvalidDataError,
        None,
    ),
    (
        "JsonParseException legacy, 400",
        400,
        {
            "error_message": "Syntax error in JSON input",
            "error_code": "JsonParseException",
            "error_data": {"json": "{"},
            "status_code": 400,
        },
        {},
        InvalidDataError,
        None,
    ),
    (
        "ItemNameTooLongException",
        200,
        _err("too long", "ItemNameTooLongException"),
        {},
        InvalidDataError,
        None,
    ),
    (
        "InvalidColumnIdException",
        200,
        _err("bad column", "InvalidColumnIdException"),
        {},
        InvalidDataError,
        None,
    ),
    (
        "InvalidArgumentException",
        200,
        _err("bad arg", "InvalidArgumentException"),
        {},
        InvalidDataError,
        None,
    ),
    (
        "RecordInvalidException 422",
        422,
        _err("too many subscribers", "RecordInvalidException"),
        {},
        InvalidDataError,
        None,
    ),
    (
        "ItemsLimitationException",
        200,
        _err("limit of 10,000 items", "ItemsLimitationException"),
        {},
        InvalidDataError,
        None,
    ),
    (
        "Parse error on ...",
        200,
        {
            "errors": [
                {"message": 'Parse error on "}" (RCURLY) at [1, 5]', "locations": [{"line": 1, "column": 5}]}
            ]
        },
        {},
        InvalidDataError,
        None,
    ),
    (
        "GraphQL validation error (locations, no path, no code)",
        200,
        {
            "errors": [
                {
                    "message": "Argument 'foo' on Field 'boards' has an invalid value",
                    "locations": [{"line": 1}],
                }
            ]
        },
        {},
        InvalidDataError,
        None,
    ),
    ("400 Bad request", 400, {"errors": [{"message": "Bad request"}]}, {}, InvalidDataError, None),
    # configuration (our choice: the settings or recipe must change)
    (
        "InvalidBoardIdException",
        200,
        _err("bad board", "InvalidBoardIdException"),
        {},
        ConfigurationError,
        None,
    ),
    (
        "InvalidVersionException",
        200,
        _err("bad version", "InvalidVersionException"),
        {},
        ConfigurationError,
        None,
    ),
    (
        "undefinedField",
        200,
        {
            "errors": [
                {
                    "message": "Field 'foo' doesn't exist on type 'Board'",
                    "locations": [{"line": 1, "column": 9}],
                    "extensions": {"code": "undefinedField", "typeName": "Board", "fieldName": "foo"},
                }
            ]
        },
        {},
        ConfigurationError,
        None,
    ),
    # not found
    (
        "ResourceNotFoundException 200",
        200,
        _err("column deleted", "ResourceNotFoundException"),
        {},
        NotFoundError,
        None,
    ),
    (
        "ResourceNotFoundException 404",
        404,
        _err("user not found", "ResourceNotFoundException"),
        {},
        NotFoundError,
        None,
    ),
    # cursor
    (
        "CursorExpiredError code",
        200,
        _err("The cursor has expired", "CursorExpiredError"),
        {},
        CursorExpiredError,
        None,
    ),
    (
        "cursor expired, text only",
        200,
        {"errors": [{"message": "Your cursor has expired, please start over"}]},
        {},
        CursorExpiredError,
        None,
    ),
    # unknown
    ("unknown code", 200, _err("something new", "SOMETHING_NEW"), {}, TransientError, None),
    (
        "field-level ASSET_UNAVAILABLE",
        200,
        {
            "data": {"assets": None},
            "errors": [{"message": "x", "path": ["assets"], "extensions": {"code": "ASSET_UNAVAILABLE"}}],
        },
        {},
        TransientError,
        None,
    ),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "retry_after"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_every_documented_error_shape_is_classified(
    status: int,
    body: Any,
    headers: dict[str, str],
    expected: type[MondaySnowflakeError],
    retry_after: float | None,
) -> None:
    error = classify_response(status, body, headers)
    assert error is not None
    assert type(error) is expected, str(error)
    if isinstance(error, RateLimitedError):
        assert error.retry_after == retry_after
    else:
        assert error.details.get("retry_after") == retry_after
    assert error.details["status"] == status


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"boards": []}},
        {"data": {"boards": []}, "extensions": {"request_id": "abc"}},
        {"data": {"me": {"id": "1"}}, "account_id": 5},
    ],
)
def test_successful_responses_are_not_errors(body: dict[str, Any]) -> None:
    assert classify_response(200, body, {}) is None


def test_permanent_error_wins_over_transient_in_the_same_response() -> None:
    body = {
        "errors": [
            {"message": "Rate Limit Exceeded", "extensions": {"code": "rateLimitExceeded"}},
            {
                "message": "User unauthorized to perform action",
                "extensions": {"code": "UserUnauthorizedException"},
            },
        ]
    }
    assert type(classify_response(200, body, {})) is PermissionDeniedError


def test_code_beats_http_status() -> None:
    # A 429 that says it is a lock conflict is still a rate limit by status only if nothing better is known.
    assert type(classify_response(429, _err("x", "USER_ACCESS_DENIED"), {})) is PermissionDeniedError


@pytest.mark.parametrize(
    ("body", "headers", "request_id"),
    [
        (
            {**_err("x", "SOMETHING"), "extensions": {"request_id": "root-1"}},
            {"x-request-id": "hdr"},
            "root-1",
        ),
        (_err("x", "SOMETHING", request_id="err-2"), {"x-request-id": "hdr"}, "err-2"),
        (_err("x", "SOMETHING"), {"X-Request-Id": "hdr-3"}, "hdr-3"),
    ],
)
def test_request_id_is_kept_from_body_or_header(body: Any, headers: dict[str, str], request_id: str) -> None:
    error = classify_response(200, body, headers)
    assert error is not None
    assert error.details["request_id"] == request_id
    assert error.details["code"] == "SOMETHING"


def test_request_id_from_httpx_headers() -> None:
    error = classify_response(500, None, httpx.Headers({"X-Request-Id": "r-9"}))
    assert error is not None and error.details["request_id"] == "r-9"


def test_retry_after_http_date_is_understood() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    error = classify_response(429, None, {"Retry-After": format_datetime(when, usegmt=True)})
    assert isinstance(error, RateLimitedError)
    assert error.retry_after is not None and 100 < error.retry_after <= 121


def test_secrets_are_redacted_from_message_and_details() -> None:
    token = "eyJsecret-token-value"
    error = classify_response(200, _err(f"bad token {token}", "SOMETHING"), {}, secrets=[token])
    assert error is not None
    assert token not in str(error)
    assert token not in repr(error.details)


def test_transport_errors_are_transient() -> None:
    error = classify_transport_error(httpx.ReadTimeout("slow"))
    assert type(error) is TransientError
    assert "timed out" in str(error)
    assert "unreachable" in str(classify_transport_error(httpx.ConnectError("refused")))
