"""Creating integrations: check the board and mapping against monday, then store the recipe."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import BoardSpec, ColumnMapping, Integration, IntegrationOptions, ReverseSpec
from monday_snowflake.reverse.recipe import check_reverse_recipe
from monday_snowflake.snowflake.naming import table_name_for_board

if TYPE_CHECKING:
    from monday_snowflake.runtime import Runtime
    from monday_snowflake.store import Store


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
    column_ids: Sequence[str] | None = None,
    primary_key: str = "item_id",
    options: IntegrationOptions | None = None,
    sync_mode: str = "incremental",
    schedule: dict[str, Any] | None = None,
    account_id: str | None = None,
    reverse: ReverseSpec | None = None,
) -> Integration:
    """Validate the recipe against the live board, store the credentials encrypted, save the integration.
    With `reverse`, the integration writes Snowflake rows to the board instead; its recipe is checked
    against the board and the source (see `reverse.recipe`)."""
    settings = runtime.settings
    token = monday_token or (settings.monday.token.get_secret_value() if settings.monday.token else None)
    if not token:
        raise ConfigurationError(
            "a monday token is needed: pass --monday-token or set MONDAY_SNOWFLAKE_MONDAY__TOKEN"
        )
    api_url = monday_url or settings.monday.api_url
    board = asyncio.run(read_board(runtime, token, api_url, board_id))
    if primary_key.lower() not in ("item_id", "id") and board.column(primary_key) is None:
        raise ConfigurationError(
            f"primary_key: board {board_id} has no column {primary_key!r}", field="primary_key"
        )
    if column_ids:
        missing = [c for c in column_ids if board.column(c) is None]
        if missing:
            raise ConfigurationError(
                f"board {board_id} has no column(s) {', '.join(missing)}", board_id=board_id
            )
    check_display_errors_column(board, options or IntegrationOptions(), column_ids or ())
    if reverse is not None:
        asyncio.run(check_reverse_recipe(runtime, token, api_url, board, reverse))
    store = runtime.store
    account = account_id or store.default_account().id
    name = _free_integration_name(store, account, name, board_id)
    database = database or settings.snowflake.database
    schema = schema or settings.snowflake.schema_name
    if reverse is None:
        table = table or _free_table_name(runtime, account, board, database, schema)

    monday_conn = store.create_connection(
        account, "monday", f"{name} monday", {"api_url": api_url}, {"token": token}
    )
    config, secret = runtime.snowflake_connection_payload()
    snowflake_conn = store.create_connection(account, "snowflake", f"{name} snowflake", config, secret)
    return store.create_integration(
        account_id=account,
        name=name,
        board_id=board_id,
        monday_connection_id=monday_conn.id,
        snowflake_connection_id=snowflake_conn.id,
        target_database=database,
        target_schema=schema,
        target_table=table,
        primary_key=primary_key,
        columns=tuple(ColumnMapping(c) for c in column_ids or ()),
        options=options or IntegrationOptions(),
        sync_mode=sync_mode,
        schedule=schedule,
        reverse=reverse,
    )


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
