"""Snowflake connections over real HTTP: created with each kind of credential, tested against the
embedded warehouse (with a privilege it refuses, the way Snowflake does), rotated, and authorized with
Snowflake OAuth against a small token endpoint served over HTTP here (there is no Snowflake to ask).

Credentials are write-only: every response is checked for each secret used in the test, and so is
every line logged while it ran.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.e2e.test_api import MONDAY_TOKEN, Api, Tenant, api, board

from monday_snowflake.snowflake.embedded import EmbeddedWarehouse

__all__ = ["api", "board"]  # fixtures shared with test_api: its seeded board and servers

PAT = "snowflake-pat-3c4d5e6f-NEVER-SHOWN"
PAT_ROTATED = "snowflake-pat-rotated-9a8b7c-NEVER-SHOWN"
PASSWORD = "snowflake-password-71ab-NEVER-SHOWN"
PASSPHRASE = "key-passphrase-5e5e-NEVER-SHOWN"
CLIENT_ID = "client-id-visible"
CLIENT_SECRET = "oauth-client-secret-44ff-NEVER-SHOWN"
CODE = "authorization-code-0001"
ACCESS_1, ACCESS_2 = "access-token-one-NEVER-SHOWN", "access-token-two-NEVER-SHOWN"
REFRESH = "refresh-token-77-NEVER-SHOWN"
SECRETS = (PAT, PAT_ROTATED, PASSWORD, PASSPHRASE, CLIENT_SECRET, ACCESS_1, ACCESS_2, REFRESH, CODE)


def private_key_pem(passphrase: str | None) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def no_secrets(response: httpx.Response) -> None:
    response.read()
    for secret in SECRETS:
        assert secret not in response.text, f"{response.request.method} {response.request.url} leaked it"
        assert secret not in str(response.headers)


def tenant(api: Api, name: str) -> Tenant:
    made = api.tenant(name)
    made.client.event_hooks["response"].append(no_secrets)
    return made


def embedded_body(name: str, schema: str, auth: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "mode": "embedded",
        "database": "MONDAY",
        "schema_name": schema,
        "auth": auth,
        **more,
    }


def create(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/connections/snowflake", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


@pytest.fixture
def logged(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """After the test: no secret in any line logged, by the logging module or on stdout/stderr."""
    caplog.set_level("DEBUG")
    yield
    out, err = capfd.readouterr()
    text = caplog.text + out + err
    for secret in SECRETS:
        assert secret not in text, "a credential reached a log line"


# -- create, list, test, rotate --------------------------------------------------------------------


def test_connections_are_created_listed_tested_and_rotated_and_never_return_a_credential(
    api: Api, logged: None
) -> None:
    acme = tenant(api, "acme")
    schema = f"CONN_{uuid.uuid4().hex[:8].upper()}"
    pat = create(
        acme.client, embedded_body("pat", schema, {"type": "programmatic_access_token", "token": PAT})
    )
    assert pat["kind"] == "snowflake" and pat["status"] == "connected"
    assert pat["config"]["authenticator"] == "programmatic_access_token"
    assert pat["config"]["schema_name"] == schema
    password = create(acme.client, embedded_body("pw", schema, {"type": "password", "password": PASSWORD}))
    key = private_key_pem(PASSPHRASE)
    pair = create(
        acme.client,
        embedded_body("pair", schema, {"type": "key_pair", "private_key": key, "passphrase": PASSPHRASE}),
    )
    store = api.runtime.store
    assert store.connection_secret(pat["id"]) == {"token": PAT}  # encrypted at rest, given back here only
    assert store.connection_secret(password["id"]) == {"password": PASSWORD}
    assert store.connection_secret(pair["id"])["private_key"] == key

    listed = acme.client.get("/connections").json()
    assert {c["id"] for c in listed} == {pat["id"], password["id"], pair["id"]}
    assert "BEGIN" not in json.dumps(listed)  # no key material either
    one = acme.client.get(f"/connections/{pat['id']}")
    assert one.status_code == 200 and one.json()["config"] == pat["config"]

    report = acme.client.post(f"/connections/{pat['id']}/test")
    assert report.status_code == 200, report.text
    assert report.json()["ok"] is True
    assert {n: c["status"] for n, c in checks(report.json()).items()} == {
        "connect": "ok",
        "query": "ok",
        "warehouse_usage": "skipped",  # none configured
        "schema_usage": "ok",
        "create_table": "ok",
        "create_stage": "ok",
    }
    with_warehouse = create(
        acme.client,
        embedded_body("wh", schema, {"type": "password", "password": PASSWORD}, warehouse="LOADING"),
    )
    tested = acme.client.post(f"/connections/{with_warehouse['id']}/test").json()
    assert checks(tested)["warehouse_usage"]["status"] == "ok", tested

    rotated = acme.client.put(
        f"/connections/{pat['id']}/credentials",
        json={"auth": {"type": "programmatic_access_token", "token": PAT_ROTATED}},
    )
    assert rotated.status_code == 200, rotated.text
    assert store.connection_secret(pat["id"]) == {"token": PAT_ROTATED}
    assert acme.client.post(f"/connections/{pat['id']}/test").json()["ok"] is True
    other_kind = acme.client.put(
        f"/connections/{pat['id']}/credentials", json={"auth": {"type": "password", "password": PASSWORD}}
    )
    assert other_kind.status_code == 422 and "programmatic_access_token" in other_kind.json()["error"]
    assert store.connection_secret(pat["id"]) == {"token": PAT_ROTATED}


def test_bad_connection_requests_are_4xx_naming_the_problem_and_store_nothing(api: Api, logged: None) -> None:
    acme = tenant(api, "acme")
    key = private_key_pem(PASSPHRASE)
    wrong_passphrase = acme.client.post(
        "/connections/snowflake",
        json=embedded_body("k", "PUBLIC", {"type": "key_pair", "private_key": key, "passphrase": "nope"}),
    )
    assert wrong_passphrase.status_code == 422
    assert "private key" in wrong_passphrase.json()["error"]
    not_a_key = acme.client.post(
        "/connections/snowflake",
        json=embedded_body("k", "PUBLIC", {"type": "key_pair", "private_key": "-----BEGIN nothing"}),
    )
    assert not_a_key.status_code == 422
    no_account = acme.client.post(
        "/connections/snowflake",
        json={"name": "real", "user": "loader", "auth": {"type": "programmatic_access_token", "token": PAT}},
    )
    assert no_account.status_code == 422 and no_account.json()["field"] == "account"
    unknown_auth = acme.client.post(
        "/connections/snowflake", json=embedded_body("x", "PUBLIC", {"type": "magic", "token": PAT})
    )
    assert unknown_auth.status_code == 422
    first = create(acme.client, embedded_body("same", "PUBLIC", {"type": "password", "password": PASSWORD}))
    taken = acme.client.post(
        "/connections/snowflake",
        json=embedded_body("same", "PUBLIC", {"type": "password", "password": PASSWORD}),
    )
    assert taken.status_code == 422 and "already exists" in taken.json()["error"]
    assert [c["id"] for c in acme.client.get("/connections").json()] == [first["id"]]


# -- a missing privilege ---------------------------------------------------------------------------


def test_a_missing_privilege_is_reported_with_its_grant_and_refuses_an_integration_on_that_schema(
    api: Api, warehouse_data_dir: Path, logged: None
) -> None:
    acme = tenant(api, "acme")
    schema = api.runtime.settings.snowflake.schema_name
    warehouse = EmbeddedWarehouse(warehouse_data_dir)
    connection = create(acme.client, embedded_body("c", schema, {"type": "password", "password": PASSWORD}))
    warehouse.refuse("CREATE STAGE", "MONDAY", schema)
    try:
        report = acme.client.post(f"/connections/{connection['id']}/test").json()
        assert report["ok"] is False
        found = checks(report)
        assert found["create_stage"]["status"] == "missing"
        assert "CREATE STAGE" in found["create_stage"]["message"]
        assert "Insufficient privileges" in found["create_stage"]["message"]  # Snowflake's own words
        assert found["create_stage"][
            "grant"
        ] == f'GRANT CREATE STAGE ON SCHEMA "MONDAY"."{schema}" TO ROLE ' + ("<the connection's role>")
        assert [n for n, c in found.items() if c["status"] not in ("ok", "skipped")] == ["create_stage"]
        # Another schema is not affected.
        elsewhere = acme.client.post(f"/connections/{connection['id']}/test", params={"schema": "PUBLIC"})
        assert elsewhere.json()["ok"] is True

        refused = acme.client.post(
            "/integrations",
            json={
                "board_id": str(api.board.board.id),
                "monday_token": MONDAY_TOKEN,
                "monday_api_url": api.board.api_url,
            },
        )
        assert refused.status_code == 403, refused.text
        assert "CREATE STAGE" in refused.json()["error"]
        assert f'GRANT CREATE STAGE ON SCHEMA "MONDAY"."{schema}"' in refused.json()["grant"]
        assert acme.client.get("/integrations").json() == []

        warehouse.refuse("CREATE TABLE", "MONDAY", schema)
        both = checks(acme.client.post(f"/connections/{connection['id']}/test").json())
        assert (both["create_table"]["status"], both["create_stage"]["status"]) == ("missing", "missing")
        assert both["create_table"]["grant"].startswith(f'GRANT CREATE TABLE ON SCHEMA "MONDAY"."{schema}"')
    finally:
        warehouse.allow("CREATE STAGE", "MONDAY", schema)
        warehouse.allow("CREATE TABLE", "MONDAY", schema)
    assert acme.client.post(f"/connections/{connection['id']}/test").json()["ok"] is True
    created = api.create_integration(acme, name="now-allowed")
    assert created["target_schema"] == schema


# -- Snowflake OAuth -------------------------------------------------------------------------------


@dataclass
class TokenEndpoint:
    """Snowflake's `/oauth/token-request` in miniature: one authorization code, one refresh token."""

    url: str
    requests: list[dict[str, str]] = field(default_factory=list)
    used_codes: set[str] = field(default_factory=set)
    expires_in: int = 600


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            endpoint.requests.append(form)
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if self.path != "/oauth/token-request" or self.headers.get("Authorization") != f"Basic {basic}":
                return self.answer(401, {"error": "invalid_client"})
            grant = form.get("grant_type")
            if grant == "authorization_code" and form.get("code") == CODE and CODE not in endpoint.used_codes:
                endpoint.used_codes.add(CODE)
                tokens = {
                    "access_token": ACCESS_1,
                    "refresh_token": REFRESH,
                    "expires_in": endpoint.expires_in,
                }
                return self.answer(200, {**tokens, "token_type": "Bearer", "username": "LOADER"})
            if grant == "refresh_token" and form.get("refresh_token") == REFRESH:
                return self.answer(200, {"access_token": ACCESS_2, "expires_in": 600, "token_type": "Bearer"})
            return self.answer(400, {"error": "invalid_grant"})

        def answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


