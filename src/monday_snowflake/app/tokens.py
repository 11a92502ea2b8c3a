"""The JWTs of the monday apps framework (API-FACTS 9.3, 9.4).

- Lifecycle webhooks carry a JWT signed with the app's client secret.
- Action and trigger-subscription requests carry one signed with the signing secret, whose claims
  name the monday account and user, the endpoint (`aud`) and a `shortLivedToken` for API calls.
- Trigger invocations we post to monday carry one we sign with the signing secret (`{appId}`, a
  minute's expiry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import SecretStr

from monday_snowflake.errors import AuthenticationError, ConfigurationError
from monday_snowflake.settings import MondayAppSettings

ALGORITHMS = ["HS256"]
TRIGGER_JWT_SECONDS = 60


@dataclass(frozen=True)
class AutomationClaims:
    """Who an action or subscription request is for, and the token to act with."""

    monday_account_id: str
    monday_user_id: str | None
    short_lived_token: str | None


def bearer(header: str | None) -> str:
    raw = (header or "").strip()
    return raw[7:].strip() if raw.lower().startswith("bearer ") else raw


def _secret(value: SecretStr | None, name: str) -> str:
    if value is None:
        variable = "MONDAY_SNOWFLAKE_MONDAY_APP__" + name.upper().replace(" ", "_")
        raise ConfigurationError(f"the monday app's {name} is not set: set {variable}")
    return value.get_secret_value()


def _decode(
    token: str, secret: str, what: str, audience: str | None = None, *, require_exp: bool = True
) -> dict[str, Any]:
    if not token:
        raise AuthenticationError(f"the {what} has no Authorization JWT")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            audience=audience,
            options={"require": ["exp"] if require_exp else [], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError(f"the {what}'s JWT has expired") from None
    except jwt.InvalidAudienceError:
        raise AuthenticationError(f"the {what}'s JWT is for another endpoint") from None
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"the {what}'s JWT is not valid: {type(exc).__name__}") from None
    return claims


def verify_lifecycle(settings: MondayAppSettings, authorization: str | None, body: Any) -> dict[str, Any]:
    """The claims of a lifecycle webhook's JWT (signed with the client secret); 401 otherwise. Its
    claims are not documented (API-FACTS 10.10), so `exp` is checked when present, not required; an
    account it names (`dat.account_id`) must be the one the body is about, so one event's JWT cannot
    be replayed against another account."""
    secret = _secret(settings.client_secret, "client secret")
    claims = _decode(bearer(authorization), secret, "lifecycle event", require_exp=False)
    signed = (claims.get("dat") or {}).get("account_id") if isinstance(claims.get("dat"), dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    about = data.get("account_id") if isinstance(data, dict) else None
    if signed is not None and str(signed) != str(about):
        raise AuthenticationError("the lifecycle event's JWT was signed for another account")
    return claims


def verify_automation(
    settings: MondayAppSettings, authorization: str | None, audience: str
) -> AutomationClaims:
    """The claims of an action or subscription request (signed with the signing secret, `aud` this
    endpoint's URL); 401 otherwise."""
    claims = _decode(
        bearer(authorization),
        _secret(settings.signing_secret, "signing secret"),
        "automation request",
        audience,
    )
    account = claims.get("accountId")
    if account is None or str(account) == "":
        raise AuthenticationError("the automation request's JWT names no accountId")
    user = claims.get("userId")
    token = claims.get("shortLivedToken")
    return AutomationClaims(str(account), None if user is None else str(user), str(token) if token else None)


def trigger_jwt(settings: MondayAppSettings, app_id: str | None) -> str:
    """The Authorization of a trigger invocation: `{appId}` signed with the signing secret."""
    now = int(time.time())
    claims: dict[str, Any] = {"iat": now, "exp": now + TRIGGER_JWT_SECONDS}
    if app_id:
        claims["appId"] = app_id
    return jwt.encode(claims, _secret(settings.signing_secret, "signing secret"), algorithm="HS256")
