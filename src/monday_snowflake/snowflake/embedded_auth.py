"""Credentials the embedded warehouse refuses, the way Snowflake refuses an expired or revoked one.

fakesnow accepts any login. For tests and demos of a dead credential, `refuse_credential` records a
SHA-256 of a token or password in `<data_dir>/warehouse/refused-credentials.json` (never the value),
and `LoginRefusals`, an ASGI wrapper of the embedded server, answers a login with it as Snowflake
does: HTTP 200, `success: false`, and Snowflake's code and message (394401 "Programmatic access token
is expired." for an expired one, 390100 "Incorrect username or password was specified." for a revoked
one). The real connector turns that into the same `DatabaseError` it raises against Snowflake.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path
from typing import Any

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.snowflake.embedded_intercept import Interceptor, snowflake_error

FILE_NAME = "refused-credentials.json"
LOGIN_PATH = "/session/v1/login-request"
REFUSALS: dict[str, tuple[str, str]] = {
    "expired": ("394401", "Programmatic access token is expired."),
    "revoked": ("390100", "Incorrect username or password was specified."),
}
"""How Snowflake answers a login with a refused credential: (error code, message)."""


def refusals_path(data_dir: Path) -> Path:
    return (Path(data_dir) / "warehouse").resolve() / FILE_NAME


def refuse_credential(data_dir: Path, credential: str, reason: str = "expired") -> None:
    """Make the embedded warehouse of `data_dir` refuse logins with `credential` (a token or password)
    as Snowflake refuses an `expired` or `revoked` one. Takes effect at the next login."""
    if reason not in REFUSALS:
        raise ConfigurationError(f"a refusal is one of {', '.join(REFUSALS)}, not {reason!r}")
    _change(refusals_path(data_dir), fingerprint(credential), reason)


def accept_credential(data_dir: Path, credential: str) -> None:
    """Undo `refuse_credential`."""
    _change(refusals_path(data_dir), fingerprint(credential), None)


def fingerprint(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def read_refusals(path: Path) -> dict[str, str]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in raw.items() if v in REFUSALS} if isinstance(raw, dict) else {}


def _change(path: Path, key: str, reason: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            refusals = read_refusals(path)
            if reason is None:
                refusals.pop(key, None)
            else:
                refusals[key] = reason
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(refusals))
            tmp.replace(path)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LoginRefusals(Interceptor[dict[str, str]]):
    """ASGI wrapper that answers a login with a refused credential with Snowflake's error."""

    path = LOGIN_PATH

    def read_rules(self, path: Path) -> dict[str, str]:
        return read_refusals(path)

    def answer(self, headers: dict[str, str], request: dict[str, Any], rules: dict[str, str]) -> bytes | None:
        data = request.get("data")
        if not isinstance(data, dict):
            return None
        for key in ("TOKEN", "PASSWORD"):
            value = data.get(key)
            if isinstance(value, str) and value and (reason := rules.get(fingerprint(value))) is not None:
                return snowflake_error(*REFUSALS[reason])
        return None