def oauth_connection(client: httpx.Client, endpoint: TokenEndpoint, name: str = "oauth") -> dict[str, Any]:
    auth = {
        "type": "oauth",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_url": f"{endpoint.url}/oauth/authorize",
        "token_url": f"{endpoint.url}/oauth/token-request",
    }
    return create(client, embedded_body(name, "PUBLIC", auth))


def authorize(client: httpx.Client, connection_id: str) -> dict[str, str]:
    """The query the browser would take to Snowflake's authorize page."""
    response = client.get("/connections/snowflake/oauth/authorize", params={"connection": connection_id})
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    return {k: v[0] for k, v in parse_qs(location.query).items()} | {"_path": location.path}


def test_snowflake_oauth_authorizes_once_per_state_stores_tokens_encrypted_and_refreshes(
    api: Api, token_endpoint: TokenEndpoint, logged: None
) -> None:
    acme = tenant(api, "acme")
    browser = api.client()  # the callback comes from the user's browser, without an API key
    browser.event_hooks["response"].append(no_secrets)
    connection = oauth_connection(acme.client, token_endpoint)
    assert connection["status"] == "disconnected" and connection["oauth"]["authorized"] is False
    assert connection["config"]["oauth_redirect_uri"] == f"{api.url}/connections/snowflake/oauth/callback"

    query = authorize(acme.client, connection["id"])
    assert query["_path"] == "/oauth/authorize"
    assert (query["response_type"], query["client_id"]) == ("code", CLIENT_ID)
    assert query["redirect_uri"] == connection["config"]["oauth_redirect_uri"]
    state = query["state"]

    # Forged states: another nonce for the same connection, or none at all. Nothing is exchanged.
    conn_id, _, nonce = state.partition(".")
    for forged in (f"{conn_id}.{nonce[::-1]}", f"{uuid.uuid4()}.{nonce}", nonce, ""):
        refused = browser.get("/connections/snowflake/oauth/callback", params={"state": forged, "code": CODE})
        assert refused.status_code == 401, (forged, refused.text)
        assert "state" in refused.json()["error"]
    assert token_endpoint.requests == []

    done = browser.get("/connections/snowflake/oauth/callback", params={"state": state, "code": CODE})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "connected"
    assert [r["grant_type"] for r in token_endpoint.requests] == ["authorization_code"]
    assert token_endpoint.requests[0]["redirect_uri"] == connection["config"]["oauth_redirect_uri"]
    secret = api.runtime.store.connection_secret(connection["id"])
    assert (secret["token"], secret["refresh_token"]) == (ACCESS_1, REFRESH)
    shown = acme.client.get(f"/connections/{connection['id']}").json()
    assert shown["status"] == "connected" and shown["oauth"]["authorized"] is True

    replayed = browser.get("/connections/snowflake/oauth/callback", params={"state": state, "code": CODE})
    assert replayed.status_code == 401  # a state works once
    assert len(token_endpoint.requests) == 1

    # A token still valid is used as is; one about to expire is refreshed when a session opens.
    assert acme.client.post(f"/connections/{connection['id']}/test").json()["ok"] is True
    assert len(token_endpoint.requests) == 1
    soon = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
    api.runtime.store.set_connection_secret(connection["id"], {**secret, "expires_at": soon})
    assert acme.client.post(f"/connections/{connection['id']}/test").json()["ok"] is True
    assert [r["grant_type"] for r in token_endpoint.requests] == ["authorization_code", "refresh_token"]
    refreshed = api.runtime.store.connection_secret(connection["id"])
    assert (refreshed["token"], refreshed["refresh_token"]) == (ACCESS_2, REFRESH)
    assert datetime.fromisoformat(refreshed["expires_at"]) > datetime.now(UTC) + timedelta(minutes=5)


