"""The `monday-snowflake` command: demo, sandbox, integrations, sync, history, db and warehouse."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from monday_snowflake.errors import MondaySnowflakeError
from monday_snowflake.logs import configure_logging
from monday_snowflake.progress import replicate_with_progress
from monday_snowflake.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
integrations_app = typer.Typer(no_args_is_help=True, help="Create, list, show and remove integrations.")
sync_app = typer.Typer(no_args_is_help=True, help="Run syncs.")
accounts_app = typer.Typer(no_args_is_help=True, help="Accounts and their API keys, for the HTTP API.")
db_app = typer.Typer(no_args_is_help=True, help="Manage the state database.")
warehouse_app = typer.Typer(no_args_is_help=True, help="Talk to the configured warehouse.")
app.add_typer(integrations_app, name="integrations")
app.add_typer(sync_app, name="sync")
app.add_typer(accounts_app, name="accounts")
app.add_typer(db_app, name="db")
app.add_typer(warehouse_app, name="warehouse")

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (default: $MONDAY_SNOWFLAKE_DATA_DIR or ./.monday-snowflake)."
    ),
]


def load_settings(data_dir: Path | None = None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    configure_logging(json=settings.log_json, level=settings.log_level)
    return settings


@contextmanager
def expected_errors() -> Iterator[None]:
    """Turn the product's own errors into a readable message and exit code 1, without a stack trace."""
    try:
        yield
    except MondaySnowflakeError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None


def with_runtime(data_dir: Path | None, work: Callable[[Any], T]) -> T:
    from monday_snowflake.runtime import Runtime

    with expected_errors():
        runtime = Runtime(load_settings(data_dir))
        try:
            return work(runtime)
        finally:
            runtime.close()


# --- demo and sandbox ------------------------------------------------------------------------------


@app.command()
def demo(
    items: Annotated[int, typer.Option(help="Items on the demo board.")] = 10_000,
    subitems: Annotated[int, typer.Option(help="Subitems per item.")] = 2,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where the demo keeps its state and warehouse (default: <data dir>/demo)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the generated board.")] = 7,
) -> None:
    """Replicate a generated monday board (every column type) into the embedded warehouse, then check it."""
    from monday_snowflake.demo import run_demo

    settings = load_settings()
    settings = settings.model_copy(update={"data_dir": data_dir or settings.data_dir / "demo"})
    configure_logging(json=settings.log_json, level="WARNING")  # the demo prints its own progress
    with expected_errors():
        ok = run_demo(settings, items=items, subitems=subitems, seed=seed, console=console)
    raise typer.Exit(0 if ok else 1)


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    token: Annotated[str, typer.Option(help="API token the sandbox accepts.")] = "sandbox-token",  # noqa: S107
    boards: Annotated[int, typer.Option(help="Boards to seed.")] = 1,
    items: Annotated[int, typer.Option(help="Items per board.")] = 1_000,
    subitems: Annotated[int, typer.Option(help="Subitems per item.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed for deterministic data.")] = 7,
    state: Annotated[Path | None, typer.Option(help="Persist the sandbox to this file.")] = None,
) -> None:
    """Run the local monday.com API sandbox (GraphQL on /v2) until interrupted."""
    from monday_sandbox.server import run_sandbox

    configure_logging()
    run_sandbox(
        port=port, token=token, boards=boards, items=items, subitems=subitems, seed=seed, state_file=state
    )


# --- integrations ----------------------------------------------------------------------------------


