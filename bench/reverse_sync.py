"""Reverse sync (Snowflake rows -> monday items) against the sandbox over HTTP, at its default budget.

Usage:
  python -m bench.reverse_sync [--items 10000] [--unchanged 100000]

A table of `--items` rows in the embedded warehouse (a text key, the item name, a number, a status,
a date and a checkbox) is pushed to an empty board (creates), then every row's number and status are
changed in the warehouse and pushed again (updates: two columns an item), then pushed once more
(nothing changed). A second board already holding `--unchanged` items equal to a table of as many
rows is synced last, on a token of its own, so the budget the first board spent does not slow it.

monday's complexity budget (10,000,000 points a minute a token by default, as in the sandbox's
`complexity.py`) is the limit for writes: each create_item / change_multiple_column_values costs
about 10,000 points whoever sends it. So besides items/s, the script prints how much of the budget
a run used (points per minute / budget per minute) and the most items/s that budget allows at the
measured cost per write. The sandbox's clock is the wall clock: 10,000 writes take about ten minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from bench.common import TOKEN, header, served_runtime, use_transport

from monday_sandbox.data import SandboxSettings
from monday_sandbox.state import Sandbox
from monday_snowflake.integrations import create_integration
from monday_snowflake.logs import configure_logging
from monday_snowflake.model import ReverseSpec
from monday_snowflake.reverse.sync import ReverseResult
from monday_snowflake.runtime import Runtime
from monday_snowflake.snowflake.naming import quote_identifier

BRIEF_ITEMS_PER_SECOND = 20.0
"""The brief's system checks each row one by one and reaches ~20 items/s."""
UNCHANGED_TOKEN = "bench-token-unchanged"
COLUMNS = "CODE VARCHAR, TITLE VARCHAR, AMOUNT NUMBER(12,2), STAGE VARCHAR, DUE DATE, DONE BOOLEAN"
INSERT_CHUNK = 1_000
STAGES = ("Open", "Won")


