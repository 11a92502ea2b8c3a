"""Opening warehouse connections: connector arguments for every auth method, and the embedded default.

This is the one module that imports `snowflake.connector` to connect (classify.py imports its errors).
Secrets come from the decrypted `credentials` mapping first, then from the settings; they never reach a
log line or a repr.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.metrics import SNOWFLAKE_ERRORS, SNOWFLAKE_STATEMENTS, count_error
from monday_snowflake.settings import SnowflakeSettings
from monday_snowflake.snowflake.classify import classify_error
from monday_snowflake.snowflake.embedded import EmbeddedWarehouse
from monday_snowflake.snowflake.loader import SnowflakeWarehouse
from monday_snowflake.snowflake.oauth import fresh_credentials

__all__ = ["ConnectParams", "SnowflakeWarehouse", "build_connect_kwargs", "connect"]

APPLICATION = "monday-snowflake"
EMBEDDED_ACCOUNT = "fakesnow"
EMBEDDED_USER = "monday_snowflake"
# fakesnow accepts any login; this is not a secret.
EMBEDDED_PASSWORD = "embedded"  # noqa: S105
# fakesnow answers an unsupported statement with HTTP 500, which the connector retries until its
# network timeout; the default (none) would hang forever. Statements themselves may run long.
EMBEDDED_NETWORK_TIMEOUT_SECONDS = 30
EMBEDDED_SOCKET_TIMEOUT_SECONDS = 3600

SECRET_KEYS = frozenset(
    {"password", "token", "private_key", "private_key_passphrase", "private_key_file_pwd"}
)

StageCleaner = Callable[[str], None]


class ConnectParams(dict[str, Any]):
    """Keyword arguments for `snowflake.connector.connect` whose repr never shows a secret."""

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_KEYS and v is not None else v) for k, v in self.items()}
        return f"ConnectParams({shown!r})"

    __str__ = __repr__


def build_connect_kwargs(
    settings: SnowflakeSettings,
    credentials: Mapping[str, str] | None = None,
    *,
    embedded_address: tuple[str, int] | None = None,
) -> ConnectParams:
    """Connector arguments for the configured warehouse; pure apart from reading a private key file.

    `credentials` may hold `token`, `password`, `private_key` (PEM text) and `private_key_passphrase`;
    each falls back to the settings. `embedded_address` is required in embedded mode.
    """
    common: dict[str, Any] = {
        "database": settings.database,
        "schema": settings.schema_name,
        "login_timeout": settings.login_timeout_seconds,
        "application": APPLICATION,
        # server-side binding: values travel as bind parameters, never spliced into SQL text
        "paramstyle": "qmark",
        "autocommit": True,
    }
    if settings.mode == "embedded":
        if embedded_address is None:
            raise ConfigurationError("the embedded warehouse address is required in embedded mode")
        host, port = embedded_address
        given = credentials or {}
        return ConnectParams(
            host=host,
            port=port,
            protocol="http",
            account=EMBEDDED_ACCOUNT,
            user=EMBEDDED_USER,
            # a stored token or password is sent, so the embedded warehouse can refuse it (embedded_auth)
            password=given.get("token") or given.get("password") or EMBEDDED_PASSWORD,
            network_timeout=EMBEDDED_NETWORK_TIMEOUT_SECONDS,
            socket_timeout=EMBEDDED_SOCKET_TIMEOUT_SECONDS,
            **common,
        )

    if not settings.account:
        raise ConfigurationError("snowflake.account is required to connect to Snowflake")
    if not settings.user:
        raise ConfigurationError("snowflake.user is required to connect to Snowflake")
    params = ConnectParams(account=settings.account, user=settings.user, **common)
    if settings.warehouse:
        params["warehouse"] = settings.warehouse
    if settings.role:
        params["role"] = settings.role

    creds = credentials or {}
    auth = settings.authenticator
    if auth == "programmatic_access_token":
        params["authenticator"] = "PROGRAMMATIC_ACCESS_TOKEN"
        params["token"] = _required(creds, "token", settings.token, auth)
    elif auth == "oauth":
        params["authenticator"] = "oauth"
        params["token"] = _required(creds, "token", settings.token, auth)
    elif auth == "password":
        params["password"] = _required(creds, "password", settings.password, auth)
    elif auth == "key_pair":
        params["authenticator"] = "SNOWFLAKE_JWT"
        params["private_key"] = _load_private_key(settings, creds)
    else:  # pragma: no cover - the settings type admits no other value
        raise ConfigurationError(f"unsupported Snowflake authenticator {auth!r}")
    return params


def connect(
    settings: SnowflakeSettings,
    credentials: Mapping[str, str] | None,
    *,
    data_dir: Path,
    on_refresh: Callable[[dict[str, str]], None] | None = None,
) -> SnowflakeWarehouse:
    """Open a warehouse session: the embedded one (started if needed) or a Snowflake account. OAuth
    credentials about to expire are refreshed first; `on_refresh` gets the new ones to store."""
    import snowflake.connector

    if settings.authenticator == "oauth" and credentials:
        refreshed = fresh_credentials(credentials)
        if refreshed is not None:
            credentials = refreshed
            if on_refresh is not None:
                on_refresh(refreshed)

    cleaner: StageCleaner | None = None
    address: tuple[str, int] | None = None
    served_here = False
    if settings.mode == "embedded":
        embedded = EmbeddedWarehouse(data_dir)
        address = embedded.ensure_running()
        served_here = embedded.is_served_here()
        info = embedded.read_info()
        cleaner = _embedded_stage_cleaner(Path(info.stage_root) if info else embedded.stage_root)
    params = build_connect_kwargs(settings, credentials, embedded_address=address)
    SNOWFLAKE_STATEMENTS.labels("connect").inc()
    try:
        conn = snowflake.connector.connect(**params)
    except Exception as exc:
        error = classify_error(exc)
        count_error(SNOWFLAKE_ERRORS, error)
        raise error from exc
    is_embedded = settings.mode == "embedded"
    return SnowflakeWarehouse(
        conn,
        stage_cleaner=cleaner,
        merge_in_transaction=not is_embedded,
        embedded_name_rules=is_embedded,
        runs_in_this_process=served_here,
    )


def _embedded_stage_cleaner(stage_root: Path) -> StageCleaner:
    """fakesnow cannot REMOVE staged files; delete them from its file store instead.

    fakesnow keeps an internal stage at `<stage_root>/<DATABASE>/<SCHEMA>/<STAGE>/<path>`; the loader's
    paths end in a random token, so matching any database, schema and stage is exact enough.
    """
    root = stage_root.resolve()

    def clean(path_in_stage: str) -> None:
        for target in root.glob(f"*/*/*/{path_in_stage.strip('/')}"):
            if target.resolve().is_relative_to(root) and target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
                with contextlib.suppress(OSError):
                    target.parent.rmdir()  # the run's folder, once its last load is cleaned up

    return clean


def _required(creds: Mapping[str, str], key: str, fallback: SecretStr | None, auth: str) -> str:
    value = creds.get(key) or (fallback.get_secret_value() if fallback is not None else None)
    if not value:
        raise ConfigurationError(f"Snowflake auth {auth!r} needs a {key}, and none is configured")
    return value


def _load_private_key(settings: SnowflakeSettings, creds: Mapping[str, str]) -> Any:
    """The private key object (RSA or EC) the connector signs its JWT with; never its bytes."""
    from cryptography.hazmat.primitives import serialization

    pem: bytes
    if creds.get("private_key"):
        pem = creds["private_key"].encode()
    elif settings.private_key_path is not None:
        try:
            pem = Path(settings.private_key_path).expanduser().read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                "cannot read the Snowflake private key file", path=str(settings.private_key_path)
            ) from exc
    else:
        raise ConfigurationError("Snowflake auth 'key_pair' needs a private key (file or stored key)")
    passphrase = creds.get("private_key_passphrase") or (
        settings.private_key_passphrase.get_secret_value() if settings.private_key_passphrase else None
    )
    try:
        return serialization.load_pem_private_key(pem, password=passphrase.encode() if passphrase else None)
    except (ValueError, TypeError) as exc:
        # The library's message can say whether a passphrase was wrong; it never includes key material.
        raise ConfigurationError(f"cannot load the Snowflake private key: {exc}") from exc