@integrations_app.command("add")
def integrations_add(
    board: Annotated[str, typer.Option(help="monday board id.")],
    name: Annotated[str | None, typer.Option(help="Integration name (default: board-<id>).")] = None,
    monday_token: Annotated[
        str | None,
        typer.Option(envvar="MONDAY_SNOWFLAKE_MONDAY__TOKEN", help="monday API token.", show_default=False),
    ] = None,
    monday_url: Annotated[str | None, typer.Option(help="monday API URL (default from settings).")] = None,
    table: Annotated[str | None, typer.Option(help="Target table (default: from the board name).")] = None,
    database: Annotated[str | None, typer.Option(help="Target database (default from settings).")] = None,
    schema: Annotated[str | None, typer.Option(help="Target schema (default from settings).")] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated column ids to copy (default: all), each as ID or ID=TARGET to name its "
            "warehouse column."
        ),
    ] = None,
    exclude: Annotated[
        str | None, typer.Option(help="Comma-separated column ids never to copy (the others are).")
    ] = None,
    primary_key: Annotated[str, typer.Option(help="Key column: item_id or a column id.")] = "item_id",
    keep_labels: Annotated[
        bool, typer.Option("--keep-labels", help="Email and link columns as VARIANT with their labels.")
    ] = False,
    keep_dropdown_ids: Annotated[
        bool, typer.Option("--keep-dropdown-ids", help="Dropdown columns as VARIANT with label ids.")
    ] = False,
    subitems: Annotated[
        bool, typer.Option("--subitems", help="Also replicate subitems, into <table>_SUBITEMS.")
    ] = False,
    mode: Annotated[
        str, typer.Option(help="incremental (after a first full run) or full (every run reads the board).")
    ] = "incremental",
    on_delete: Annotated[
        str, typer.Option(help="Rows of deleted or archived items: delete, or soft_delete (_DELETED_AT).")
    ] = "delete",
    on_rename: Annotated[
        str, typer.Option(help="A renamed monday column: keep its warehouse name, or rename the column.")
    ] = "keep",
    reconcile_every_hours: Annotated[
        float, typer.Option(help="How often incremental runs look for deleted items (0: every run).")
    ] = 24.0,
    data_dir: DataDir = None,
) -> None:
    """Create an integration that replicates one board into one table (and its subitems into another)."""
    from monday_snowflake.integrations import create_integration
    from monday_snowflake.model import ColumnMapping, IntegrationOptions

    def work(runtime: Any) -> None:
        integration = create_integration(
            runtime,
            board_id=board,
            name=name,
            monday_token=monday_token,
            monday_url=monday_url,
            table=table,
            database=database,
            schema=schema,
            column_ids=[ColumnMapping.parse(c.strip()) for c in columns.split(",") if c.strip()]
            if columns else None,
            exclude_columns=[c.strip() for c in (exclude or "").split(",") if c.strip()],
            primary_key=primary_key,
            options=IntegrationOptions.parse(
                include_subitems=subitems, keep_dropdown_ids=keep_dropdown_ids, keep_labels=keep_labels,
                on_delete=on_delete, on_rename=on_rename, reconcile_every_hours=reconcile_every_hours,
            ),
            sync_mode=mode,
        )  # fmt: skip
        console.print(f"created integration [bold]{integration.name}[/] ({integration.id})")

    with_runtime(data_dir, work)