def test_an_expired_state_a_bad_code_or_a_refusal_are_4xx_and_leave_the_connection_unauthorized(
    api: Api, token_endpoint: TokenEndpoint, logged: None
) -> None:
    acme = tenant(api, "acme")
    browser = api.client()
    connection = oauth_connection(acme.client, token_endpoint)
    callback = "/connections/snowflake/oauth/callback"
    unauthorized = acme.client.post(f"/connections/{connection['id']}/test").json()
    assert unauthorized["ok"] is False
    assert checks(unauthorized)["connect"]["status"] == "failed"
    assert "token" in checks(unauthorized)["connect"]["message"]

    state = authorize(acme.client, connection["id"])["state"]
    store = api.runtime.store
    secret = store.connection_secret(connection["id"])
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    store.set_connection_secret(connection["id"], {**secret, "oauth_state_expires_at": past})
    assert browser.get(callback, params={"state": state, "code": CODE}).status_code == 401

    state = authorize(acme.client, connection["id"])["state"]
    bad_code = browser.get(callback, params={"state": state, "code": "not-the-code"})
    assert bad_code.status_code == 401 and "invalid_grant" in bad_code.json()["error"]

    state = authorize(acme.client, connection["id"])["state"]
    denied = browser.get(callback, params={"state": state, "error": "access_denied"})
    assert denied.status_code == 403 and "access_denied" in denied.json()["error"]

    # A newer authorization replaces the older state: only the latest works.
    older = authorize(acme.client, connection["id"])["state"]
    newer = authorize(acme.client, connection["id"])["state"]
    assert browser.get(callback, params={"state": older, "code": CODE}).status_code == 401
    shown = acme.client.get(f"/connections/{connection['id']}").json()
    assert shown["status"] == "disconnected" and shown["oauth"]["authorized"] is False
    assert "token" not in store.connection_secret(connection["id"])
    assert browser.get(callback, params={"state": newer, "code": CODE}).status_code == 200

    password = create(acme.client, embedded_body("pw", "PUBLIC", {"type": "password", "password": PASSWORD}))
    not_oauth = acme.client.get(
        "/connections/snowflake/oauth/authorize", params={"connection": password["id"]}
    )
    assert not_oauth.status_code == 422
    plain_http = acme.client.post(
        "/connections/snowflake",
        json=embedded_body(
            "remote",
            "PUBLIC",
            {
                "type": "oauth",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorize_url": "http://snowflake.example.com/oauth/authorize",
                "token_url": f"{token_endpoint.url}/oauth/token-request",
            },
        ),
    )
    assert plain_http.status_code == 422 and "https" in plain_http.json()["error"]


