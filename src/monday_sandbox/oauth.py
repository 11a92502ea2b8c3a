"""monday's legacy OAuth flow: `/oauth2/authorize` auto-approves, `/oauth2/token` swaps the code.

PKCE (`code_challenge`, S256) is accepted and then enforced at the token step. Codes live 10
minutes on the sandbox clock and work once. Tokens are app tokens of the approving user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from monday_sandbox.state import Sandbox

CODE_TTL_SECONDS = 600
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


class OAuthStore:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._lock = threading.Lock()
        self.grants: dict[str, Grant] = {}

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


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _oauth_error(error: str, description: str, status: int) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def oauth_router(store: OAuthStore) -> APIRouter:
    router = APIRouter(prefix="/oauth2", tags=["oauth"])
    settings = store.sandbox.settings

    @router.get("/authorize")
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

    @router.post("/token")
    async def token(request: Request) -> Response:
        raw = await request.body()
        form: dict[str, Any]
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = json.loads(raw or b"{}")
            except ValueError:
                return _oauth_error("invalid_request", "malformed JSON body", 400)
        else:
            form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        if (
            form.get("client_id") != settings.oauth_client_id
            or form.get("client_secret") != settings.oauth_client_secret
        ):
            return _oauth_error("invalid_client", "client authentication failed", 401)
        grant = store.redeem(str(form.get("code") or ""))
        if grant is None:
            return _oauth_error("invalid_grant", "the code is unknown, used or expired", 400)
        if form.get("redirect_uri") and form["redirect_uri"] != grant.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri does not match the authorization request", 400)
        if grant.code_challenge is not None:
            verifier = str(form.get("code_verifier") or "")
            if not verifier or pkce_challenge(verifier) != grant.code_challenge:
                return _oauth_error("invalid_grant", "code_verifier does not match the code_challenge", 400)
        access = "sbx_app_" + secrets.token_urlsafe(32)
        with store.sandbox.lock:
            store.sandbox.add_token(
                access, grant.user_id, kind="app", scopes=grant.scope.split(), client_id=grant.client_id
            )
        return JSONResponse({"access_token": access, "token_type": "Bearer", "scope": grant.scope})

    return router
