"""`monday-snowflake demo`: a generated board in the bundled monday sandbox, replicated into the embedded
warehouse and checked item by item. Needs nothing but this package."""

from __future__ import annotations

import asyncio
import time

from rich.console import Console

from monday_snowflake.errors import NotFoundError
from monday_snowflake.integrations import create_integration
from monday_snowflake.progress import replicate_with_progress
from monday_snowflake.runtime import Runtime
from monday_snowflake.settings import Settings
from monday_snowflake.sync.layout import plan_table
from monday_snowflake.sync.verify import Comparison, compare_board_and_table

DEMO_TOKEN = "demo-token"  # noqa: S105 - the local sandbox's own token, not a credential
DEMO_INTEGRATION = "demo"


def run_demo(settings: Settings, *, items: int, subitems: int, seed: int, console: Console) -> bool:
    """Run the whole demo; True when the warehouse table equals the board."""
    from monday_sandbox.generator import seed_account
    from monday_sandbox.server import SandboxServer
    from monday_sandbox.state import Sandbox

    console.print(f"[bold]1/4[/] starting the monday sandbox with a {items:,}-item board (every column type)")
    board_model = Sandbox()
    board_id = str(seed_account(board_model, boards=1, items=items, subitems=subitems, seed=seed)[0].id)
    board_model.add_token(DEMO_TOKEN)
    with SandboxServer(board_model) as sandbox:
        api_url = f"{sandbox.url}/v2"
        console.print(f"    sandbox at {api_url}, board {board_id}")

        console.print("[bold]2/4[/] starting the embedded warehouse and the state store")
        runtime = Runtime(settings)
        try:
            _forget_previous_demo(runtime)
            integration = create_integration(
                runtime, board_id=board_id, name=DEMO_INTEGRATION, monday_token=DEMO_TOKEN, monday_url=api_url
            )
            console.print(
                f"    integration '{integration.name}' -> {integration.target_database}."
                f"{integration.target_schema}.{integration.target_table}"
            )

            console.print("[bold]3/4[/] replicating")
            started = time.perf_counter()
            result = replicate_with_progress(runtime, integration.id, console=console, label="    items")
            seconds = time.perf_counter() - started

            console.print("[bold]4/4[/] checking the table against the board, item by item")
            comparison = asyncio.run(_compare(runtime, integration.id, DEMO_TOKEN, api_url))
        finally:
            runtime.close()

    table = f"{result.table.database}.{result.table.schema}.{result.table.name}"
    console.print()
    console.print(f"  items replicated   {result.items:,}")
    console.print(f"  table              {table}")
    console.print(f"  seconds            {seconds:.2f}")
    console.print(f"  items/s            {result.items / seconds:,.0f}")
    fetch = result.phases.get("fetch_decode_write", 0.0)
    load = sum(v for k, v in result.phases.items() if k != "fetch_decode_write")
    console.print(
        f"  of which           {fetch:.2f} s reading the board (sandbox, same process), {load:.2f} s loading",
        soft_wrap=True,
    )
    if comparison.ok:
        console.print(
            f"  check              [green]table equals the board[/] ({comparison.table_rows:,} rows)"
        )
    else:
        console.print(
            f"  check              [red]differences[/]: {len(comparison.missing)} missing, "
            f"{len(comparison.unexpected)} unexpected, {len(comparison.mismatches)} values"
        )
        for item_id, column, want, have in comparison.mismatches[:10]:
            console.print(f"    item {item_id} {column}: board {want!r} table {have!r}")
    console.print()
    console.print("Query it:")
    console.print(
        f"  .venv/bin/monday-snowflake warehouse query --data-dir {settings.data_dir} "
        f"'select * from {table} limit 5'",
        soft_wrap=True,
        highlight=False,
    )
    return comparison.ok


async def _compare(runtime: Runtime, integration_id: str, token: str, api_url: str) -> Comparison:
    integration = runtime.store.get_integration(integration_id)
    async with runtime.monday_client(token, api_url) as client:
        board = await client.get_board(integration.board_id)
        layout = plan_table(integration, board)
        warehouse = runtime.open_warehouse(integration.snowflake_connection_id)
        try:
            return await compare_board_and_table(client, integration.board_id, layout, warehouse)
        finally:
            warehouse.close()


def _forget_previous_demo(runtime: Runtime) -> None:
    """A previous demo's integration points at a sandbox that is gone; replace it."""
    try:
        old = runtime.store.get_integration(DEMO_INTEGRATION)
    except NotFoundError:
        return
    runtime.store.delete_integration(old.id)
