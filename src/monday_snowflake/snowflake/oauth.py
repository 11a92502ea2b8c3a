"""Snowflake OAuth (a custom security integration): the authorization-code flow and refreshing.

- `authorize_url` is where the user's browser goes: `<account>/oauth/authorize` with our `state`;
- `exchange_code` trades the code Snowflake sends back for an access and a refresh token
  (`/oauth/token-request`, client authenticated with HTTP Basic, as Snowflake asks);
- `fresh_credentials` refreshes the access token when it expires within a minute; `connect` calls it
  when it opens a session, so a stored connection keeps working for as long as its refresh token lives.

Tokens are kept in a connection's encrypted secret: `token` (the access token, which the connector's
`oauth` authenticator sends), `refresh_token`, `expires_at` (ISO 8601), `client_id`, `client_secret`,
`token_url`. Error messages carry OAuth's error code (e.g. `invalid_grant`), never a token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from monday_snowflake.errors import AuthenticationError, ConfigurationError, TransientError

REFRESH_MARGIN = timedelta(seconds=60)
TIMEOUT_SECONDS = 30.0
TOKEN_KEYS = ("token", "refresh_token", "expires_at")


def default_urls(account: str) -> tuple[str, str]:
    """The account's authorize and token endpoints."""
    base = f"https://{account}.snowflakecomputing.com"
    return f"{base}/oauth/authorize", f"{base}/oauth/token-request"


def checked_url(url: str, field: str) -> str:
    """An endpoint URL: https, or http on a loopback address only (a local proxy, a test double)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and (host == "localhost" or _is_loopback(host)):
        return url
    raise ConfigurationError(f"{field}: an https URL is needed", field=field)


def authorize_url(
    url: str, *, client_id: str, redirect_uri: str, state: str, scope: str | None = None
) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state}
    if scope:
        query["scope"] = scope
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


def exchange_code(
    *, token_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str
) -> dict[str, str]:
    """The tokens for an authorization code, as the secret fields listed above."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    answer = _token_request(token_url, client_id, client_secret, form, "the authorization code")
    return _tokens(answer, client_id, client_secret, token_url, previous_refresh=None)


def needs_refresh(credentials: Mapping[str, Any], now: datetime | None = None) -> bool:
    """Whether the stored access token expires within `REFRESH_MARGIN` (and can be refreshed)."""
    expires_at = credentials.get("expires_at")
    if not expires_at or not credentials.get("refresh_token"):
        return False
    try:
        expiry = datetime.fromisoformat(str(expires_at))
    except ValueError:
        return True
    return expiry - REFRESH_MARGIN <= (now or datetime.now(UTC))


def fresh_credentials(credentials: Mapping[str, Any]) -> dict[str, str] | None:
    """New credentials with a refreshed access token, or None when the token is still good."""
    if not needs_refresh(credentials):
        return None
    for key in ("token_url", "client_id", "client_secret"):
        if not credentials.get(key):
            raise ConfigurationError(f"the OAuth connection lacks its {key}: authorize it again")
    token_url, client_id = str(credentials["token_url"]), str(credentials["client_id"])
    client_secret = str(credentials["client_secret"])
    form = {"grant_type": "refresh_token", "refresh_token": str(credentials["refresh_token"])}
    answer = _token_request(token_url, client_id, client_secret, form, "the refresh token")
    refreshed = _tokens(
        answer, client_id, client_secret, token_url, previous_refresh=str(credentials["refresh_token"])
    )
    return {**{k: str(v) for k, v in credentials.items()}, **refreshed}


def _token_request(
    token_url: str, client_id: str, client_secret: str, form: dict[str, str], what: str
) -> dict[str, Any]:
    try:
        response = httpx.post(
            token_url,
            data=form,
            auth=(client_id, client_secret),
            headers={"Accept": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise TransientError(
            f"the Snowflake OAuth token endpoint is unreachable: {type(exc).__name__}"
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if response.status_code >= 500:
        raise TransientError(f"the Snowflake OAuth token endpoint answered {response.status_code}")
    if response.status_code != 200 or not answer.get("access_token"):
        error = str(answer.get("error") or f"HTTP {response.status_code}")[:100]
        raise AuthenticationError(f"Snowflake refused {what} ({error}): authorize the connection again")
    return answer


def _tokens(
    answer: Mapping[str, Any],
    client_id: str,
    client_secret: str,
    token_url: str,
    *,
    previous_refresh: str | None,
) -> dict[str, str]:
    refresh = answer.get("refresh_token") or previous_refresh
    if not refresh:
        raise AuthenticationError("Snowflake sent no refresh token: add offline access to the integration")
    expires_in = float(answer.get("expires_in") or 600)
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
    return {
        "token": str(answer["access_token"]),
        "refresh_token": str(refresh),
        "expires_at": expires_at.isoformat(),
        "client_id": client_id,
        "client_secret": client_secret,
        "token_url": token_url,
    }


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
