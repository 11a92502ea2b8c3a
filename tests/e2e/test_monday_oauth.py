"""Installing the monday app with OAuth, end to end over HTTP: a browser (an httpx client with a cookie
jar) goes from our `/oauth/monday/authorize` to the sandbox's consent page and back to our callback,
which swaps the code at the sandbox's token endpoint. Both flows: classic, and OAuth 2.1 with PKCE and
rotating refresh tokens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from tests.e2e.conftest import Served
from tests.e2e.test_api import Api, api_settings, finished_run, serving, tcp_socket

from monday_sandbox.generator import seed_account
from monday_sandbox.oauth import pkce_challenge
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.app import oauth
from monday_snowflake.settings import MondayAppSettings
from monday_snowflake.store import Store
from monday_snowflake.store.app import APP_CONNECTION_NAME

MONDAY_TOKEN = "monday-pat-for-the-app-tests-0c9d"


@pytest.fixture
def board() -> Iterator[Served]:
    """A small sandbox of two boards per test (tests move its clock and change its boards)."""
    sandbox = Sandbox()
    seeded = seed_account(sandbox, boards=2, items=12, subitems=0, seed=41)[0]
    sandbox.add_token(MONDAY_TOKEN)
    with SandboxServer(sandbox) as server:
        yield Served(server, seeded)


@contextmanager
def app_serving(
    warehouse_dir: Path, database_url: str, board: Served, *, flow: str = "classic", run_worker: bool = True
) -> Iterator[Api]:
    """The API with the monday app configured against the sandbox; `public_url` is its own address."""
    sock = tcp_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandbox_settings = board.sandbox.settings
    base = api_settings(warehouse_dir, database_url, board.api_url)
    settings = base.model_copy(
        update={
            "public_url": url,
            "monday_app": MondayAppSettings(
                client_id=sandbox_settings.oauth_client_id,
                client_secret=SecretStr(sandbox_settings.oauth_client_secret),
                signing_secret=SecretStr(sandbox_settings.signing_secret),
                redirect_url=f"{url}/oauth/monday/callback",
                flow=flow,  # type: ignore[arg-type]
                auth_url=board.server.url,
                app_id="10000001",
            ),
        }
    )
    with serving(settings, board, sock=sock, run_worker=run_worker) as api:
        yield api


@pytest.fixture
def classic(warehouse_data_dir: Path, tmp_path: Path, board: Served) -> Iterator[Api]:
    with app_serving(warehouse_data_dir, f"sqlite:///{tmp_path / 'state.db'}", board) as api:
        yield api


@pytest.fixture
def oauth21(warehouse_data_dir: Path, database_url: str, board: Served) -> Iterator[Api]:
    """OAuth 2.1 on a fresh SQLite file, then on a fresh PostgreSQL schema."""
    with app_serving(warehouse_data_dir, database_url, board, flow="oauth21") as api:
        yield api


def start(api: Api, browser: httpx.Client, **params: str) -> str:
    """Our authorize endpoint, then monday's consent page: the callback URL monday sends back to."""
    first = browser.get(f"{api.url}/oauth/monday/authorize", params=params)
    assert first.status_code == 302, first.text
    consent = first.headers["location"]
    assert consent.startswith(f"{api.board.server.url}/oauth2/authorize?")
    assert "monday_oauth" in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]
    back = browser.get(consent)
    assert back.status_code == 302, back.text
    callback: str = back.headers["location"]
    assert callback.startswith(f"{api.url}/oauth/monday/callback?")
    return callback


def consent_query(api: Api, browser: httpx.Client) -> dict[str, list[str]]:
    first = browser.get(f"{api.url}/oauth/monday/authorize")
    return parse_qs(urlsplit(first.headers["location"]).query)


def install(api: Api, **params: str) -> dict[str, Any]:
    with httpx.Client(timeout=30) as browser:
        done = browser.get(start(api, browser, **params))
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    assert body["status"] == "installed"
    return body


def app_token(api: Api, account_id: str, *, force_refresh: bool = False) -> str:
    """The account's app token as every caller gets it (refreshed when due)."""
    connection = api.runtime.store.app_connection(account_id)
    assert connection is not None
    settings, store = api.runtime.settings, api.runtime.store
    return oauth.monday_credentials(settings, store, connection.id, force_refresh=force_refresh)[0]


