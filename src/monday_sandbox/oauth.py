"""monday's OAuth: `/oauth2/authorize` auto-approves; `/oauth2/token` swaps the code (legacy flow);
`/oauth_ms/oauth/token` is the OAuth 2.1 flow (API-FACTS 9.2).

PKCE (`code_challenge`, S256) is accepted and then enforced at the token step; the OAuth 2.1
endpoint requires it. Codes live 10 minutes on the sandbox clock and work once. Tokens are app
tokens of the approving user. OAuth 2.1 access tokens are JWTs with an `exp` (`access_ttl_seconds`,
one hour by default; the sandbox does not refuse them on `/v2` after it) and come with a refresh
token that rotates: each works once, and presenting a used one is refused (`invalid_grant`) and
revokes the tokens issued from it since.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from monday_sandbox.apps import AppEvents, apps_router
from monday_sandbox.state import Sandbox

CODE_TTL_SECONDS = 600
ACCESS_TTL_SECONDS = 3600
DEFAULT_SCOPES = "me:read boards:read boards:write webhooks:read webhooks:write users:read account:read"


@dataclass
class Grant:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user_id: int
    expires_at: float
    code_challenge: str | None


@dataclass
class RefreshGrant:
    """One refresh token of the OAuth 2.1 flow; `family` is shared by every token rotated from one code."""

    user_id: int
    scope: str
    client_id: str
    family: str
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)


class OAuthStore:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._lock = threading.Lock()
        self.grants: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.access_ttl_seconds = ACCESS_TTL_SECONDS
        self.apps = AppEvents(sandbox)

    def authorize(
        self, client_id: str, redirect_uri: str, scope: str, user_id: int, challenge: str | None
    ) -> str:
        code = secrets.token_urlsafe(24)
        expires = self.sandbox.clock.timestamp() + CODE_TTL_SECONDS
        with self._lock:
            self.grants[code] = Grant(code, client_id, redirect_uri, scope, user_id, expires, challenge)
        return code

    def redeem(self, code: str) -> Grant | None:
        with self._lock:
            grant = self.grants.pop(code, None)
        if grant is None or grant.expires_at < self.sandbox.clock.timestamp():
            return None
        return grant

    def issue(self, user_id: int, scope: str, client_id: str, family: str | None = None) -> dict[str, Any]:
        """An OAuth 2.1 token response: a JWT access token (an app token of the user) and a fresh
        refresh token of `family`."""
        now = self.sandbox.clock.timestamp()
        access = jwt.encode(
            {
                "uid": user_id,
                "actid": self.sandbox.account.id,
                "aud": client_id,
                "scp": scope,
                "iat": int(now),
                "exp": int(now + self.access_ttl_seconds),
                "jti": secrets.token_urlsafe(8),
            },
            self.sandbox.settings.oauth_client_secret,
            algorithm="HS256",
        )
        refresh = "sbx_rt_" + secrets.token_urlsafe(32)
        with self.sandbox.lock:
            self.sandbox.add_token(access, user_id, kind="app", scopes=scope.split(), client_id=client_id)
        with self._lock:
            self.refresh_tokens[refresh] = RefreshGrant(
                user_id, scope, client_id, family or secrets.token_urlsafe(8), access_tokens=[access]
            )
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl_seconds,
            "refresh_token": refresh,
            "scope": scope,
        }

    def rotate(self, refresh_token: str) -> RefreshGrant | None:
        """Use a refresh token once. A token used before means it leaked: every token of its family
        is revoked and None is returned."""
        with self._lock:
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None:
                return None
            if not grant.used:
                grant.used = True
                return grant
            family = [g for g in self.refresh_tokens.values() if g.family == grant.family]
            for member in family:
                member.used = True
        with self.sandbox.lock:
            for member in family:
                for access in member.access_tokens:
                    self.sandbox.revoke_token(access)
        return None


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _oauth_error(error: str, description: str, status: int) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def _form(request: Request) -> dict[str, Any] | None:
    """The body as JSON or as a form; None if it is malformed JSON."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


