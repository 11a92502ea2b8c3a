"""Decoding pages into CSV files on the other cores, for full runs of big boards.

A full run spends most of its time in Python turning monday's JSON into CSV rows, and Python runs on
one core at a time. `ParallelDecoder` hands batches of page bodies, exactly as monday sent them, to
worker processes; each worker plans the same tables from the same inputs (`DecodeRecipe`) and
writes every batch to CSV files of its own. The main process meanwhile keeps fetching, so reading,
decoding and staging overlap.

Row order still decides which row of a key wins: batch `n` numbers its rows from `n * BATCH_SEQ_SPAN`,
so rows are numbered in the order they were read whichever worker wrote them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from monday_snowflake.model import BoardSpec, Integration
from monday_snowflake.snowflake.csvfiles import CsvBatchWriter
from monday_snowflake.storage.local import LocalBlobStore
from monday_snowflake.sync.layout import StoredColumn, TableLayout, plan_subitems_table, plan_table

ITEMS, SUBITEMS = "items", "subitems"
PAGES_PER_BATCH = 10
BATCH_SEQ_SPAN = 10_000_000
"""Rows a batch may hold: 10 pages of 500 items with their subitems stay far below it."""


@dataclass(frozen=True)
class DecodeRecipe:
    """Everything a process needs to plan a run's tables and write their rows; picklable."""

    integration: Integration
    board: BoardSpec
    subitems_board: BoardSpec | None
    previous: Mapping[str, tuple[StoredColumn, ...]]
    existing: Mapping[str, Mapping[str, str]]
    synced_at: datetime
    blob_root: Path
    run_id: str
    max_bytes: int

    def layouts(self) -> dict[str, TableLayout]:
        """The run's tables: `items`, and `subitems` when there is a readable subitems board."""
        items = plan_table(
            self.integration, self.board, previous=self.previous.get(ITEMS, ()),
            existing=self.existing.get(ITEMS, {}),
        )  # fmt: skip
        planned = {ITEMS: items}
        if self.subitems_board is not None:
            planned[SUBITEMS] = plan_subitems_table(
                self.integration, items.table, self.subitems_board,
                previous=self.previous.get(SUBITEMS, ()), existing=self.existing.get(SUBITEMS, {}),
            )  # fmt: skip
        return planned


@dataclass
class BatchResult:
    """What one batch became, per table: files, rows, and what the rows revealed."""

    batch: int
    files: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    timed: dict[str, set[int]] = field(default_factory=dict)
    warnings: dict[str, dict[str, int]] = field(default_factory=dict)


def write_batch(
    recipe: DecodeRecipe, layouts: Mapping[str, TableLayout], batch: int, bodies: list[bytes]
) -> BatchResult:
    """Decode a batch of `items_page` / `next_items_page` bodies into one set of CSV files."""
    blobs = LocalBlobStore(recipe.blob_root)
    writers = {
        role: CsvBatchWriter(
            blobs,
            f"{recipe.run_id}/{role}",
            layout.columns,
            recipe.max_bytes,
            first_seq=batch * BATCH_SEQ_SPAN,
            stem=f"batch{batch:05d}",
        )
        for role, layout in layouts.items()
    }
    items_layout, synced_at = layouts[ITEMS], recipe.synced_at
    write = writers[ITEMS].write_row
    sub_layout = layouts.get(SUBITEMS)
    for body in bodies:
        for item in page_items(orjson.loads(body)):
            write(items_layout.row(item, synced_at))
            if sub_layout is not None:
                parent_id = item.get("id")
                for sub in item.get("subitems") or ():
                    writers[SUBITEMS].write_row(sub_layout.row(sub, synced_at, parent_id))
    result = BatchResult(batch)
    for role, writer in writers.items():
        result.files[role] = writer.close()
        result.rows[role] = writer.rows_written
        result.timed[role], result.warnings[role] = layouts[role].take_observations()
    return result


def page_items(body: Any) -> list[dict[str, Any]]:
    """The items of an `items_page` or `next_items_page` response body."""
    data = body.get("data") or {}
    page = data.get("next_items_page")
    if page is None:
        boards = data.get("boards") or [{}]
        page = boards[0].get("items_page") or {}
    return [item for item in page.get("items") or () if isinstance(item, dict)]


# -- the worker processes ---------------------------------------------------------------------------

_worker: tuple[DecodeRecipe, dict[str, TableLayout]] | None = None


def _start_worker(recipe: DecodeRecipe) -> None:
    global _worker
    _worker = (recipe, recipe.layouts())


def _decode_in_worker(batch: int, bodies: list[bytes]) -> BatchResult:
    assert _worker is not None, "the worker was not started"
    recipe, layouts = _worker
    return write_batch(recipe, layouts, batch, bodies)


class ParallelDecoder:
    """Batches page bodies and decodes them in `workers` processes, at most two batches per worker
    in flight (memory stays flat); `on_batch` sees each result as it completes, in batch order."""

    def __init__(self, recipe: DecodeRecipe, workers: int, on_batch: Callable[[BatchResult], None]) -> None:
        # spawn, not fork: this process runs threads (the embedded warehouse, the sandbox in tests)
        self._pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(recipe,),
        )  # fmt: skip
        self._limit = 2 * workers
        self._on_batch = on_batch
        self._bodies: list[bytes] = []
        self._pending: list[Awaitable[BatchResult]] = []
        self._batches = 0

    async def add(self, body: bytes) -> None:
        self._bodies.append(body)
        if len(self._bodies) >= PAGES_PER_BATCH:
            await self._submit()

    async def finish(self) -> None:
        """Decode what is left and wait for every batch; the first failure is raised."""
        if self._bodies:
            await self._submit()
        while self._pending:
            self._on_batch(await self._pending.pop(0))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def _submit(self) -> None:
        bodies, self._bodies = self._bodies, []
        loop = asyncio.get_running_loop()
        self._pending.append(loop.run_in_executor(self._pool, _decode_in_worker, self._batches, bodies))
        self._batches += 1
        while len(self._pending) > self._limit:
            self._on_batch(await self._pending.pop(0))
