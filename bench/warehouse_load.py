"""Benchmark the warehouse load alone: CSV writing, PUT, COPY, dedup and MERGE into the embedded warehouse.

python bench/warehouse_load.py [--rows 100000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from monday_snowflake.model.warehouse import TableRef, WarehouseColumn
from monday_snowflake.settings import SnowflakeSettings
from monday_snowflake.snowflake.connection import connect
from monday_snowflake.snowflake.csvfiles import CsvBatchWriter
from monday_snowflake.snowflake.embedded import EmbeddedWarehouse
from monday_snowflake.storage.local import LocalBlobStore

C = WarehouseColumn
COLUMNS = [
    C("ITEM_ID", "NUMBER(38,0)"),
    C("NAME", "VARCHAR"),
    C("GROUP_ID", "VARCHAR"),
    C("GROUP_TITLE", "VARCHAR"),
    C("CREATED_AT", "TIMESTAMP_NTZ"),
    C("UPDATED_AT", "TIMESTAMP_NTZ"),
    C("_SYNCED_AT", "TIMESTAMP_NTZ"),
    *[C(f"TEXT_{i}", "VARCHAR") for i in range(5)],
    *[C(f"NUM_{i}", "NUMBER(38,2)") for i in range(4)],
    C("STATUS", "VARCHAR"),
    C("DUE", "DATE"),
    C("DONE", "BOOLEAN"),
    C("PEOPLE", "VARIANT"),
    C("TIMELINE", "VARIANT"),
    C("TAGS", "VARIANT"),
    C("EMAIL", "VARCHAR"),
    C("LINK", "VARCHAR"),
    C("PHONE", "VARCHAR"),
    C("RATING", "NUMBER(38,0)"),
]


def make_row(i: int, now: dt.datetime) -> list[Any]:
    return [
        i,
        f'Item {i}, with "quotes" and ünïcödé',
        "topics",
        "Group title",
        now,
        now,
        now,
        *[f"text {i} col {j}" for j in range(5)],
        *[Decimal(i) / 100 + j for j in range(4)],
        "Working on it",
        dt.date(2024, 1, 1) + dt.timedelta(days=i % 365),
        i % 2 == 0,
        [{"id": i % 50, "kind": "person"}],
        {"from": "2024-01-01", "to": "2024-02-01"},
        ["a", "b"],
        f"user{i}@example.com",
        f"https://example.com/{i}",
        "+1 555 0100",
        i % 6,
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ms-bench-"))
    now = dt.datetime(2026, 1, 1, 12, 0, 0)
    rows = [make_row(i, now) for i in range(args.rows)]

    store = LocalBlobStore(data_dir / "files")
    started = time.perf_counter()
    writer = CsvBatchWriter(store, "bench", COLUMNS, 100_000_000)
    writer.write_rows(rows)
    files = writer.close()
    write_s = time.perf_counter() - started
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"CSV write: {args.rows} rows x {len(COLUMNS)} cols, {size_mb:.1f} MB in {write_s:.2f} s")

    warehouse = connect(SnowflakeSettings.model_validate({}), None, data_dir=data_dir)
    table = TableRef("MONDAY", "PUBLIC", "BENCH")
    warehouse.ensure_table(table, COLUMNS, "ITEM_ID")
    for label in ("all inserts", "all updates"):
        started = time.perf_counter()
        result = warehouse.merge_files(table, COLUMNS, "ITEM_ID", files, run_id="bench", delete_missing=True)
        total = time.perf_counter() - started
        steps = ", ".join(f"{k} {v:.2f} s" for k, v in result.seconds.items())
        print(f"load ({label}): {total:.2f} s [{steps}] ins={result.inserted} upd={result.updated}")
    warehouse.close()
    EmbeddedWarehouse(data_dir).stop()


if __name__ == "__main__":
    main()
