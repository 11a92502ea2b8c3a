"""monday's apps framework around an app (API-FACTS 9.3, 9.4): what monday sends to an app, and the
endpoint where an app invokes its custom triggers.

- `lifecycle_event` builds an app lifecycle webhook (`install`, `uninstall`, `app_subscription_*`)
  with the `Authorization` JWT signed with the app's client secret, as monday posts it.
- `automation_jwt` is the `Authorization` JWT monday puts on action and trigger-subscription
  requests: signed with the signing secret, with `accountId`, `userId`, `aud` (the endpoint URL),
  `exp` and a `shortLivedToken` (an app token of the user, valid 5 minutes on monday).
- `POST /automations/apps-events/{subscription_id}` receives trigger invocations: a Bearer JWT
  signed with the signing secret and a body `{"trigger": {"outputFields": {...}}}`. Each accepted
  one is kept in `AppEvents.received` for tests to read.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from monday_sandbox.state import Sandbox

SHORT_LIVED_TOKEN_SECONDS = 300
TRIGGER_PATH = "/automations/apps-events"


@dataclass(frozen=True)
class ReceivedTrigger:
    subscription_id: str
    output_fields: dict[str, Any]
    claims: dict[str, Any]


class AppEvents:
    """The app side of the sandbox: minting what monday sends, and recording triggers received."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.app_id = 10_000_001
        self._lock = threading.Lock()
        self.received: list[ReceivedTrigger] = []
        self.refused = 0

    def short_lived_token(self, user_id: int | None = None) -> str:
        """A fresh app token of the user (the account's first user by default)."""
        value = "sbx_slt_" + secrets.token_urlsafe(24)
        with self.sandbox.lock:
            uid = user_id if user_id is not None else self.sandbox.default_user().id
            self.sandbox.add_token(value, uid, kind="app", client_id=self.sandbox.settings.oauth_client_id)
        return value

    def automation_jwt(
        self,
        audience: str,
        *,
        user_id: int | None = None,
        account_id: int | None = None,
        secret: str | None = None,
        expires_in: float = 300,
        short_lived_token: str | None = None,
    ) -> str:
        """The Authorization JWT of an action or trigger-subscription request to `audience`."""
        with self.sandbox.lock:
            uid = user_id if user_id is not None else self.sandbox.default_user().id
        now = self.sandbox.clock.timestamp()
        claims = {
            "accountId": account_id if account_id is not None else self.sandbox.account.id,
            "userId": uid,
            "aud": audience,
            "iat": int(now),
            "exp": int(now + expires_in),
            "shortLivedToken": short_lived_token or self.short_lived_token(uid),
        }
        return jwt.encode(claims, secret or self.sandbox.settings.signing_secret, algorithm="HS256")

    def lifecycle_event(
        self,
        event_type: str,
        *,
        subscription: dict[str, Any] | None = None,
        secret: str | None = None,
        expires_in: float = 300,
        account_id: int | str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """(body, Authorization JWT) of an app lifecycle webhook about the sandbox's account (or, for
        tests of several accounts, the one named: body and JWT both say it, as monday's do)."""
        with self.sandbox.lock:
            user = self.sandbox.default_user()
            account = self.sandbox.account
        now = self.sandbox.clock.timestamp()
        data: dict[str, Any] = {
            "app_id": self.app_id,
            "app_name": "monday-snowflake",
            "user_id": user.id,
            "user_email": user.email,
            "user_name": user.name,
            "user_cluster": "other",
            "account_tier": "pro",
            "account_max_users": 50,
            "account_id": account.id if account_id is None else account_id,
            "account_name": account.name,
            "account_slug": account.slug,
            "version_data": {"major": 1, "minor": 0, "patch": 0, "type": "major", "number": 1},
            "timestamp": self.sandbox.clock.now().isoformat(),
            "user_country": "US",
        }
        if subscription is not None:
            data["subscription"] = subscription
        token = jwt.encode(
            {
                "dat": {
                    "account_id": account.id if account_id is None else account_id,
                    "app_id": self.app_id,
                },
                "iat": int(now),
                "exp": int(now + expires_in),
            },
            secret or self.sandbox.settings.oauth_client_secret,
            algorithm="HS256",
        )
        return {"type": event_type, "data": data}, token

    def trigger_url(self, base_url: str, subscription_id: str) -> str:
        return f"{base_url.rstrip('/')}{TRIGGER_PATH}/{subscription_id}"

    def receive(self, subscription_id: str, authorization: str | None, body: Any) -> JSONResponse:
        raw = (authorization or "").strip()
        if raw.lower().startswith("bearer "):
            raw = raw[7:].strip()
        try:
            claims = jwt.decode(
                raw,
                self.sandbox.settings.signing_secret,
                algorithms=["HS256"],
                options={"require": ["exp"], "verify_aud": False},
            )
        except jwt.PyJWTError:
            with self._lock:
                self.refused += 1
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        trigger = body.get("trigger") if isinstance(body, dict) else None
        fields = trigger.get("outputFields") if isinstance(trigger, dict) else None
        if not isinstance(fields, dict):
            return JSONResponse({"error": "body must be {trigger: {outputFields: {...}}}"}, status_code=400)
        with self._lock:
            self.received.append(ReceivedTrigger(subscription_id, fields, claims))
        return JSONResponse({"success": True})


def apps_router(apps: AppEvents) -> APIRouter:
    router = APIRouter(tags=["apps"])

    @router.post(TRIGGER_PATH + "/{subscription_id}")
    async def invoke_trigger(subscription_id: str, request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        return apps.receive(subscription_id, request.headers.get("authorization"), body)

    return router