def stored_token(api: Api, account_id: str) -> dict[str, Any]:
    connection = api.runtime.store.app_connection(account_id)
    assert connection is not None and connection.name == APP_CONNECTION_NAME
    return api.runtime.store.connection_secret(connection.id, account_id=account_id)


def test_classic_install_creates_the_account_and_stores_a_working_token_encrypted(classic: Api) -> None:
    api, sandbox = classic, classic.board.sandbox
    with httpx.Client(timeout=30) as browser:
        query = consent_query(api, browser)
    assert query["client_id"] == ["sandbox-client-id"] and "code_challenge" not in query  # classic: no PKCE
    assert query["redirect_uri"] == [f"{api.url}/oauth/monday/callback"]

    body = install(api)
    account = api.runtime.store.get_account(body["account_id"])
    assert account.external_id == str(sandbox.account.id) == body["monday_account_id"]
    secret = stored_token(api, account.id)
    assert set(secret) == {"token"}  # classic tokens never expire and come without a refresh token
    token = sandbox.data.tokens[secret["token"]]
    assert token.kind == "app" and token.user_id == sandbox.default_user().id
    assert secret["token"] not in str(body)
    with api.runtime.store.engine.connect() as conn:  # encrypted at rest
        raw = conn.exec_driver_sql("SELECT secret FROM connections").fetchall()
    assert raw and all(secret["token"] not in row[0] for row in raw)
    users = api.runtime.store.list_users(account.id)
    assert [u.email for u in users] == [sandbox.default_user().email]

    # Installing again (a re-authorization) keeps the account and replaces the token.
    again = install(api)
    assert again["account_id"] == account.id
    assert len(api.runtime.store.list_connections(account.id, kind="monday")) == 1
    assert stored_token(api, account.id)["token"] != secret["token"]
    assert len(api.runtime.store.list_users(account.id)) == 1


def test_a_replayed_mismatched_or_missing_state_is_refused_and_installs_nothing(classic: Api) -> None:
    api = classic
    with httpx.Client(timeout=30) as alice, httpx.Client(timeout=30) as mallory:
        alices_callback = start(api, alice)
        # Mallory's browser did not start this authorization: the state is not bound to its cookie.
        start(api, mallory)
        stolen = mallory.get(alices_callback)
        assert stolen.status_code == 403, stolen.text
        assert "state" in stolen.json()["error"]
        # Without any cookie at all.
        bare = httpx.get(alices_callback)
        assert bare.status_code == 403 and "cookie" in bare.json()["error"]
        assert api.runtime.store.account_ids() == []
        # Alice's own browser succeeds once (and the cookie is cleared); the same state and cookie
        # again are a replay.
        cookie = alice.cookies.get("monday_oauth")
        assert cookie
        assert alice.get(alices_callback).status_code == 200
        assert alice.cookies.get("monday_oauth") is None
        replay = httpx.get(alices_callback, cookies={"monday_oauth": cookie})
        assert replay.status_code == 403 and "already used" in replay.json()["error"]
    assert len(api.runtime.store.account_ids()) == 1


def test_an_expired_code_or_a_refused_consent_is_a_clear_400(classic: Api) -> None:
    api, clock = classic, classic.board.sandbox.clock
    with httpx.Client(timeout=30) as browser:
        callback = start(api, browser)
        clock.advance(601)  # monday's codes live 10 minutes
        expired = browser.get(callback)
        assert expired.status_code == 400, expired.text
        assert "invalid_grant" in expired.json()["error"]
        denied = browser.get(
            f"{api.url}/oauth/monday/callback", params={"error": "access_denied", "state": "x"}
        )
        assert denied.status_code == 400 and "access_denied" in denied.json()["error"]
    assert api.runtime.store.account_ids() == []
    unclear = httpx.get(f"{api.url}/oauth/monday/authorize", params={"drop_tables_on_uninstall": "maybe"})
    assert unclear.status_code == 422 and unclear.json()["field"] == "drop_tables_on_uninstall"


def test_a_callback_without_an_oauth_configuration_says_what_to_set(
    warehouse_data_dir: Path, tmp_path: Path, board: Served
) -> None:
    settings = api_settings(warehouse_data_dir, f"sqlite:///{tmp_path / 's.db'}", board.api_url)
    with serving(settings, board, run_worker=False) as api:
        response = httpx.get(f"{api.url}/oauth/monday/authorize", follow_redirects=False)
    assert response.status_code == 422
    assert "MONDAY_SNOWFLAKE_MONDAY_APP__CLIENT_ID" in response.json()["error"]