def _check_verifier(grant: Grant, form: dict[str, Any]) -> JSONResponse | None:
    if grant.code_challenge is None:
        return None
    verifier = str(form.get("code_verifier") or "")
    if not verifier or pkce_challenge(verifier) != grant.code_challenge:
        return _oauth_error("invalid_grant", "code_verifier does not match the code_challenge", 400)
    return None


def oauth_router(store: OAuthStore) -> APIRouter:
    router = APIRouter(tags=["oauth"])
    router.include_router(apps_router(store.apps))
    settings = store.sandbox.settings

    async def client_form(request: Request) -> dict[str, Any] | JSONResponse:
        """The body of a token request from the app's client, or the error to answer."""
        form = await _form(request)
        if form is None:
            return _oauth_error("invalid_request", "malformed JSON body", 400)
        if (
            form.get("client_id") != settings.oauth_client_id
            or form.get("client_secret") != settings.oauth_client_secret
        ):
            return _oauth_error("invalid_client", "client authentication failed", 401)
        return form

    def redeemed(form: dict[str, Any], *, pkce_required: bool) -> Grant | JSONResponse:
        """The grant of the form's code, used up, or the error to answer."""
        grant = store.redeem(str(form.get("code") or ""))
        if grant is None:
            return _oauth_error("invalid_grant", "the code is unknown, used or expired", 400)
        if pkce_required and grant.code_challenge is None:
            return _oauth_error("invalid_grant", "PKCE is required: authorize with a code_challenge", 400)
        if form.get("redirect_uri") and form["redirect_uri"] != grant.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri does not match the authorization request", 400)
        return _check_verifier(grant, form) or grant

    @router.post("/oauth_ms/oauth/token")
    async def token_v2(request: Request) -> Response:
        """OAuth 2.1: `grant_type=authorization_code` (PKCE required) or `refresh_token` (rotating)."""
        form = await client_form(request)
        if isinstance(form, JSONResponse):
            return form
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            rotated = store.rotate(str(form.get("refresh_token") or ""))
            if rotated is None:
                return _oauth_error("invalid_grant", "the refresh token is unknown or was already used", 400)
            return JSONResponse(
                store.issue(rotated.user_id, rotated.scope, rotated.client_id, rotated.family)
            )
        if grant_type != "authorization_code":
            return _oauth_error(
                "unsupported_grant_type", "grant_type must be authorization_code or refresh_token", 400
            )
        grant = redeemed(form, pkce_required=True)
        if isinstance(grant, JSONResponse):
            return grant
        return JSONResponse(store.issue(grant.user_id, grant.scope, grant.client_id))

    @router.get("/oauth2/authorize")
    def authorize(request: Request) -> Response:
        params = request.query_params
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_uri.startswith(("http://", "https://")):
            return _oauth_error("invalid_request", "redirect_uri is required", 400)
        state = params.get("state")
        extra = {"state": state} if state is not None else {}
        if params.get("client_id") != settings.oauth_client_id:
            return RedirectResponse(_with_query(redirect_uri, {"error": "unauthorized_client", **extra}), 302)
        challenge = params.get("code_challenge")
        if challenge is not None and (
            params.get("code_challenge_method", "S256") != "S256" or not 43 <= len(challenge) <= 128
        ):
            return RedirectResponse(_with_query(redirect_uri, {"error": "invalid_request", **extra}), 302)
        with store.sandbox.lock:
            user_id = int(params.get("user_id") or store.sandbox.default_user().id)
        scope = params.get("scope") or DEFAULT_SCOPES
        code = store.authorize(settings.oauth_client_id, redirect_uri, scope, user_id, challenge)
        return RedirectResponse(_with_query(redirect_uri, {"code": code, **extra}), 302)

    @router.post("/oauth2/token")
    async def token(request: Request) -> Response:
        form = await client_form(request)
        if isinstance(form, JSONResponse):
            return form
        grant = redeemed(form, pkce_required=False)
        if isinstance(grant, JSONResponse):
            return grant
        access = "sbx_app_" + secrets.token_urlsafe(32)
        with store.sandbox.lock:
            store.sandbox.add_token(
                access, grant.user_id, kind="app", scopes=grant.scope.split(), client_id=grant.client_id
            )
        return JSONResponse({"access_token": access, "token_type": "Bearer", "scope": grant.scope})

    return router
