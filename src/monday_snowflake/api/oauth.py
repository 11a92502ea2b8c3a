"""`GET /oauth/monday/authorize` and `GET /oauth/monday/callback`: installing the app with monday OAuth.

No API key here: the browser of the person installing carries the authorization in an HttpOnly
cookie (a nonce); the `state` monday hands back must be the one bound to it, and works once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from monday_snowflake.api.deps import ServiceDep
from monday_snowflake.app import oauth

router = APIRouter(prefix="/oauth/monday", tags=["monday app"])
COOKIE = "monday_oauth"
COOKIE_PATH = "/oauth/monday"


@router.get("/authorize")
def authorize(
    service: ServiceDep,
    drop_tables_on_uninstall: Annotated[str | None, Query()] = None,
) -> Response:
    """Start an install: 302 to monday's consent page, with the state cookie set. With
    `drop_tables_on_uninstall=true`, uninstalling will also drop the integrations' warehouse tables."""
    settings = service.settings.monday_app
    request = oauth.begin(
        service.runtime, drop_tables_on_uninstall=oauth.check_drop_flag(drop_tables_on_uninstall)
    )
    response = RedirectResponse(request.url, status_code=302)
    response.set_cookie(
        COOKIE,
        request.nonce,
        max_age=settings.state_ttl_seconds,
        path=COOKIE_PATH,
        httponly=True,
        secure=(settings.redirect_url or "").startswith("https://"),
        samesite="lax",
    )
    return response


@router.get("/callback")
def callback(
    request: Request,
    service: ServiceDep,
    code: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
    nonce: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> JSONResponse:
    """Finish an install: check the state, swap the code for a token, store it on the account."""
    if error:
        return JSONResponse(
            {"error": f"monday did not authorize the app: {error}", "code": "OAuthRefused"}, status_code=400
        )
    install = oauth.finish(service.runtime, nonce=nonce, state=state, code=code)
    body: dict[str, Any] = {
        "status": "installed",
        "account_id": install.account_id,
        "monday_account_id": install.monday_account_id,
        "drop_tables_on_uninstall": install.drop_tables_on_uninstall,
    }
    response = JSONResponse(body)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response