def test_oauth21_uses_pkce_and_refreshes_with_rotating_refresh_tokens(oauth21: Api) -> None:
    api, sandbox = oauth21, oauth21.board.sandbox
    apps_oauth = api.board.server.runtime.oauth
    with httpx.Client(timeout=30) as browser:
        query = consent_query(api, browser)
    assert query["code_challenge_method"] == ["S256"] and 43 <= len(query["code_challenge"][0]) <= 128

    apps_oauth.access_ttl_seconds = 3600
    account_id = install(api)["account_id"]
    first = stored_token(api, account_id)
    assert set(first) == {"token", "refresh_token", "expires_at"}
    assert first["token"] in sandbox.data.tokens
    # An hour left: used as it is.
    assert app_token(api, account_id) == first["token"]
    assert stored_token(api, account_id) == first

    # Less than 5 minutes left: refreshed first, and the rotated refresh token is stored.
    apps_oauth.access_ttl_seconds = 120
    account_id = install(api)["account_id"]
    short = stored_token(api, account_id)
    fresh = app_token(api, account_id)
    rotated = stored_token(api, account_id)
    assert fresh == rotated["token"] != short["token"]
    assert rotated["refresh_token"] != short["refresh_token"]
    assert fresh in sandbox.data.tokens

    # monday refuses a refresh token used before, and revokes what was issued from it since.
    reused = httpx.post(
        f"{api.board.server.url}/oauth_ms/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": short["refresh_token"],
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret-for-local-oauth-apps",
        },
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert fresh not in sandbox.data.tokens
    with pytest.raises(oauth.OAuthRefusedError, match="invalid_grant"):
        app_token(api, account_id, force_refresh=True)
    connection = api.runtime.store.app_connection(account_id)
    assert connection is not None and connection.status == "disconnected"


def test_the_oauth21_token_endpoint_requires_pkce(board: Served) -> None:
    """The sandbox side of the new flow: a code authorized without a challenge cannot be swapped."""
    server = board.server
    redirect = "https://app.example.com/cb"
    params = {"client_id": "sandbox-client-id", "redirect_uri": redirect, "state": "s"}

    def code(**extra: str) -> str:
        response = httpx.get(f"{server.url}/oauth2/authorize", params={**params, **extra})
        return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]

    form = {
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret-for-local-oauth-apps",
        "redirect_uri": redirect,
    }
    token_url = f"{server.url}/oauth_ms/oauth/token"
    plain = httpx.post(token_url, json={**form, "grant_type": "authorization_code", "code": code()})
    assert plain.status_code == 400 and "PKCE" in plain.json()["error_description"]
    verifier = "k" * 60
    wrong = httpx.post(
        token_url,
        json={**form, "grant_type": "authorization_code", "code_verifier": "j" * 60,
              "code": code(code_challenge=pkce_challenge(verifier), code_challenge_method="S256")},
    )  # fmt: skip
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    right = httpx.post(
        token_url,
        json={**form, "grant_type": "authorization_code", "code_verifier": verifier,
              "code": code(code_challenge=pkce_challenge(verifier), code_challenge_method="S256")},
    )  # fmt: skip
    assert right.status_code == 200 and right.json()["refresh_token"] and right.json()["expires_in"] == 3600


def test_a_stored_state_works_once_until_it_expires_and_keeps_its_verifier_encrypted(store: Store) -> None:
    now = datetime.now(UTC)
    store.save_oauth_state("a" * 64, flow="oauth21", code_verifier="verifier-xyz", options={"k": True},
                           expires_at=now + timedelta(minutes=10))  # fmt: skip
    with store.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT code_verifier FROM monday_oauth_states").scalar_one()
    assert "verifier-xyz" not in raw
    taken = store.take_oauth_state("a" * 64)
    assert taken is not None and (taken.code_verifier, taken.options, taken.flow) == (
        "verifier-xyz", {"k": True}, "oauth21",
    )  # fmt: skip
    assert store.take_oauth_state("a" * 64) is None  # once
    store.save_oauth_state("b" * 64, flow="classic", code_verifier=None, options={},
                           expires_at=now - timedelta(seconds=1))  # fmt: skip
    assert store.take_oauth_state("b" * 64) is None  # too late
    assert store.take_oauth_state("c" * 64) is None  # never issued


