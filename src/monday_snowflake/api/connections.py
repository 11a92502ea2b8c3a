"""Snowflake connections: create, list, test, rotate credentials, and authorize with Snowflake OAuth.

A connection's config (account, user, warehouse, database, schema, role, how it authenticates) is
stored in clear and returned; its credentials (token, password, private key, OAuth tokens) are
encrypted by the store and never leave the server: no route returns them and nothing logs them.

`POST /connections/{id}/test` opens a session with the stored credentials and runs the statements a
sync needs (see `snowflake.privileges`); the integration routes run the same check on a new target.
The OAuth callback is the one route without an API key: the one-time `state` it must carry (bound to
the connection it was issued for, kept hashed in that connection's secret, valid 10 minutes) stands in
for it, so a forged, replayed or expired state is refused (401) before the code is used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from monday_snowflake.api.deps import AccountDep, ServiceDep
from monday_snowflake.errors import (
    AuthenticationError,
    ConfigurationError,
    MondaySnowflakeError,
    NotFoundError,
    PermissionDeniedError,
)
from monday_snowflake.logs import get_logger
from monday_snowflake.model import Integration
from monday_snowflake.settings import SnowflakeSettings
from monday_snowflake.snowflake import oauth
from monday_snowflake.snowflake.connection import build_connect_kwargs
from monday_snowflake.snowflake.loader import SnowflakeWarehouse
from monday_snowflake.snowflake.privileges import CheckReport, check_connection
from monday_snowflake.store.records import OWNED_BY_ACCOUNT, ConnectionPublic

if TYPE_CHECKING:
    from monday_snowflake.runtime import Runtime

router = APIRouter()
log = get_logger(__name__)

STATE_TTL = timedelta(minutes=10)
STATE_KEYS = ("oauth_state_hash", "oauth_state_expires_at")
CALLBACK_ROUTE = "snowflake_oauth_callback"
_NAME = r"^[^\x00]{1,255}$"


# -- bodies ------------------------------------------------------------------------------------------


class TokenAuth(BaseModel):
    """A programmatic access token."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["programmatic_access_token"]
    token: SecretStr = Field(min_length=1)
    expires_at: AwareDatetime | None = None
    """When the token expires (Snowflake shows it when the token is made): an alert warns ahead."""


class PasswordAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["password"]
    password: SecretStr = Field(min_length=1)


class KeyPairAuth(BaseModel):
    """An RSA (or EC) private key in PEM, and its passphrase if it is encrypted."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["key_pair"]
    private_key: SecretStr = Field(min_length=1, max_length=20_000)
    passphrase: SecretStr | None = None


class OAuthAuth(BaseModel):
    """A Snowflake OAuth security integration's client; tokens come from the authorization flow."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["oauth"]
    client_id: str = Field(min_length=1, max_length=1000)
    client_secret: SecretStr = Field(min_length=1)
    authorize_url: str | None = None
    """Default: `https://<account>.snowflakecomputing.com/oauth/authorize`."""
    token_url: str | None = None
    """Default: `https://<account>.snowflakecomputing.com/oauth/token-request`."""
    redirect_uri: str | None = None
    """Default: this server's `/connections/snowflake/oauth/callback`, as the request reached it."""
    scope: str | None = Field(default=None, max_length=1000)


Auth = Annotated[TokenAuth | PasswordAuth | KeyPairAuth | OAuthAuth, Field(discriminator="type")]


class SnowflakeConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)
    mode: Literal["snowflake", "embedded"] = "snowflake"
    """`embedded`: the server's embedded warehouse (only when the server runs one)."""
    account: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,255}$")
    user: str | None = Field(default=None, pattern=_NAME)
    warehouse: str | None = Field(default=None, pattern=_NAME)
    database: str = Field(default="MONDAY", pattern=_NAME)
    schema_name: str = Field(default="PUBLIC", pattern=_NAME)
    role: str | None = Field(default=None, pattern=_NAME)
    auth: Auth


class CredentialsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auth: Auth


# -- routes --------------------------------------------------------------------------------------------


