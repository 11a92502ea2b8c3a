"""Installing the app with monday OAuth (API-FACTS 9.1, 9.2), in either flow the settings choose.

`begin` makes an authorization request: a random nonce for the browser's cookie, the `state` bound to
it (an HMAC of the nonce under the client secret), and for OAuth 2.1 a PKCE verifier; the state's hash
and the verifier (encrypted) are stored until the callback, which may use them once (`finish`). The
code is exchanged for a token, the token's account is read from monday (`me { account }`), and the
account (created on its first install, keyed by monday's account id) gets the token as its
encrypted `monday app` connection.

OAuth 2.1 access tokens expire (their `exp`); `monday_credentials` refreshes one that has less than 5 minutes
left and stores the rotated refresh token at once, since each works only once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import jwt

from monday_snowflake.errors import (
    ConfigurationError,
    MondaySnowflakeError,
    PermanentError,
    PermissionDeniedError,
    TransientError,
)
from monday_snowflake.logs import get_logger
from monday_snowflake.settings import MondayAppSettings, Settings
from monday_snowflake.store.app import InstallRecord

if TYPE_CHECKING:  # the runtime builds the sync code, which asks this module for tokens
    from monday_snowflake.runtime import Runtime
    from monday_snowflake.store import Store

log = get_logger(__name__)

REFRESH_MARGIN_SECONDS = 300
"""Refresh an OAuth 2.1 access token when less than this is left (API-FACTS 9.2)."""
ME_QUERY = "query AppInstaller { me { id name email account { id name slug } } }"


class OAuthRefusedError(PermanentError):
    """monday refused a code or a refresh token (`invalid_grant`...): the user must authorize again."""


class StateRejectedError(PermissionDeniedError):
    """The callback's `state` is missing from this browser, not its own, used already or expired."""


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    nonce: str
    """For the browser's cookie: the callback's `state` must match it."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    scope: str
    refresh_token: str | None = None
    expires_at: float | None = None

    def secret(self) -> dict[str, Any]:
        """What is stored encrypted: the same `token` key every monday connection uses."""
        out: dict[str, Any] = {"token": self.access_token}
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at
        return out


def configured(settings: MondayAppSettings) -> tuple[str, str, str]:
    """(client id, client secret, redirect URL), or ConfigurationError naming what is missing."""
    missing = [
        name
        for name, value in (
            ("client_id", settings.client_id),
            ("client_secret", settings.client_secret),
            ("redirect_url", settings.redirect_url),
        )
        if not value
    ]
    if missing:
        names = ", ".join(f"MONDAY_SNOWFLAKE_MONDAY_APP__{m.upper()}" for m in missing)
        raise ConfigurationError(f"monday OAuth is not configured: set {names}")
    assert settings.client_id and settings.client_secret and settings.redirect_url
    return settings.client_id, settings.client_secret.get_secret_value(), settings.redirect_url


def state_for(settings: MondayAppSettings, nonce: str) -> str:
    """The `state` bound to a browser's nonce."""
    _, secret, _ = configured(settings)
    return hmac.new(secret.encode(), b"monday-oauth-state:" + nonce.encode(), hashlib.sha256).hexdigest()


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def begin(runtime: Runtime, *, drop_tables_on_uninstall: bool | None) -> AuthorizationRequest:
    """Store a new authorization request and say where to send the browser."""
    settings = runtime.settings.monday_app
    client_id, _, redirect_url = configured(settings)
    nonce = secrets.token_urlsafe(32)
    state = state_for(settings, nonce)
    verifier = secrets.token_urlsafe(64) if settings.flow == "oauth21" else None
    now = datetime.now(UTC)
    options: dict[str, Any] = {}
    if drop_tables_on_uninstall is not None:
        options["drop_tables_on_uninstall"] = drop_tables_on_uninstall
    runtime.store.save_oauth_state(
        state_hash(state),
        flow=settings.flow,
        code_verifier=verifier,
        options=options,
        expires_at=now + timedelta(seconds=settings.state_ttl_seconds),
    )
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_url,
        "scope": settings.scopes,
        "state": state,
    }
    if verifier is not None:
        params |= {"code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
    return AuthorizationRequest(
        f"{settings.auth_url.rstrip('/')}/oauth2/authorize?{urlencode(params)}", nonce
    )


def finish(runtime: Runtime, *, nonce: str | None, state: str | None, code: str | None) -> InstallRecord:
    """The callback: check the state against the cookie's nonce and use it up, swap the code, store
    the token on the (new or existing) account of the token's monday account."""
    settings = runtime.settings.monday_app
    if not state:
        raise ConfigurationError("the callback has no state", field="state")
    if not nonce:
        raise StateRejectedError(
            "no authorization is in progress in this browser (the state cookie is missing)"
        )
    if not hmac.compare_digest(state.encode(), state_for(settings, nonce).encode()):
        raise StateRejectedError("the state does not belong to this browser's authorization")
    pending = runtime.store.take_oauth_state(state_hash(state))
    if pending is None:
        raise StateRejectedError("the state was already used or has expired; start the install again")
    if not code:
        raise ConfigurationError("the callback has no code", field="code")
    tokens = exchange_code(settings, code, pending.code_verifier, flow=pending.flow)
    me = _whoami(runtime, tokens.access_token)
    account = me.get("account") or {}
    if account.get("id") is None:
        raise TransientError("monday did not say which account the token belongs to")
    install = runtime.store.record_install(
        str(account["id"]),
        account_name=str(account.get("name") or account.get("slug") or account["id"]),
        user_email=me.get("email"),
        user_name=me.get("name"),
        monday_user_id=None if me.get("id") is None else str(me["id"]),
        drop_tables_on_uninstall=pending.options.get("drop_tables_on_uninstall"),
    )
    config = {"api_url": runtime.settings.monday.api_url, "flow": pending.flow, "scope": tokens.scope}
    runtime.store.save_app_token(install.account_id, config, tokens.secret())
    log.info("monday app installed", account_id=install.account_id, flow=pending.flow)
    return install


def exchange_code(settings: MondayAppSettings, code: str, verifier: str | None, *, flow: str) -> TokenSet:
    client_id, client_secret, redirect_url = configured(settings)
    body = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_url,
        "code": code,
    }
    if flow == "oauth21":
        body |= {"grant_type": "authorization_code", "code_verifier": verifier or ""}
    return _token_request(settings, flow, body)