@integrations_app.command("add-reverse")
def integrations_add_reverse(
    board: Annotated[str, typer.Option(help="monday board id the rows are written to.")],
    source: Annotated[str, typer.Option(help="Snowflake table (T, SCHEMA.T or DB.SCHEMA.T) or one SELECT.")],
    key: Annotated[
        str,
        typer.Option(
            help="COLUMN=TARGET: the Snowflake column that identifies a row, and what it matches on the "
            "board: a column id, `name` (the item name) or `item_id`."
        ),
    ],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="COLUMN=COLUMN_ID: a Snowflake column and the monday column (or `name`) it "
            "writes; repeat for each column.",
        ),
    ] = None,
    where: Annotated[
        str | None, typer.Option("--filter", help="A condition on the source's rows (STATUS = 'open').")
    ] = None,
    group: Annotated[str | None, typer.Option(help="Group id for new items (default: the top one).")] = None,
    no_create: Annotated[
        bool, typer.Option("--no-create", help="Don't create items for rows missing from the board.")
    ] = False,
    no_update: Annotated[bool, typer.Option("--no-update", help="Don't change existing items.")] = False,
    archive_missing: Annotated[
        bool, typer.Option("--archive-missing", help="Archive items whose key left the source.")
    ] = False,
    create_columns: Annotated[
        bool,
        typer.Option("--create-columns", help="Give unmapped source columns a new monday column each."),
    ] = False,
    display_errors_column: Annotated[
        str | None, typer.Option(help="A long-text column where a failed row's error is written.")
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(help='Schedule as JSON, e.g. \'{"schedule_type": "DAILY", "hour": 6}\'.'),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Integration name (default: board-<id>).")] = None,
    monday_token: Annotated[
        str | None,
        typer.Option(envvar="MONDAY_SNOWFLAKE_MONDAY__TOKEN", help="monday API token.", show_default=False),
    ] = None,
    monday_url: Annotated[str | None, typer.Option(help="monday API URL (default from settings).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a reverse sync: a Snowflake table or query written to a board's items (checked first)."""
    from monday_snowflake.errors import ConfigurationError
    from monday_snowflake.integrations import create_integration
    from monday_snowflake.model import IntegrationOptions, ReverseSpec
    from monday_snowflake.reverse.recipe import parse_assignments
    from monday_snowflake.schedule import parse_schedule

    def work(runtime: Any) -> None:
        [(key_column, key_target)] = parse_assignments([key], "--key").items()
        spec = ReverseSpec(
            source=source, key_column=key_column, key_target=key_target,
            mapping=parse_assignments(mapping or (), "--map"), filter=where, group_id=group,
            create_missing=not no_create, update_existing=not no_update,
            archive_missing=archive_missing, create_columns=create_columns,
        )  # fmt: skip
        checked = None
        if schedule is not None:
            try:
                raw = json.loads(schedule)
            except ValueError:
                raise ConfigurationError("--schedule: give a JSON object", field="schedule") from None
            checked = parse_schedule(
                raw, min_interval_hours=runtime.settings.min_schedule_interval_hours
            ).model_dump(mode="json")
        integration = create_integration(
            runtime, board_id=board, name=name, monday_token=monday_token, monday_url=monday_url,
            options=IntegrationOptions(display_errors_column=display_errors_column), schedule=checked,
            reverse=spec,
        )  # fmt: skip
        console.print(
            f"created reverse integration [bold]{integration.name}[/] ({integration.id}): "
            f"{len(spec.mapping)} column(s) -> board {integration.board_id}, key {spec.key_column} = "
            f"{spec.key_target}",
            highlight=False,
        )

    with_runtime(data_dir, work)


@integrations_app.command("list")
def integrations_list(data_dir: DataDir = None) -> None:
    """List integrations."""

    def work(runtime: Any) -> None:
        table = Table("id", "name", "board", "target")
        for i in runtime.store.list_integrations():
            if i.reverse is not None:  # rows flow the other way: from the source to the board
                target = f"board {i.board_id}, from {i.reverse.source}"
            else:
                target = f"{i.target_database}.{i.target_schema}.{i.target_table or '(from board name)'}"
            table.add_row(i.id, i.name, i.board_id, target)
        console.print(table)

    with_runtime(data_dir, work)


@integrations_app.command("show")
def integrations_show(integration: str, data_dir: DataDir = None) -> None:
    """Show one integration's recipe (never its credentials)."""

    def work(runtime: Any) -> None:
        from dataclasses import asdict

        console.print_json(json.dumps(asdict(runtime.store.get_integration(integration)), default=str))

    with_runtime(data_dir, work)


@integrations_app.command("remove")
def integrations_remove(integration: str, data_dir: DataDir = None) -> None:
    """Remove an integration, its run history and the credentials only it used (the table is kept)."""

    def work(runtime: Any) -> None:
        found = runtime.store.get_integration(integration)
        runtime.store.delete_integration(found.id)
        console.print(f"removed integration {found.name}")

    with_runtime(data_dir, work)


# --- sync and history ------------------------------------------------------------------------------


@sync_app.command("run")
def sync_run(
    integration: str,
    full: Annotated[bool, typer.Option("--full", help="Force a full run.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Run an integration now, with a progress bar: incremental once a full run has succeeded."""

    def work(runtime: Any) -> None:
        if runtime.store.get_integration(integration).reverse is not None:
            reverse = asyncio.run(runtime.reverse_syncer().run(integration))
            console.print(
                f"[green]done[/] (reverse): {reverse.rows_read} rows read; created {reverse.created}, "
                f"updated {reverse.updated}, archived {reverse.archived}, unchanged {reverse.unchanged}, "
                f"failed {reverse.failed}; {reverse.mutations} mutations in {reverse.requests} requests, "
                f"{reverse.seconds:.2f} s ({reverse.items_per_second:,.1f} items/s)"
            )
            for error in reverse.errors[:20]:
                console.print(f"[red]row {error['key']!r}[/]: {error['error']}", highlight=False)
            return
        result = replicate_with_progress(runtime, integration, console=err_console, full=full)
        skipped = f", {result.read - result.items} unchanged skipped" if result.kind == "incremental" else ""
        console.print(
            f"[green]done[/] ({result.kind}): {result.items} items{skipped} -> {result.table.database}."
            f"{result.table.schema}.{result.table.name} in {result.seconds:.2f} s "
            f"({result.items_per_second:,.0f} items/s); "
            f"inserted {result.inserted}, updated {result.updated}, deleted {result.deleted}"
        )
        if result.subitems is not None:
            sub = result.subitems
            console.print(f"subitems: inserted {sub.inserted}, updated {sub.updated}, deleted {sub.deleted}")
        if result.subitems_error:
            console.print(f"[red]subitems failed[/]: {result.subitems_error}")
        for role, changes in result.schema_changes.items():
            console.print(f"[yellow]schema changes[/] ({role}): {json.dumps(changes)}")
        for column_id, count in result.warnings.items():
            console.print(
                f"[yellow]warning[/]: {count} value(s) of column {column_id} had an unexpected shape"
            )

    with_runtime(data_dir, work)


@app.command()
def history(
    integration: str,
    limit: Annotated[int, typer.Option(help="How many runs.")] = 20,
    data_dir: DataDir = None,
) -> None:
    """Show an integration's recent runs, newest first."""

    def work(runtime: Any) -> None:
        found = runtime.store.get_integration(integration)
        table = Table("run", "kind", "status", "started", "seconds", "rows", "rows/s", "error")
        error_text = "{run.error_class}: {run.error}"
        for run in runtime.store.list_runs(found.id, limit=limit):
            table.add_row(
                run.id,
                run.kind,
                run.status,
                str(run.started_at)[:19],
                f"{run.duration_seconds:.2f}" if run.duration_seconds is not None else "",
                str(run.rows_processed),
                f"{run.throughput:,.0f}" if run.throughput else "",
                error_text.format(run=run)[:100] if run.error else "",
            )
        console.print(table)

    with_runtime(data_dir, work)


def _plain(value: Any) -> Any:
    """Values as a person reads them: decimals without exponent or trailing zeros."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value) if not isinstance(value, str | int | float | bool) else value


# --- db and warehouse ------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Create or migrate the state database to the latest schema."""
    with_runtime(data_dir, lambda runtime: console.print("state database is up to date"))


@warehouse_app.command("query")
def warehouse_query(
    sql: str,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    data_dir: DataDir = None,
) -> None:
    """Run one SQL statement on the configured warehouse (the embedded one by default)."""
    if output not in ("table", "json"):
        err_console.print("error: --format must be table or json")
        raise typer.Exit(2)

    def work(runtime: Any) -> None:
        warehouse = runtime.open_warehouse()
        try:
            names, rows = warehouse.query(sql)
        finally:
            warehouse.close()
        if output == "json":
            records = [dict(zip(names, row, strict=True)) for row in rows]
            sys.stdout.write(json.dumps(records, default=_plain, ensure_ascii=False) + "\n")
            return
        table = Table(*names)
        for row in rows:
            table.add_row(*("" if v is None else str(_plain(v)) for v in row))
        console.print(table)

    with_runtime(data_dir, work)


# --- the service ----------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only: no workers, no scheduler.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Run the HTTP API (docs at /docs), with workers and the scheduler in the same process."""
    import uvicorn

    from monday_snowflake.api.app import create_app
    from monday_snowflake.service import Service

    def work(runtime: Any) -> None:
        service = Service(runtime)
        app = create_app(service, run_worker=not no_worker, run_scheduler=not no_worker)
        configure_logging(json=runtime.settings.log_json, level=runtime.settings.log_level)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)

    with_runtime(data_dir, work)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics at /metrics on this port.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run workers, the scheduler and the real-time applier only (any number can share one PostgreSQL)."""
    from prometheus_client import start_http_server

    from monday_snowflake.api.app import metrics_registry
    from monday_snowflake.service import Service

    async def run(service: Service) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await asyncio.gather(
            service.worker().run(stop), service.run_scheduler(stop), service.run_realtime(stop)
        )

    def work(runtime: Any) -> None:
        configure_logging(json=runtime.settings.log_json, level=runtime.settings.log_level)
        service = Service(runtime)
        if metrics_port is not None:
            start_http_server(metrics_port, registry=metrics_registry(service))
        err_console.print("worker running; Ctrl-C stops it after the tasks in hand")
        asyncio.run(run(service))

    with_runtime(data_dir, work)


@accounts_app.command("create")
def accounts_create(name: str, data_dir: DataDir = None) -> None:
    """Create an account and print its first API key (shown once; only its hash is stored)."""

    def work(runtime: Any) -> None:
        account = runtime.store.create_account(name)
        key, _ = runtime.store.create_api_key(account.id, "first key")
        console.print(f"account [bold]{account.name}[/] ({account.id})")
        console.print(f"API key (shown once): {key}", soft_wrap=True, highlight=False)

    with_runtime(data_dir, work)


@accounts_app.command("add-key")
def accounts_add_key(
    account: Annotated[str, typer.Argument(help="Account id.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "api key",
    data_dir: DataDir = None,
) -> None:
    """Create another API key for an account (shown once)."""

    def work(runtime: Any) -> None:
        key, _ = runtime.store.create_api_key(runtime.store.get_account(account).id, name)
        console.print(f"API key (shown once): {key}", soft_wrap=True, highlight=False)

    with_runtime(data_dir, work)