@router.post("/connections/snowflake", status_code=201, tags=["connections"])
def create_snowflake_connection(
    body: SnowflakeConnectionCreate, request: Request, service: ServiceDep, account: AccountDep
) -> dict[str, Any]:
    """Store a Snowflake connection, its credentials encrypted. An OAuth connection is `disconnected`
    until authorized (`GET /connections/snowflake/oauth/authorize?connection=<id>`)."""
    if body.mode == "embedded" and service.settings.snowflake.mode != "embedded":
        raise ConfigurationError("mode: this server has no embedded warehouse", field="mode")
    if body.mode == "snowflake":
        for field in ("account", "user"):
            if not getattr(body, field):
                raise ConfigurationError(f"{field}: required to connect to Snowflake", field=field)
    config: dict[str, Any] = {
        "mode": body.mode,
        "account": body.account,
        "user": body.user,
        "authenticator": body.auth.type,
        "warehouse": body.warehouse,
        "database": body.database,
        "schema_name": body.schema_name,
        "role": body.role,
        "owner": OWNED_BY_ACCOUNT,
    }
    if isinstance(body.auth, OAuthAuth):
        config.update(_oauth_config(body.auth, body.account, request))
    secret = _secret(body.auth, config)
    store = service.store
    created = store.create_connection(account, "snowflake", body.name, config, secret)
    if isinstance(body.auth, OAuthAuth):
        created = store.set_connection_status(created.id, "disconnected", account_id=account)
    log.info("snowflake connection created", connection_id=created.id, auth=body.auth.type)
    return _connection_out(service, created)


@router.get("/connections", tags=["connections"])
def list_connections(service: ServiceDep, account: AccountDep) -> list[dict[str, Any]]:
    """The account's connections (monday and Snowflake), without their credentials."""
    return [_connection_out(service, c) for c in service.store.list_connections(account)]


