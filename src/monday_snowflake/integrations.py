"""Creating integrations: check the board and mapping against monday, then store the recipe."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from monday_snowflake.app.oauth import monday_credentials
from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import BoardSpec, ColumnMapping, Integration, IntegrationOptions, ReverseSpec
from monday_snowflake.reverse.recipe import check_reverse_recipe
from monday_snowflake.snowflake.naming import table_name_for_board
from monday_snowflake.store.records import OWNED_BY_INTEGRATION
from monday_snowflake.sync.layout import check_mapping

if TYPE_CHECKING:
    from monday_snowflake.runtime import Runtime
    from monday_snowflake.store import Store
    from monday_snowflake.store.records import ConnectionPublic


def create_integration(
    runtime: Runtime,
    *,
    board_id: str,
    name: str | None = None,
    monday_token: str | None = None,
    monday_url: str | None = None,
    table: str | None = None,
    database: str | None = None,
    schema: str | None = None,
    column_ids: Sequence[str | ColumnMapping] | None = None,
    exclude_columns: Sequence[str] = (),
    primary_key: str = "item_id",
    options: IntegrationOptions | None = None,
    sync_mode: str = "incremental",
    schedule: dict[str, Any] | None = None,
    account_id: str | None = None,
    reverse: ReverseSpec | None = None,
    monday_connection_id: str | None = None,
    snowflake_connection_id: str | None = None,
) -> Integration:
    """Validate the recipe against the live board, store the credentials encrypted, save the integration.
    With `reverse`, the integration writes Snowflake rows to the board instead; its recipe is checked
    against the board and the source (see `reverse.recipe`).

    `column_ids`: the columns copied, as ids or `ColumnMapping`s with a target name (default: all);
    `exclude_columns`: ids never copied (stored in the options).

    monday is reached with `monday_token`, else the account's stored connection
    `monday_connection_id`, else the account's monday app install, else the server's token. Snowflake
    is the stored connection `snowflake_connection_id` (its database and schema are the defaults),
    else the server's warehouse settings. Credentials given here are stored as connections of this
    integration alone, deleted with it; stored connections are shared and outlive it."""
    settings = runtime.settings
    store = runtime.store
    account = account_id or store.default_account().id
    monday = _monday_connection(store, account, monday_token, monday_connection_id)
    stored_token, stored_url = (
        (None, None) if monday is None else monday_credentials(settings, store, monday.id)
    )
    token = monday_token or stored_token
    token = token or (settings.monday.token.get_secret_value() if settings.monday.token else None)
    if not token:
        raise ConfigurationError(
            "a monday token is needed: pass --monday-token, install the monday app, "
            "or set MONDAY_SNOWFLAKE_MONDAY__TOKEN"
        )
    api_url = monday_url or stored_url or settings.monday.api_url
    snowflake = None
    if snowflake_connection_id is not None:
        snowflake = store.get_connection(snowflake_connection_id, account_id=account)
        if snowflake.kind != "snowflake":
            raise ConfigurationError(
                f"snowflake_connection_id: connection {snowflake.id} is a {snowflake.kind} connection",
                field="snowflake_connection_id",
            )
    board = asyncio.run(read_board(runtime, token, api_url, board_id))
    if primary_key.lower() not in ("item_id", "id") and board.column(primary_key) is None:
        raise ConfigurationError(
            f"primary_key: board {board_id} has no column {primary_key!r}", field="primary_key"
        )
    columns = tuple(c if isinstance(c, ColumnMapping) else ColumnMapping(c) for c in column_ids or ())
    options = options or IntegrationOptions()
    if exclude_columns:
        options = dataclasses.replace(options, exclude_columns=tuple(dict.fromkeys(exclude_columns)))
    check_mapping(board, columns, options.exclude_columns, primary_key=primary_key)
    check_display_errors_column(board, options, [c.column_id for c in columns])
    if reverse is not None:
        asyncio.run(check_reverse_recipe(runtime, token, api_url, board, reverse))
    name = _free_integration_name(store, account, name, board_id)
    stored = snowflake.config if snowflake is not None else {}
    database = database or stored.get("database") or settings.snowflake.database
    schema = schema or stored.get("schema_name") or settings.snowflake.schema_name
    if reverse is None:
        table = table or _free_table_name(runtime, account, board, database, schema)

    if monday is None or monday_token:
        config = {"api_url": api_url, "owner": OWNED_BY_INTEGRATION}
        monday = store.create_connection(account, "monday", f"{name} monday", config, {"token": token})
    if snowflake is None:
        config, secret = runtime.snowflake_connection_payload()
        config = {**config, "owner": OWNED_BY_INTEGRATION}
        snowflake = store.create_connection(account, "snowflake", f"{name} snowflake", config, secret)
    return store.create_integration(
        account_id=account,
        name=name,
        board_id=board_id,
        monday_connection_id=monday.id,
        snowflake_connection_id=snowflake.id,
        target_database=database,
        target_schema=schema,
        target_table=table,
        primary_key=primary_key,
        columns=columns,
        options=options,
        sync_mode=sync_mode,
        schedule=schedule,
        reverse=reverse,
    )


def _monday_connection(
    store: Store, account_id: str, token: str | None, connection_id: str | None
) -> ConnectionPublic | None:
    """The stored monday connection an integration uses: the one named, else the account's app
    install (unless a token was given)."""
    if connection_id is not None:
        found = store.get_connection(connection_id, account_id=account_id)
        if found.kind != "monday":
            raise ConfigurationError(
                f"monday_connection_id: connection {found.id} is a {found.kind} connection",
                field="monday_connection_id",
            )
        return found
    return None if token else store.app_connection(account_id)


def check_display_errors_column(
    board: BoardSpec, options: IntegrationOptions, column_ids: Sequence[str] = ()
) -> None:
    """The display-errors column must be a long-text column of the board that is not also copied."""
    wanted = options.display_errors_column
    if wanted is None:
        return
    column = board.column(wanted)
    if column is None:
        raise ConfigurationError(
            f"display_errors_column: board {board.id} has no column {wanted!r}", field="display_errors_column"
        )
    if column.type != "long_text":
        raise ConfigurationError(
            f"display_errors_column: {wanted!r} is a {column.type} column; errors go to a long_text column",
            field="display_errors_column",
        )
    if wanted in column_ids:
        raise ConfigurationError(
            f"display_errors_column: {wanted!r} cannot also be copied to the warehouse",
            field="display_errors_column",
        )


async def read_board(runtime: Runtime, token: str, api_url: str | None, board_id: str) -> BoardSpec:
    """The board as monday describes it now."""
    async with runtime.monday_client(token, api_url) as client:
        return await client.get_board(board_id)


def _free_integration_name(store: Store, account_id: str, name: str | None, board_id: str) -> str:
    """The name asked for, which must be free; or `board-<id>`, numbered if the board already has one."""
    taken = {i.name for i in store.list_integrations(account_id=account_id)}
    if name is not None:
        if name in taken:
            raise ConfigurationError(f"name: an integration named '{name}' already exists", field="name")
        return name
    wanted = f"board-{board_id}"
    number = 2
    while wanted in taken:
        wanted, number = f"board-{board_id}-{number}", number + 1
    return wanted


def _free_table_name(runtime: Runtime, account_id: str, board: BoardSpec, database: str, schema: str) -> str:
    """The board's sanitised name, with its id appended if another board's integration already uses it."""
    wanted = table_name_for_board(board.name, board.id)
    taken = {
        (i.target_database, i.target_schema, (i.target_table or "").upper())
        for i in runtime.store.list_integrations(account_id=account_id)
        if i.board_id != board.id
    }
    if (database, schema, wanted.upper()) in taken:
        return f"{wanted}_{board.id}"
    return wanted
