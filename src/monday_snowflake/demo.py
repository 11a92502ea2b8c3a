"""`monday-snowflake demo`: a generated board in the bundled monday sandbox, replicated into the embedded
warehouse and checked item by item. Needs nothing but this package."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.console import Console

from monday_snowflake.errors import NotFoundError
from monday_snowflake.integrations import create_integration
from monday_snowflake.model import IntegrationOptions
from monday_snowflake.progress import replicate_with_progress
from monday_snowflake.runtime import Runtime
from monday_snowflake.settings import Settings
from monday_snowflake.sync.verify import Comparison, compare_integration

if TYPE_CHECKING:
    from monday_sandbox.state import Sandbox
    from monday_snowflake.sync.replicate import ReplicationResult

DEMO_TOKEN = "demo-token"  # noqa: S105 - the local sandbox's own token, not a credential
DEMO_INTEGRATION = "demo"
SEEDED_AGO = timedelta(days=7)


def run_demo(settings: Settings, *, items: int, subitems: int, seed: int, console: Console) -> bool:
    """Run the whole demo; True when both warehouse tables equal the board after each run."""
    from monday_sandbox.generator import seed_account
    from monday_sandbox.server import SandboxServer
    from monday_sandbox.state import Sandbox

    console.print(f"[bold]1/5[/] starting the monday sandbox with a {items:,}-item board (every column type)")
    board_model = Sandbox()
    # the board was filled in a week ago, as a real board would have been, then the clock comes back
    board_model.clock.advance(-SEEDED_AGO.total_seconds())
    board_id = str(seed_account(board_model, boards=1, items=items, subitems=subitems, seed=seed)[0].id)
    board_model.clock.advance(SEEDED_AGO.total_seconds())
    board_model.add_token(DEMO_TOKEN)
    with SandboxServer(board_model) as sandbox:
        api_url = f"{sandbox.url}/v2"
        console.print(f"    sandbox at {api_url}, board {board_id}")

        console.print("[bold]2/5[/] starting the embedded warehouse and the state store")
        runtime = Runtime(settings)
        try:
            _forget_previous_demo(runtime)
            # reconcile on every run, so the incremental run below also removes what was deleted
            options = IntegrationOptions(include_subitems=subitems > 0, reconcile_every_hours=0)
            integration = create_integration(
                runtime, board_id=board_id, name=DEMO_INTEGRATION, monday_token=DEMO_TOKEN,
                monday_url=api_url, options=options,
            )  # fmt: skip
            console.print(
                f"    integration '{integration.name}' -> {integration.target_database}."
                f"{integration.target_schema}.{integration.target_table}"
                + (f" and {integration.target_table}_SUBITEMS" if options.include_subitems else "")
            )

            console.print("[bold]3/5[/] first run: full replication")
            full = _timed_run(runtime, integration.id, console)
            ok = _check(runtime, integration.id, api_url, console)

            console.print("[bold]4/5[/] editing the board: 1% of items renamed, one added, one deleted,")
            console.print("    one archived, a subitem added")
            edited = _edit_board(board_model, int(board_id), seed)
            console.print(f"    {edited} items touched")

            console.print("[bold]5/5[/] second run: incremental")
            incremental = _timed_run(runtime, integration.id, console)
            ok = _check(runtime, integration.id, api_url, console) and ok
        finally:
            runtime.close()

    table = f"{full.table.database}.{full.table.schema}.{full.table.name}"
    console.print()
    if incremental.schema_changes:
        console.print(f"  schema changes     {incremental.schema_changes}", soft_wrap=True, highlight=False)
    console.print(f"  full run           {full.items:,} items in {full.seconds:.2f} s")
    speedup = full.seconds / incremental.seconds if incremental.seconds else 0.0
    console.print(
        f"  incremental run    {incremental.items:,} changed items written ({incremental.read:,} read), "
        f"{incremental.deleted} removed, in {incremental.seconds:.2f} s ({speedup:.0f}x faster)"
    )
    console.print()
    console.print("Query it:")
    console.print(
        f"  .venv/bin/monday-snowflake warehouse query --data-dir {settings.data_dir} "
        f"'select * from {table} limit 5'",
        soft_wrap=True,
        highlight=False,
    )
    return ok


def _timed_run(runtime: Runtime, integration_id: str, console: Console) -> ReplicationResult:
    started = time.perf_counter()
    result = replicate_with_progress(runtime, integration_id, console=console, label="    items")
    seconds = time.perf_counter() - started
    subitems = f" and {result.subitems.staged_rows:,} subitems" if result.subitems is not None else ""
    console.print(
        f"    {result.kind} run: {result.items:,} items{subitems} in {seconds:.2f} s "
        f"({result.items / seconds:,.0f} items/s); {result.inserted:,} inserted, {result.updated:,} updated, "
        f"{result.deleted:,} deleted",
        soft_wrap=True,
    )
    return result


def _check(runtime: Runtime, integration_id: str, api_url: str, console: Console) -> bool:
    comparisons = asyncio.run(_compare(runtime, integration_id, DEMO_TOKEN, api_url))
    ok = True
    for role, comparison in comparisons.items():
        if comparison.ok:
            console.print(
                f"    check {role:<9}[green]table equals the board[/] ({comparison.table_rows:,} rows)"
            )
            continue
        ok = False
        console.print(
            f"    check {role:<9}[red]differences[/]: {len(comparison.missing)} missing, "
            f"{len(comparison.unexpected)} unexpected, {len(comparison.mismatches)} values"
        )
        for item_id, column, want, have in comparison.mismatches[:10]:
            console.print(f"      item {item_id} {column}: board {want!r} table {have!r}")
    return ok


def _edit_board(sandbox: Sandbox, board_id: int, seed: int) -> int:
    """Change the board the way people do between two runs; returns how many items were touched."""
    rng = random.Random(seed)
    with sandbox.lock:
        board = sandbox.get_board(board_id)
        active = [i for i in board.item_ids if sandbox.get_item(i).state == "active"]
        edited = rng.sample(active, max(1, len(active) // 100))
        for item_id in edited:
            sandbox.change_column_values(
                board_id, item_id, {"name": f"{sandbox.get_item(item_id).name} (edited)"}
            )
        sandbox.create_item(board_id, "Created after the first run")
        deleted, archived = [i for i in active if i not in edited][:2]
        sandbox.delete_item(deleted)
        sandbox.archive_item(archived)
        sandbox.create_subitem(edited[0], "Subitem added after the first run")
    return len(edited) + 3


async def _compare(runtime: Runtime, integration_id: str, token: str, api_url: str) -> dict[str, Comparison]:
    integration = runtime.store.get_integration(integration_id)
    async with runtime.monday_client(token, api_url) as client:
        warehouse = runtime.open_warehouse(integration.snowflake_connection_id)
        try:
            return await compare_integration(runtime.store, integration, client, warehouse)
        finally:
            warehouse.close()


def _forget_previous_demo(runtime: Runtime) -> None:
    """A previous demo's integration points at a sandbox that is gone; replace it."""
    try:
        old = runtime.store.get_integration(DEMO_INTEGRATION)
    except NotFoundError:
        return
    runtime.store.delete_integration(old.id)
