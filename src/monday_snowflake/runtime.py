"""Wiring: builds the store, the monday client and the warehouse from one `Settings` object.

Commands, the demo and tests create a `Runtime`; nothing here is global.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from monday_snowflake.errors import ConfigurationError, TransientError
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.reverse.sync import ReverseSyncer
from monday_snowflake.settings import Settings, SnowflakeSettings
from monday_snowflake.snowflake.connection import SnowflakeWarehouse, connect
from monday_snowflake.store.crypto import load_or_create_key
from monday_snowflake.store.db import make_engine, upgrade
from monday_snowflake.store.repository import Store
from monday_snowflake.sync.replicate import BoardReplicator

# Fields of SnowflakeSettings that are secrets: kept in the encrypted part of a connection.
SNOWFLAKE_SECRET_FIELDS = ("password", "token", "private_key_passphrase")


class Runtime:
    """The product's parts for one settings object."""

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url()
        try:
            engine = make_engine(url)
            if migrate:
                upgrade(engine)
        except SQLAlchemyError as exc:
            shown = make_url(url).render_as_string(hide_password=True)
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise TransientError(f"the state database at {shown} is not reachable: {reason}") from exc
        self.store = Store(engine, load_or_create_key(settings))

    def monday_client(
        self, token: str, api_url: str | None = None, renew_token: Callable[[], Awaitable[str]] | None = None
    ) -> MondayClient:
        monday = self.settings.monday
        if api_url:
            monday = monday.model_copy(update={"api_url": api_url})
        return MondayClient(monday, token, renew_token=renew_token)

    def open_warehouse(
        self, connection_id: str | None = None, account_id: str | None = None
    ) -> SnowflakeWarehouse:
        """The warehouse of a stored connection (of `account_id`, when given), or the one the settings
        describe. OAuth tokens refreshed on the way are stored back, through the store's
        `set_connection_secret` like every credential change."""
        if connection_id is None:
            return connect(self.settings.snowflake, None, data_dir=self.settings.data_dir)
        store = self.store
        config = SnowflakeSettings.model_validate(
            store.get_connection(connection_id, account_id=account_id).config
        )
        secret = store.connection_secret(connection_id, account_id=account_id)
        if config.authenticator == "oauth" and not secret.get("token"):
            raise ConfigurationError(
                "the OAuth connection is not authorized yet (no access token): "
                f"GET /connections/snowflake/oauth/authorize?connection={connection_id}"
            )

        def keep(refreshed: dict[str, str]) -> None:
            store.set_connection_secret(connection_id, refreshed, account_id=account_id)

        return connect(config, secret, data_dir=self.settings.data_dir, on_refresh=keep)

    def replicator(self) -> BoardReplicator:
        return BoardReplicator(self.settings, self.store, self.monday_client, self.open_warehouse)

    def reverse_syncer(self) -> ReverseSyncer:
        return ReverseSyncer(self.settings, self.store, self.monday_client, self.open_warehouse)

    def snowflake_connection_payload(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Split the settings' Snowflake part into stored config and encrypted secret."""
        snowflake = self.settings.snowflake
        config = snowflake.model_dump(mode="json", exclude=set(SNOWFLAKE_SECRET_FIELDS))
        secret = {
            name: value.get_secret_value()
            for name in SNOWFLAKE_SECRET_FIELDS
            if (value := getattr(snowflake, name)) is not None
        }
        return config, secret

    def close(self) -> None:
        self.store.close()