# -- tenants ---------------------------------------------------------------------------------------


def test_another_accounts_key_finds_none_of_its_connections_and_changes_nothing(
    api: Api, token_endpoint: TokenEndpoint, logged: None
) -> None:
    a, b = tenant(api, "a"), tenant(api, "b")
    a_pat = create(
        a.client, embedded_body("a-pat", "PUBLIC", {"type": "programmatic_access_token", "token": PAT})
    )
    a_oauth = oauth_connection(a.client, token_endpoint, "a-oauth")
    b_own = create(b.client, embedded_body("b-pw", "PUBLIC", {"type": "password", "password": PASSWORD}))
    store = api.runtime.store
    before = {c: (store.connection_secret(c), store.get_connection(c)) for c in (a_pat["id"], a_oauth["id"])}

    attempts: dict[str, Callable[[], httpx.Response]] = {
        "get": lambda: b.client.get(f"/connections/{a_pat['id']}"),
        "rotate": lambda: b.client.put(
            f"/connections/{a_pat['id']}/credentials",
            json={"auth": {"type": "programmatic_access_token", "token": PAT_ROTATED}},
        ),
        "test": lambda: b.client.post(f"/connections/{a_pat['id']}/test"),
        "authorize": lambda: b.client.get(
            "/connections/snowflake/oauth/authorize", params={"connection": a_oauth["id"]}
        ),
    }
    for what, attempt in attempts.items():
        response = attempt()
        assert response.status_code == 404, (what, response.text)
        assert "a-pat" not in response.text and "a-oauth" not in response.text
    assert [c["id"] for c in b.client.get("/connections").json()] == [b_own["id"]]
    after = {c: (store.connection_secret(c), store.get_connection(c)) for c in before}
    assert after == before  # no state issued, no secret replaced
    # Every route needs a key, except the OAuth callback, which needs a state instead.
    anonymous = api.client()
    for method, path in (
        ("POST", "/connections/snowflake"),
        ("GET", "/connections"),
        ("GET", f"/connections/{a_pat['id']}"),
        ("PUT", f"/connections/{a_pat['id']}/credentials"),
        ("POST", f"/connections/{a_pat['id']}/test"),
        ("GET", "/connections/snowflake/oauth/authorize"),
        ("GET", "/connections/snowflake/oauth/callback"),
    ):
        assert anonymous.request(method, path).status_code == 401, (method, path)


def test_a_token_saved_with_its_expiry_is_warned_about_ahead(api: Api) -> None:
    acme = tenant(api, "acme")
    expires = datetime.now(UTC) + timedelta(days=2)
    auth = {"type": "programmatic_access_token", "token": PAT, "expires_at": expires.isoformat()}
    pat = create(acme.client, embedded_body("expiring", "PUBLIC", auth))
    later = create(
        acme.client,
        embedded_body(
            "later",
            "PUBLIC",
            {**auth, "expires_at": (expires + timedelta(days=60)).isoformat()},
        ),
    )
    naive = acme.client.post(
        "/connections/snowflake",
        json=embedded_body("naive", "PUBLIC", {**auth, "expires_at": "2027-01-01T00:00"}),
    )
    assert naive.status_code == 422  # an expiry without a time zone would be a guess

    opened = api.service.alerter.check_expiring_credentials()

    assert [(a.cause, a.connection_id) for a in opened] == [("credential_expiring", pat["id"])]
    assert later["id"] not in {a.connection_id for a in api.runtime.store.list_alerts(acme.account_id)}