def refresh(settings: MondayAppSettings, refresh_token: str) -> TokenSet:
    client_id, client_secret, _ = configured(settings)
    body = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    return _token_request(settings, "oauth21", body)


def monday_credentials(
    settings: Settings, store: Store, connection_id: str, *, force_refresh: bool = False
) -> tuple[str, str | None]:
    """The token and API URL of a stored monday connection, for every caller that talks to monday.

    An OAuth 2.1 token with less than 5 minutes left (or any refreshable one, with `force_refresh`,
    after a 401) is refreshed first, and the rotated refresh token stored at once, since each works
    only once; a refresh monday refuses marks the connection disconnected."""
    connection = store.get_connection(connection_id)
    secret = store.connection_secret(connection_id)
    api_url = connection.config.get("api_url")
    if not (force_refresh or _due(secret)) or not secret.get("refresh_token"):
        return str(secret["token"]), api_url

    def renew(current: dict[str, Any]) -> dict[str, Any] | None:
        # read again under the connection's lock: another process may have refreshed it meanwhile
        if current.get("refresh_token") != secret.get("refresh_token") or not (
            force_refresh or _due(current)
        ):
            return None
        return refresh(settings.monday_app, str(current["refresh_token"])).secret()

    try:
        stored = store.renew_connection_secret(connection_id, renew)
    except OAuthRefusedError:
        store.set_connection_status(connection_id, "disconnected", account_id=connection.account_id)
        raise
    if stored.get("token") != secret.get("token"):
        log.info("monday token refreshed", connection_id=connection_id, account_id=connection.account_id)
    return str(stored["token"]), api_url


def token_renewer(settings: Settings, store: Store, connection_id: str) -> Callable[[], Awaitable[str]]:
    """What a `MondayClient` asks for a new token when monday refuses its own: the connection's token
    refreshed (or the one another process refreshed meanwhile)."""

    async def renew() -> str:
        token, _ = await asyncio.to_thread(
            monday_credentials, settings, store, connection_id, force_refresh=True
        )
        return token

    return renew


def _due(secret: dict[str, Any]) -> bool:
    """An OAuth 2.1 token with less than `REFRESH_MARGIN_SECONDS` left."""
    expires_at = secret.get("expires_at")
    return expires_at is not None and float(expires_at) - time.time() < REFRESH_MARGIN_SECONDS


def _token_request(settings: MondayAppSettings, flow: str, body: dict[str, str]) -> TokenSet:
    base = settings.auth_url.rstrip("/")
    try:
        if flow == "oauth21":
            response = httpx.post(f"{base}/oauth_ms/oauth/token", json=body, timeout=30)
        else:
            response = httpx.post(f"{base}/oauth2/token", data=body, timeout=30)
    except httpx.HTTPError as exc:
        raise TransientError(f"monday's OAuth server is not reachable: {type(exc).__name__}") from None
    try:
        answer: Any = response.json()
    except ValueError:
        answer = {}
    if response.status_code >= 500:
        raise TransientError(f"monday's OAuth server failed (HTTP {response.status_code})")
    if response.status_code != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
        error = answer.get("error") if isinstance(answer, dict) else None
        described = answer.get("error_description") if isinstance(answer, dict) else None
        if error == "invalid_client":
            raise ConfigurationError("monday refused the app's client id or secret")
        raise OAuthRefusedError(
            f"monday refused the grant: {error or response.status_code}: {described or ''}".strip(": ")
        )
    access = str(answer["access_token"])
    expires_at = _expiry(access, answer.get("expires_in")) if flow == "oauth21" else None
    refresh_token = answer.get("refresh_token")
    return TokenSet(
        access, str(answer.get("scope") or ""), str(refresh_token) if refresh_token else None, expires_at
    )


def _expiry(access_token: str, expires_in: Any) -> float | None:
    """When an OAuth 2.1 access token expires: its `exp` claim, else `expires_in` from now."""
    try:
        exp = jwt.decode(access_token, options={"verify_signature": False}).get("exp")
        if exp is not None:
            return float(exp)
    except jwt.PyJWTError:
        pass
    return time.time() + float(expires_in) if expires_in is not None else None


def _whoami(runtime: Runtime, token: str) -> dict[str, Any]:
    async def ask() -> dict[str, Any]:
        async with runtime.monday_client(token) as client:
            data = await client.execute(ME_QUERY)
        me = data.get("me")
        return me if isinstance(me, dict) else {}

    try:
        return asyncio.run(ask())
    except MondaySnowflakeError as exc:
        raise TransientError(f"could not read the installing user from monday: {exc}") from None


def check_drop_flag(value: Any) -> bool | None:
    """The install option `drop_tables_on_uninstall` as given in a query string."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise ConfigurationError(
        "drop_tables_on_uninstall must be true or false", field="drop_tables_on_uninstall"
    )