class Meter(httpx.AsyncBaseTransport):
    """Passes requests through to the sandbox; counts them and the complexity points monday charged."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests = 0
        self.points = 0
        self.write_requests = 0
        self.write_points = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        body = orjson.loads(content) if content else None
        data = body.get("data") if isinstance(body, dict) else None
        complexity = data.get("complexity") if isinstance(data, dict) else None
        cost = int(complexity.get("query") or 0) if isinstance(complexity, dict) else 0
        self.requests += 1
        self.points += cost
        if b"mutation WriteItems" in request.content:
            self.write_requests += 1
            self.write_points += cost
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    def reset(self) -> None:
        self.requests = self.points = self.write_requests = self.write_points = 0

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Board:
    id: str
    code: str
    amount: str
    stage: str
    due: str
    done: str

    def mapping(self) -> dict[str, str]:
        return {"TITLE": "name", "AMOUNT": self.amount, "STAGE": self.stage, "DUE": self.due,
                "DONE": self.done}  # fmt: skip


def make_board(sandbox: Sandbox, name: str) -> Board:
    board = sandbox.create_board(name, default_group=True)
    labels = {"labels": [{"id": n, "label": label} for n, label in enumerate(STAGES, start=1)]}
    return Board(
        id=str(board.id),
        code=sandbox.create_column(board.id, "Code", "text").id,
        amount=sandbox.create_column(board.id, "Amount", "numbers").id,
        stage=sandbox.create_column(board.id, "Stage", "status", labels).id,
        due=sandbox.create_column(board.id, "Due", "date").id,
        done=sandbox.create_column(board.id, "Done", "checkbox").id,
    )


def rows_of(count: int) -> list[tuple[Any, ...]]:
    return [
        (f"K-{n:06d}", f"Item {n}", Decimal(n) + Decimal("0.25"), STAGES[n % 2],
         dt.date(2026, 1, 1) + dt.timedelta(days=n % 365), n % 3 == 0)
        for n in range(count)
    ]  # fmt: skip


def seed_items(sandbox: Sandbox, board: Board, rows: Sequence[tuple[Any, ...]]) -> None:
    """Items as an earlier reverse run would have left them: equal to `rows`."""
    for code, title, amount, stage, due, done in rows:
        values: dict[str, Any] = {
            board.code: code, board.amount: str(amount), board.stage: {"label": stage},
            board.due: {"date": due.isoformat()},
        }  # fmt: skip
        if done:
            values[board.done] = {"checked": "true"}
        sandbox.create_item(board.id, title, column_values=values, notify=False)


def source_table(runtime: Runtime, name: str, rows: Sequence[tuple[Any, ...]]) -> str:
    """A fresh table holding `rows`, values bound; returns its qualified name."""
    settings = runtime.settings.snowflake
    schema = f"{quote_identifier(settings.database)}.{quote_identifier(settings.schema_name)}"
    table = f"{schema}.{quote_identifier(name)}"
    warehouse = runtime.open_warehouse()
    try:
        warehouse.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        warehouse.execute(f"CREATE OR REPLACE TABLE {table} ({COLUMNS})")
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            placeholders = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
            values = [str(v) if isinstance(v, Decimal) else v for row in chunk for v in row]
            warehouse.execute(f"INSERT INTO {table} VALUES {placeholders}", values)
    finally:
        warehouse.close()
    return table


def execute(runtime: Runtime, statement: str) -> None:
    warehouse = runtime.open_warehouse()
    try:
        warehouse.execute(statement)
    finally:
        warehouse.close()


def add_integration(runtime: Runtime, api_url: str, board: Board, table: str, token: str) -> str:
    spec = ReverseSpec(source=table, key_column="CODE", key_target=board.code, mapping=board.mapping())
    integration = create_integration(
        runtime, board_id=board.id, name=f"reverse-{board.id}", monday_token=token, monday_url=api_url,
        reverse=spec,
    )  # fmt: skip
    return integration.id


def run(runtime: Runtime, integration_id: str, meter: Meter) -> ReverseResult:
    meter.reset()
    return asyncio.run(runtime.reverse_syncer().run(integration_id))


def report(label: str, result: ReverseResult, meter: Meter, budget: int) -> None:
    changed = result.changed
    print(
        f"{label}: {changed:,} items in {result.seconds:.1f} s = {result.items_per_second:,.1f} items/s "
        f"({result.items_per_second / BRIEF_ITEMS_PER_SECOND:.2f}x the brief's ~20/s); "
        f"{result.mutations / changed:.3f} mutations and {result.requests / changed:.4f} requests "
        f"per changed item ({result.mutations:,} mutations in {result.requests:,} requests)"
    )
    per_write = meter.write_points / result.mutations
    ceiling = budget / per_write / 60
    if result.seconds < 60:
        print(
            f"  budget: the run fit in one minute's budget ({meter.points:,} points of {budget:,}); "
            f"{per_write:,.0f} points a write, so the budget allows at most {ceiling:,.1f} items/s sustained"
        )
        return
    rate = meter.points / (result.seconds / 60)
    print(
        f"  budget: {rate:,.0f} points a minute of {budget:,} ({rate / budget:.1%}); {per_write:,.0f} points "
        f"a write, so the budget allows at most {ceiling:,.1f} items/s; the run reached "
        f"{result.items_per_second / ceiling:.1%} of that"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000, help="rows created, then updated")
    parser.add_argument(
        "--unchanged", type=int, default=100_000, help="rows of the unchanged table (0: skip it)"
    )
    parser.add_argument(
        "--budget", type=int, default=None,
        help="complexity points a minute a token (default: monday's, 10,000,000); a higher one shows "
        "what this side can send when monday's budget is not the limit",
    )  # fmt: skip
    args = parser.parse_args()

    header()
    configure_logging(level="WARNING")  # the script prints its own figures
    sandbox = Sandbox(settings=SandboxSettings(complexity_budget=args.budget)) if args.budget else Sandbox()
    budget = sandbox.settings.complexity_budget
    sandbox.add_token(TOKEN)
    sandbox.add_token(UNCHANGED_TOKEN)
    target = make_board(sandbox, "Reverse bench")
    steady = make_board(sandbox, "Reverse bench unchanged")
    started = time.perf_counter()
    unchanged_rows = rows_of(args.unchanged)
    seed_items(sandbox, steady, unchanged_rows)
    print(f"seeded {args.unchanged:,} items in {time.perf_counter() - started:.1f} s; budget {budget:,}/min")

    meter = Meter()
    with tempfile.TemporaryDirectory() as tmp, served_runtime(sandbox, Path(tmp)) as (runtime, api_url):
        started = time.perf_counter()
        table = source_table(runtime, "REVERSE_SRC", rows_of(args.items))
        steady_table = source_table(runtime, "REVERSE_UNCHANGED", unchanged_rows)
        print(f"loaded {args.items + args.unchanged:,} source rows in {time.perf_counter() - started:.1f} s")
        integration = add_integration(runtime, api_url, target, table, TOKEN)
        steady_integration = add_integration(runtime, api_url, steady, steady_table, UNCHANGED_TOKEN)
        use_transport(runtime, meter)

        created = run(runtime, integration, meter)
        assert created.created == args.items and created.failed == 0, created.metrics()
        assert len(sandbox.active_items(sandbox.get_board(target.id))) == args.items
        report("creates", created, meter, budget)

        execute(runtime, f"UPDATE {table} SET AMOUNT = AMOUNT + 1, "
                         f"STAGE = CASE WHEN STAGE = 'Open' THEN 'Won' ELSE 'Open' END")  # fmt: skip
        updated = run(runtime, integration, meter)
        assert updated.updated == args.items and updated.created == 0 and updated.failed == 0, (
            updated.metrics()
        )
        report("updates (2 of 5 columns each)", updated, meter, budget)

        again = run(runtime, integration, meter)
        assert again.mutations == 0 and again.unchanged == args.items, again.metrics()
        print(f"unchanged {args.items:,} rows: {again.mutations} mutations, {again.seconds:.2f} s")

        if not args.unchanged:
            return
        steady_run = run(runtime, steady_integration, meter)
        assert steady_run.mutations == 0 and steady_run.unchanged == args.unchanged, steady_run.metrics()
        print(
            f"unchanged {args.unchanged:,}-row table: {steady_run.mutations} mutations, "
            f"{steady_run.seconds:.2f} s ({meter.requests:,} requests reading the board, "
            f"{meter.points:,} points)"
        )


if __name__ == "__main__":
    main()