@router.get("/connections/{connection_id}", tags=["connections"])
def get_connection(connection_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    return _connection_out(service, service.store.get_connection(connection_id, account_id=account))


@router.put("/connections/{connection_id}/credentials", tags=["connections"])
def rotate_credentials(
    connection_id: str, body: CredentialsUpdate, request: Request, service: ServiceDep, account: AccountDep
) -> dict[str, Any]:
    """Replace the credentials (same kind of auth). New OAuth client credentials drop the tokens: the
    connection is authorized again."""
    found = _snowflake(service, connection_id, account)
    if body.auth.type != found.config.get("authenticator"):
        raise ConfigurationError(
            f"auth.type: this connection authenticates with {found.config.get('authenticator')}; "
            "create a new connection to change how",
            field="auth.type",
        )
    config = dict(found.config)
    if isinstance(body.auth, OAuthAuth) and body.auth.client_id != config.get("oauth_client_id"):
        raise ConfigurationError("auth.client_id: a new OAuth client needs a new connection")
    service.store.set_connection_secret(found.id, _secret(body.auth, config), account_id=account)
    status = "disconnected" if isinstance(body.auth, OAuthAuth) else "connected"
    updated = service.store.set_connection_status(found.id, status, account_id=account)
    log.info("snowflake credentials replaced", connection_id=found.id)
    return _connection_out(service, updated)


@router.post("/connections/{connection_id}/test", tags=["connections"])
def test_connection(
    connection_id: str,
    service: ServiceDep,
    account: AccountDep,
    database: Annotated[str | None, Query(pattern=_NAME)] = None,
    schema: Annotated[str | None, Query(pattern=_NAME)] = None,
) -> dict[str, Any]:
    """Connect, run a trivial query, and check USAGE on the warehouse and schema and CREATE TABLE and
    CREATE STAGE in the schema (the connection's own, or `database`/`schema`). 200 with every check's
    result; `ok` is false when one is missing, each naming the GRANT that fixes it."""
    found = _snowflake(service, connection_id, account)
    report = check_stored_connection(service.runtime, found.id, account, database=database, schema=schema)
    log.info("snowflake connection tested", connection_id=found.id, ok=report.ok)
    return {"connection_id": found.id, **report.to_json()}


@router.get("/connections/snowflake/oauth/authorize", tags=["connections"])
def oauth_authorize(
    service: ServiceDep, account: AccountDep, connection: Annotated[str, Query(min_length=1)]
) -> RedirectResponse:
    """Redirect to the account's Snowflake authorize page, with a new one-time `state`."""
    found = _snowflake(service, connection, account)
    config = found.config
    if config.get("authenticator") != "oauth":
        raise ConfigurationError("connection: this connection does not authenticate with OAuth")
    nonce = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + STATE_TTL
    secret = service.store.connection_secret(found.id, account_id=account)
    secret.update(oauth_state_hash=_hash(nonce), oauth_state_expires_at=expires_at.isoformat())
    service.store.set_connection_secret(found.id, secret, account_id=account, resolves=False)
    url = oauth.authorize_url(
        str(config["oauth_authorize_url"]),
        client_id=str(config["oauth_client_id"]),
        redirect_uri=str(config["oauth_redirect_uri"]),
        state=f"{found.id}.{nonce}",
        scope=config.get("oauth_scope"),
    )
    return RedirectResponse(url, status_code=302)


@router.get("/connections/snowflake/oauth/callback", name=CALLBACK_ROUTE, tags=["connections"])
def oauth_callback(
    service: ServiceDep,
    state: Annotated[str | None, Query(max_length=500)] = None,
    code: Annotated[str | None, Query(max_length=5000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Where Snowflake sends the browser back. The state is checked and spent first; then the code is
    exchanged for tokens, stored encrypted, and the connection is `connected`."""
    connection_id, secret = _spend_state(service, state)
    store = service.store
    if error:
        raise PermissionDeniedError(f"Snowflake did not authorize the connection: {error[:100]}")
    if not code:
        raise ConfigurationError("code: the callback carries no authorization code", field="code")
    config = store.get_connection(connection_id).config
    tokens = oauth.exchange_code(
        token_url=str(config["oauth_token_url"]),
        client_id=str(config["oauth_client_id"]),
        client_secret=str(secret["client_secret"]),
        code=code,
        redirect_uri=str(config["oauth_redirect_uri"]),
    )
    store.set_connection_secret(connection_id, {**secret, **tokens})
    store.set_connection_status(connection_id, "connected")
    log.info("snowflake connection authorized", connection_id=connection_id)
    return {"connection_id": connection_id, "status": "connected", "expires_at": tokens["expires_at"]}


# -- shared with the integration routes ------------------------------------------------------------


def check_stored_connection(
    runtime: Runtime,
    connection_id: str | None,
    account_id: str,
    *,
    database: str | None = None,
    schema: str | None = None,
) -> CheckReport:
    """The privilege checks of `POST /connections/{id}/test` on a stored connection, or (None) on the
    warehouse the server's settings describe, for `database`.`schema` (default: the connection's)."""
    if connection_id is None:
        config = runtime.settings.snowflake
        opener: Callable[[], SnowflakeWarehouse] = runtime.open_warehouse
    else:
        config = SnowflakeSettings.model_validate(
            runtime.store.get_connection(connection_id, account_id=account_id).config
        )

        def opener() -> SnowflakeWarehouse:
            return runtime.open_warehouse(connection_id, account_id)

    return check_connection(
        opener,
        database=database or config.database,
        schema=schema or config.schema_name,
        warehouse=config.warehouse,
        role=config.role,
    )


def check_target_privileges(
    runtime: Runtime, connection_id: str | None, account_id: str, database: str, schema: str
) -> None:
    """Refuse a target the connection cannot sync to: 403 naming the missing privilege and its GRANT
    (422 if the check could not run)."""
    check_stored_connection(
        runtime, connection_id, account_id, database=database, schema=schema
    ).raise_unless_ok()


def check_integration_target(runtime: Runtime, integration: Integration) -> None:
    """`check_target_privileges` on an integration's own connection and target schema."""
    check_target_privileges(
        runtime,
        integration.snowflake_connection_id,
        integration.account_id,
        integration.target_database,
        integration.target_schema,
    )


# -- helpers ----------------------------------------------------------------------------------------


def _snowflake(service: ServiceDep, connection_id: str, account: str) -> ConnectionPublic:
    found = service.store.get_connection(connection_id, account_id=account)
    if found.kind != "snowflake":
        raise NotFoundError(f"snowflake connection '{connection_id}' not found")
    return found


def _oauth_config(auth: OAuthAuth, account: str | None, request: Request) -> dict[str, Any]:
    default_authorize, default_token = oauth.default_urls(account or "")
    if account is None and (auth.authorize_url is None or auth.token_url is None):
        raise ConfigurationError(
            "auth: an OAuth connection without an account needs authorize_url and token_url"
        )
    redirect = auth.redirect_uri or str(request.url_for(CALLBACK_ROUTE))
    return {
        "oauth_client_id": auth.client_id,
        "oauth_authorize_url": oauth.checked_url(
            auth.authorize_url or default_authorize, "auth.authorize_url"
        ),
        "oauth_token_url": oauth.checked_url(auth.token_url or default_token, "auth.token_url"),
        "oauth_redirect_uri": oauth.checked_url(redirect, "auth.redirect_uri"),
        "oauth_scope": auth.scope,
    }


def _secret(
    auth: TokenAuth | PasswordAuth | KeyPairAuth | OAuthAuth, config: dict[str, Any]
) -> dict[str, str]:
    """The credentials to encrypt; a key pair is loaded first, so a bad key or passphrase is a 422 now
    rather than a failed run later."""
    if isinstance(auth, TokenAuth):
        token = {"token": auth.token.get_secret_value()}
        return (
            token if auth.expires_at is None else {**token, "token_expires_at": auth.expires_at.isoformat()}
        )
    if isinstance(auth, PasswordAuth):
        return {"password": auth.password.get_secret_value()}
    if isinstance(auth, KeyPairAuth):
        secret = {"private_key": auth.private_key.get_secret_value()}
        if auth.passphrase is not None:
            secret["private_key_passphrase"] = auth.passphrase.get_secret_value()
        probe = SnowflakeSettings(mode="snowflake", account="check", user="check", authenticator="key_pair")
        build_connect_kwargs(probe, secret)
        return secret
    return {
        "client_secret": auth.client_secret.get_secret_value(),
        "client_id": auth.client_id,
        "token_url": str(config["oauth_token_url"]),
    }


def _spend_state(service: ServiceDep, state: str | None) -> tuple[str, dict[str, Any]]:
    """The connection a state was issued for, and its secret with the state removed (stored at once,
    so the state works once). Anything wrong is the same 401, saying nothing about which part."""
    refused = AuthenticationError("the OAuth state is missing, unknown, expired or already used")
    connection_id, _, nonce = (state or "").partition(".")
    if not connection_id or not nonce:
        raise refused
    store = service.store
    try:
        found = store.get_connection(connection_id)
    except MondaySnowflakeError:
        raise refused from None
    if found.kind != "snowflake":
        raise refused
    spent: dict[str, Any] = {}

    def spend(secret: dict[str, Any]) -> dict[str, Any]:
        # under the connection's lock, so two callbacks with one state cannot both get past here
        expected = str(secret.get("oauth_state_hash") or "")
        if not expected or not hmac.compare_digest(expected, _hash(nonce)):
            raise refused
        spent["expires"] = str(secret.get("oauth_state_expires_at") or "")
        return {k: v for k, v in secret.items() if k not in STATE_KEYS}

    secret = store.renew_connection_secret(connection_id, spend, resolves=False)
    expires = spent["expires"]
    if not expires or datetime.fromisoformat(expires) < datetime.now(UTC):
        raise refused
    return connection_id, secret


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _connection_out(service: ServiceDep, connection: ConnectionPublic) -> dict[str, Any]:
    """A connection as anyone may see it: config, status, and whether OAuth tokens are held and till
    when; never a credential."""
    out: dict[str, Any] = {
        "id": connection.id,
        "kind": connection.kind,
        "name": connection.name,
        "config": connection.config,
        "status": connection.status,
        "created_at": connection.created_at,
        "updated_at": connection.updated_at,
    }
    if connection.kind == "snowflake" and connection.config.get("authenticator") == "oauth":
        secret = service.store.connection_secret(connection.id, account_id=connection.account_id)
        out["oauth"] = {"authorized": bool(secret.get("token")), "expires_at": secret.get("expires_at")}
    return out