def test_a_trigger_state_is_saved_only_by_the_check_that_read_its_version(store: Store) -> None:
    account = store.create_account("acme", external_id="123")
    trigger = store.subscribe_trigger(account.id, kind="query_new_rows", subscription_id="9",
                                      webhook_url="https://example.com/x", integration_id=None,
                                      input_fields={"query": "SELECT 1"})  # fmt: skip
    assert store.save_trigger_state(trigger.id, trigger.version, {"seen": ["k1"]})
    assert not store.save_trigger_state(trigger.id, trigger.version, {"seen": ["k2"]})  # a slower check
    (saved,) = store.triggers("query_new_rows")
    assert (saved.state, saved.version) == ({"seen": ["k1"]}, trigger.version + 1)
    assert store.unsubscribe_trigger(account.id, "9") and store.triggers("query_new_rows") == []


def test_integrations_of_an_oauth21_install_refresh_its_token_when_they_run(oauth21: Api) -> None:
    """The app's token is the integration's: runs refresh it before it expires, and keep the rotated
    refresh token, so an install keeps working past its first access token."""
    api = oauth21
    api.board.server.runtime.oauth.access_ttl_seconds = 120  # under the 5 minutes runs keep in hand
    account_id = install(api)["account_id"]
    key, _ = api.runtime.store.create_api_key(account_id, "tests")
    client = api.client(key)
    created = client.post("/integrations", json={"board_id": str(api.board.board.id), "table": "APP_ITEMS"})
    assert created.status_code == 201, created.text
    integration = api.runtime.store.get_integration(created.json()["id"])
    app_connection = api.runtime.store.app_connection(account_id)
    assert app_connection is not None and integration.monday_connection_id == app_connection.id
    before = stored_token(api, account_id)

    assert client.post(f"/integrations/{integration.id}/runs").status_code == 202
    assert finished_run(client, integration.id)["status"] == "COMPLETED"

    after = stored_token(api, account_id)
    assert after["token"] != before["token"] and after["refresh_token"] != before["refresh_token"]
    assert after["token"] in api.board.sandbox.data.tokens


def test_callers_refreshing_one_token_at_once_refresh_it_once(oauth21: Api) -> None:
    """Runs of several integrations start together: each sees the token due, but one refresh token
    must be spent once, or monday revokes the whole family and the install dies."""
    api = oauth21
    api.board.server.runtime.oauth.access_ttl_seconds = 120
    account_id = install(api)["account_id"]
    connection = api.runtime.store.app_connection(account_id)
    assert connection is not None
    before = stored_token(api, account_id)
    start = threading.Barrier(6)

    def caller() -> str:
        start.wait()
        return oauth.monday_credentials(api.runtime.settings, api.runtime.store, connection.id)[0]

    with ThreadPoolExecutor(6) as pool:
        tokens = set(pool.map(lambda _: caller(), range(6)))

    after = stored_token(api, account_id)
    assert tokens == {after["token"]} and after["token"] != before["token"]
    assert after["token"] in api.board.sandbox.data.tokens, "the family was not revoked"
    still = api.runtime.store.app_connection(account_id)
    assert still is not None and still.status == "connected"


def test_a_run_whose_token_monday_refuses_refreshes_it_and_goes_on(oauth21: Api) -> None:
    """A token can die before its `exp` says (monday revoked it, a long run outlived it): the client
    asks for a fresh one on the 401 and sends the request again, instead of failing the run."""
    api = oauth21
    api.board.server.runtime.oauth.access_ttl_seconds = 3600  # far from due: no refresh up front
    account_id = install(api)["account_id"]
    key, _ = api.runtime.store.create_api_key(account_id, "tests")
    client = api.client(key)
    created = client.post("/integrations", json={"board_id": str(api.board.board.id), "table": "APP_ITEMS"})
    assert created.status_code == 201, created.text
    before = stored_token(api, account_id)
    api.board.sandbox.revoke_token(before["token"])

    assert client.post(f"/integrations/{created.json()['id']}/runs").status_code == 202
    assert finished_run(client, created.json()["id"])["status"] == "COMPLETED"

    after = stored_token(api, account_id)
    assert after["token"] != before["token"] and after["token"] in api.board.sandbox.data.tokens
    assert api.runtime.store.list_alerts(account_id) == []
