"""Turn every monday.com error shape (API-FACTS sections 3.4, 4) into one error of our tree, from one table.

A response is an error when its HTTP status is not 2xx, when it carries an `errors` array (even with
HTTP 200 and partial `data`), or when it has a legacy top-level `error_code` / `error_message`.
Each error entry is matched by its code first (case-insensitive), then its message text, then its
HTTP status (the body's `status_code` when HTTP said 200). With several entries, the one whose rule
comes first in `RULES` wins, so a permanent problem is never hidden behind a retryable one.
Anything unrecognised is a `TransientError`: retried, but only up to the policy's attempts.

Configuration, not invalid data: `InvalidBoardIdException` (the recipe names a bad board),
`InvalidVersionException` (a malformed API-Version setting) and `undefinedField` (the configured API
version lacks a field we ask for). These need a settings change, not a data fix.
GraphQL parse and validation errors (no code, `locations` but no `path`) are `InvalidDataError`.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

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


@dataclass(frozen=True)
class ErrorRule:
    """Which codes, message patterns and HTTP statuses mean `error`. Codes are compared lower-cased."""

    error: type[MondaySnowflakeError]
    codes: frozenset[str] = frozenset()
    messages: tuple[re.Pattern[str], ...] = ()
    statuses: frozenset[int] = frozenset()
    cause: str = "unknown"
    """The stable cause name (see `errors.CAUSES`) an error matched by this rule carries."""


def _rule(
    error: type[MondaySnowflakeError],
    codes: Iterable[str] = (),
    messages: Iterable[str] = (),
    statuses: Iterable[int] = (),
    *,
    cause: str,
) -> ErrorRule:
    return ErrorRule(
        error,
        frozenset(c.lower() for c in codes),
        tuple(re.compile(m, re.IGNORECASE) for m in messages),
        frozenset(statuses),
        cause,
    )


# Ordered by precedence when a response carries several errors: permanent before transient.
RULES: tuple[ErrorRule, ...] = (
    _rule(
        AuthenticationError,
        codes=["Unauthorized", "NotAuthenticated", "Not Authenticated"],
        messages=[r"^\s*unauthorized\s*$", r"not authenticated", r"your ip is restricted"],
        statuses=[401],
        cause="monday_auth",
    ),
    _rule(
        PermissionDeniedError,
        codes=[
            "UserUnauthorizedException",
            "UserUnauthroizedException",  # monday's own spelling before 2024-01
            "USER_ACCESS_DENIED",
            "missingRequiredPermissions",
        ],
        messages=[r"user unauthorized to perform action", r"missing required permissions"],
        statuses=[403],
        cause="monday_permission",
    ),
    _rule(
        ConfigurationError,
        codes=["InvalidBoardIdException", "InvalidVersionException", "undefinedField"],
        cause="monday_config",
    ),
    _rule(NotFoundError, codes=["ResourceNotFoundException"], statuses=[404], cause="monday_not_found"),
    _rule(
        InvalidDataError,
        codes=["ColumnValueException", "CorrectedValueException", "InvalidColumnIdException"],
        cause="column_value",
    ),
    _rule(
        InvalidDataError,
        codes=[
            "JsonParseException",
            "ItemNameTooLongException",
            "InvalidArgumentException",
            "InvalidUserIdException",
            "RecordInvalidException",
            "ItemsLimitationException",
            "CreateBoardException",
            "DeleteLastGroupException",
            "GRAPHQL_PARSE_FAILED",
            "GRAPHQL_VALIDATION_FAILED",
            "BAD_USER_INPUT",
        ],
        messages=[r"^\s*parse error on", r"^\s*bad request\s*$", r"syntax error in json"],
        statuses=[400, 422],
        cause="monday_invalid_request",
    ),
    _rule(
        CursorExpiredError,
        codes=["CursorExpiredError"],
        messages=[r"cursor has expired"],
        cause="cursor_expired",
    ),
    _rule(
        RateLimitedError,
        codes=["COMPLEXITY_BUDGET_EXHAUSTED", "complexityBudgetExhausted", "ComplexityException"],
        messages=[r"complexity budget exhausted"],
        cause="complexity",
    ),
    _rule(
        RateLimitedError,
        codes=[
            "maxConcurrencyExceeded",
            "FIELD_LIMIT_EXCEEDED",
            "rateLimitExceeded",
            "RATE_LIMIT_EXCEEDED",
            "IP_RATE_LIMIT_EXCEEDED",
            "DAILY_LIMIT_EXCEEDED",
            "MINUTE_LIMIT_EXCEEDED",
        ],
        messages=[
            r"rate limit exceeded",
            r"minute limit",
            r"daily limit",
            r"concurrency limit exceeded",
            r"call limit exceeded",
        ],
        statuses=[429],
        cause="monday_rate_limited",
    ),
    _rule(TransientError, messages=[r"currently locked"], statuses=[423], cause="board_locked"),
    _rule(
        TransientError,
        codes=["API_TEMPORARILY_BLOCKED", "IDEMPOTENCY_CONFLICT", "INTERNAL_SERVER_ERROR"],
        messages=[r"internal server error", r"temporarily blocked"],
        statuses=[408, 409, *range(500, 600)],
        cause="monday_5xx",
    ),
)

_RESET_IN = re.compile(r"reset in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)


@dataclass
class _Entry:
    """One error as monday reported it, whatever the envelope."""

    message: str
    code: str | None = None
    status: int | None = None
    retry_in: float | None = None
    request_id: str | None = None
    is_validation: bool = False
    raw: Any = field(default=None, repr=False)


def classify_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None, *, secrets: Iterable[str] = ()
) -> MondaySnowflakeError | None:
    """The error a monday response means, or None if it is a success. `secrets` are redacted from text."""
    headers = headers or {}
    entries = _entries(status, body)
    if not entries:
        if 200 <= status < 300:
            return None
        entries = [_Entry(message=f"HTTP {status}", status=status)]

    ranked: list[tuple[int, int, _Entry]] = []  # (how it matched, rule index, entry)
    for entry in entries:
        ranked.append((*_match(entry, status), entry))
    _level, rule_index, entry = min(ranked, key=lambda r: (r[1], r[0]))
    cls = RULES[rule_index].error if rule_index < len(RULES) else TransientError
    cause = RULES[rule_index].cause if rule_index < len(RULES) else "unknown"

    request_id = _request_id(body, entries, headers)
    code = entry.code
    text = _redact(entry.message, secrets)
    where = ", ".join(p for p in (code, f"HTTP {status}") if p)
    message = f"monday API error: {text} ({where})"
    details: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "errors": [_redact(e.message, secrets) for e in entries],
        "cause": cause,
    }
    retry_after = _retry_after(entry, entries, headers)
    if issubclass(cls, RateLimitedError):
        return cls(message, retry_after=retry_after, **details)
    if issubclass(cls, TransientError) and retry_after is not None:
        details["retry_after"] = retry_after  # e.g. 409 IDEMPOTENCY_CONFLICT and 423 send Retry-After too
    return cls(message, **details)


def field_errors(status: int, body: Any, *, secrets: Iterable[str] = ()) -> dict[str, str] | None:
    """For a document of aliased mutations: `{alias: message}` when monday answered HTTP 200 with
    data and every error belongs to one alias and concerns only it (a rejected value, an unknown item
    or user), so the other aliases stand. None when the response as a whole failed (or did not):
    then `classify_response` decides."""
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return None
    entries = _entries(status, body)
    if not entries:
        return None
    found: dict[str, str] = {}
    for entry in entries:
        path = entry.raw.get("path") if isinstance(entry.raw, dict) else None
        if not isinstance(path, list) or not path or not isinstance(path[0], str):
            return None
        _level, rule_index = _match(entry, status)
        cls = RULES[rule_index].error if rule_index < len(RULES) else TransientError
        if issubclass(cls, TransientError | AuthenticationError | ConfigurationError):
            return None
        text = _redact(entry.message, secrets)
        found.setdefault(path[0], f"{text} ({entry.code})" if entry.code else text)
    return found


def classify_transport_error(error: httpx.HTTPError) -> TransientError:
    """Timeouts and connection failures: always worth retrying. Chain the original with `raise ... from`."""
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "unreachable"
    return TransientError(
        f"monday API {kind}: {type(error).__name__}", cause="network", transport=type(error).__name__
    )


def _match(entry: _Entry, http_status: int) -> tuple[int, int]:
    """(0 code / 1 message / 2 status / 3 nothing, index of the rule in RULES)."""
    if entry.code:
        code = entry.code.lower()
        for i, rule in enumerate(RULES):
            if code in rule.codes:
                return 0, i
    for i, rule in enumerate(RULES):
        if any(p.search(entry.message) for p in rule.messages):
            return 1, i
    if entry.is_validation and not entry.code:
        return 1, _index("monday_invalid_request")
    effective = http_status if not 200 <= http_status < 300 else entry.status
    if effective is not None:
        for i, rule in enumerate(RULES):
            if effective in rule.statuses:
                return 2, i
    return 3, len(RULES)


def _index(cause: str) -> int:
    return next(i for i, rule in enumerate(RULES) if rule.cause == cause)


def _entries(status: int, body: Any) -> list[_Entry]:
    if not isinstance(body, dict):
        return []
    entries: list[_Entry] = []
    raw_errors = body.get("errors")
    if isinstance(raw_errors, list):
        for raw in raw_errors:
            if isinstance(raw, str):  # legacy: a list of plain messages
                entries.append(_Entry(message=raw, raw=raw))
            elif isinstance(raw, dict):
                ext = _dict(raw.get("extensions"))
                error_data = _dict(ext.get("error_data"))
                entries.append(
                    _Entry(
                        message=str(raw.get("message") or ""),
                        code=_str(ext.get("code") or ext.get("error_code")),
                        status=_int(ext.get("status_code")),
                        retry_in=_float(ext.get("retry_in_seconds"))
                        if ext.get("retry_in_seconds") is not None
                        else _float(error_data.get("retry_in_seconds")),
                        request_id=_str(ext.get("request_id")),
                        is_validation="locations" in raw and "path" not in raw,
                        raw=raw,
                    )
                )
    if "error_code" in body or "error_message" in body:
        error_data = _dict(body.get("error_data"))
        legacy = _Entry(
            message=str(body.get("error_message") or ""),
            code=_str(body.get("error_code")),
            status=_int(body.get("status_code")),
            retry_in=_float(error_data.get("retry_in_seconds")),
            raw={k: body.get(k) for k in ("error_code", "error_message", "error_data", "status_code")},
        )
        # 2024-10 duplicated the first error at top level; the legacy fields then add nothing new,
        # but the plain-string `errors` of older versions carry no code, so the legacy entry leads.
        entries.insert(0, legacy)
    return entries


def _retry_after(entry: _Entry, entries: list[_Entry], headers: Mapping[str, str]) -> float | None:
    header = _header(headers, "retry-after")
    if header:
        seconds = _parse_retry_after_header(header)
        if seconds is not None:
            return seconds
    for candidate in (entry, *entries):
        if candidate.retry_in is not None:
            return candidate.retry_in
    for candidate in (entry, *entries):
        found = _RESET_IN.search(candidate.message)
        if found:
            return float(found.group(1))
    return None


def _parse_retry_after_header(value: str) -> float | None:
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _request_id(body: Any, entries: list[_Entry], headers: Mapping[str, str]) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("extensions"), dict):
        found = _str(body["extensions"].get("request_id"))
        if found:
            return found
    for entry in entries:
        if entry.request_id:
            return entry.request_id
    return _header(headers, "x-request-id")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if isinstance(headers, httpx.Headers):
        found: str | None = headers.get(name)
        return found
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
