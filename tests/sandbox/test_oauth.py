"""OAuth: authorize auto-approves and redirects with code and state; the code buys an app token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from monday_sandbox.clock import Clock
from monday_sandbox.oauth import pkce_challenge
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

REDIRECT = "https://app.example.com/callback"


def authorize(server: SandboxServer, **extra: str) -> dict[str, list[str]]:
    params = {
        "client_id": "sandbox-client-id",
        "redirect_uri": REDIRECT,
        "state": "xyz",
        "scope": "boards:read",
        **extra,
    }
    response = httpx.get(f"{server.url}/oauth2/authorize", params=params, follow_redirects=False)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


def exchange(server: SandboxServer, code: str, **extra: str) -> httpx.Response:
    form = {
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret-for-local-oauth-apps",
        "redirect_uri": REDIRECT,
        "code": code,
        **extra,
    }
    return httpx.post(f"{server.url}/oauth2/token", data=form)


def test_code_flow_gives_a_working_app_token(server: SandboxServer, sandbox: Sandbox) -> None:
    query = authorize(server)
    assert query["state"] == ["xyz"]
    response = exchange(server, query["code"][0])
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "boards:read"
    assert sandbox.data.tokens[body["access_token"]].kind == "app"
    me = httpx.post(
        f"{server.url}/v2",
        json={"query": "{ me { id } }"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert me.status_code == 200 and me.json()["data"]["me"]["id"]
    assert exchange(server, query["code"][0]).json()["error"] == "invalid_grant"  # codes work once


def test_pkce_verifier_is_checked(server: SandboxServer) -> None:
    verifier = "v" * 50
    code = authorize(server, code_challenge=pkce_challenge(verifier), code_challenge_method="S256")["code"][0]
    assert exchange(server, code, code_verifier="w" * 50).json()["error"] == "invalid_grant"
    code = authorize(server, code_challenge=pkce_challenge(verifier), code_challenge_method="S256")["code"][0]
    assert exchange(server, code, code_verifier=verifier).status_code == 200


def test_codes_expire_after_ten_minutes(server: SandboxServer, clock: Clock) -> None:
    code = authorize(server)["code"][0]
    clock.advance(601)
    assert exchange(server, code).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
def test_wrong_client_credentials_are_refused(server: SandboxServer, field: str) -> None:
    code = authorize(server)["code"][0]
    response = exchange(server, code, **{field: "wrong"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_unknown_client_is_redirected_with_an_error(server: SandboxServer) -> None:
    assert authorize(server, client_id="someone-else")["error"] == ["unauthorized_client"]
