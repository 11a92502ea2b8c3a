"""The warehouse adapter against the embedded warehouse: fakesnow's server through the real connector."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monday_snowflake.errors import ConfigurationError, NotFoundError, PermanentError
from monday_snowflake.model.warehouse import TableRef, WarehouseColumn
from monday_snowflake.settings import SnowflakeSettings
from monday_snowflake.snowflake import loader
from monday_snowflake.snowflake.connection import connect
from monday_snowflake.snowflake.csvfiles import CsvBatchWriter
from monday_snowflake.snowflake.embedded import EmbeddedWarehouse
from monday_snowflake.snowflake.loader import MergeResult, SnowflakeWarehouse
from monday_snowflake.storage.local import LocalBlobStore

C = WarehouseColumn
SETTINGS = SnowflakeSettings.model_validate({})
SCHEMA = "WAREHOUSE_TESTS"
HOSTILE = 'x"; DROP TABLE t; --'


@pytest.fixture(scope="module")
def data_dir(warehouse_data_dir: Path) -> Path:
    """The session's embedded warehouse (a process serves one); these tests keep to their own schema."""
    EmbeddedWarehouse(warehouse_data_dir).ensure_running()
    return warehouse_data_dir


@pytest.fixture
def wh(data_dir: Path) -> Iterator[SnowflakeWarehouse]:
    warehouse = connect(SETTINGS, None, data_dir=data_dir)
    yield warehouse
    warehouse.close()


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "files")


def table(name: str) -> TableRef:
    return TableRef("MONDAY", SCHEMA, name)


def fq(ref: TableRef) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in (ref.database, ref.schema, ref.name))


def load(
    wh: SnowflakeWarehouse,
    store: LocalBlobStore,
    ref: TableRef,
    columns: Sequence[WarehouseColumn],
    rows: Sequence[Sequence[Any]],
    *,
    run_id: str = "run1",
    delete_missing: bool = False,
    soft_delete: bool = False,
    upsert: bool = True,
    max_bytes: int = 100_000_000,
) -> MergeResult:
    wh.ensure_table(ref, columns, columns[0].name)
    writer = CsvBatchWriter(store, f"{run_id}/{ref.name.encode().hex()[:16]}", columns, max_bytes)
    writer.write_rows(rows)
    files = writer.close()
    return wh.merge_files(ref, columns, columns[0].name, files, run_id=run_id, delete_missing=delete_missing,
                          soft_delete=soft_delete, upsert=upsert)  # fmt: skip


def test_ensure_table_creates_the_table_then_adds_only_missing_columns(wh: SnowflakeWarehouse) -> None:
    ref = table("evolving")
    first = [C("ITEM_ID", "NUMBER(38,0)"), C("Name", "VARCHAR")]
    assert wh.ensure_table(ref, first, "ITEM_ID") == first
    assert wh.table_columns(ref) == {"ITEM_ID": "NUMBER(38,0)", "Name": "VARCHAR"}

    second = [*first, C("Due date", "DATE"), C("Amount", "NUMBER(38,2)"), C("people", "VARIANT")]
    assert wh.ensure_table(ref, second, "ITEM_ID") == second[2:]
    assert wh.ensure_table(ref, second, "ITEM_ID") == []
    assert wh.table_columns(ref) == {
        "ITEM_ID": "NUMBER(38,0)",
        "Name": "VARCHAR",
        "Due date": "DATE",
        "Amount": "NUMBER(38,2)",
        "people": "VARIANT",
    }


def test_merge_inserts_then_updates_and_reports_counts(wh: SnowflakeWarehouse, store: LocalBlobStore) -> None:
    ref = table("upserts")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR")]
    first = load(wh, store, ref, columns, [[1, "one"], [2, "two"]], run_id="r1")
    assert (first.staged_rows, first.inserted, first.updated, first.deleted) == (2, 2, 0, 0)

    second = load(wh, store, ref, columns, [[2, "TWO"], [3, "three"]], run_id="r2")
    assert (second.staged_rows, second.inserted, second.updated, second.deleted) == (2, 1, 1, 0)
    _, rows = wh.query(f'SELECT "ITEM_ID", "NAME" FROM {fq(ref)} ORDER BY 1')
    assert rows == [(1, "one"), (2, "TWO"), (3, "three")]


def test_columns_the_load_does_not_name_are_left_alone(wh: SnowflakeWarehouse, store: LocalBlobStore) -> None:
    ref = table("extra column")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR")]
    load(wh, store, ref, columns, [[1, "a"]], run_id="r1")
    wh.ensure_table(ref, [*columns, C("NOTE", "VARCHAR")], "ITEM_ID")
    wh.execute(f'UPDATE {fq(ref)} SET "NOTE" = ? WHERE "ITEM_ID" = ?', ["kept", 1])
    load(wh, store, ref, columns, [[1, "b"], [2, "c"]], run_id="r2")
    _, rows = wh.query(f'SELECT "ITEM_ID", "NAME", "NOTE" FROM {fq(ref)} ORDER BY 1')
    assert rows == [(1, "b", "kept"), (2, "c", None)]


AWKWARD_TEXT = [
    None,
    "",
    " ",
    "  padded  ",
    "a,b,c",
    'she said "hi"',
    '"',
    '""',
    "line one\nline two",
    "crlf\r\nend",
    "tab\there",
    "back\\slash \\n not a newline",
    "NULL",
    "null",
    "N/A",
    "é à ü ß ç — “quotes” 日本語 עברית",
    "emoji 🎉🚀👩‍👩‍👧‍👦",
    "x" * 100_000,
    "ends with comma,",
    ",starts with comma",
    "'single' quotes; DROP TABLE t; --",
    "0123",
    "1e5",
    "TRUE",
]


def test_text_round_trips_exactly_null_and_empty_stay_distinct(
    wh: SnowflakeWarehouse, store: LocalBlobStore
) -> None:
    ref = table("text values")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("TEXT", "VARCHAR")]
    load(wh, store, ref, columns, [[i, value] for i, value in enumerate(AWKWARD_TEXT)])
    _, rows = wh.query(f'SELECT "ITEM_ID", "TEXT", "TEXT" IS NULL FROM {fq(ref)} ORDER BY 1')
    assert [row[1] for row in rows] == AWKWARD_TEXT
    assert [row[2] for row in rows] == [value is None for value in AWKWARD_TEXT]


def test_numbers_are_exact(wh: SnowflakeWarehouse, store: LocalBlobStore) -> None:
    ref = table("numbers")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("AMOUNT", "NUMBER(38,6)"), C("BIG", "NUMBER(38,0)")]
    values: list[list[Any]] = [
        [1, Decimal("0"), 0],
        [2, Decimal("-1.5"), -1],
        [3, Decimal("12345678901234567890123456789012.123456"), 2**63 - 1],
        [4, Decimal("-0.000001"), -(2**63)],
        [5, None, None],
        [6, 0.1, 1234567890123456789],
        [7, Decimal("1E+3"), 10**18],
        [8, "42.5", 7],
    ]
    load(wh, store, ref, columns, values)
    _, rows = wh.query(f'SELECT "ITEM_ID", "AMOUNT", "BIG" FROM {fq(ref)} ORDER BY 1')
    expected_amounts = [
        Decimal("0"),
        Decimal("-1.5"),
        Decimal("12345678901234567890123456789012.123456"),
        Decimal("-0.000001"),
        None,
        Decimal("0.1"),
        Decimal("1000"),
        Decimal("42.5"),
    ]
    assert [row[1] for row in rows] == expected_amounts
    # fakesnow stores NUMBER(38,0) as a 64-bit integer, so this stays within its range
    assert [row[2] for row in rows] == [0, -1, 2**63 - 1, -(2**63), None, 1234567890123456789, 10**18, 7]


def test_dates_timestamps_booleans_and_variants_round_trip(
    wh: SnowflakeWarehouse, store: LocalBlobStore
) -> None:
    ref = table("typed values")
    columns = [
        C("ITEM_ID", "NUMBER(38,0)"),
        C("DUE", "DATE"),
        C("AT", "TIMESTAMP_NTZ"),
        C("DONE", "BOOLEAN"),
        C("PEOPLE", "VARIANT"),
    ]
    people = [{"id": 1, "name": 'Zoë "Z" O\'Neil, Jr.', "tags": ["a", "b"]}, {"id": 2, "name": "🎉"}]
    values: list[list[Any]] = [
        [1, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 23, 59, 59, 123456), True, people],
        [2, None, None, None, None],
        [
            3,
            dt.date(1999, 12, 31),
            dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            False,
            {"from": "2024-01-01", "to": None, "nested": {"n": 1.5}},
        ],
        [4, dt.date(2024, 1, 1), dt.datetime(2024, 1, 1), False, []],
    ]
    load(wh, store, ref, columns, values)
    _, rows = wh.query(
        f'SELECT "ITEM_ID", "DUE", TO_VARCHAR("AT"), "AT" IS NULL, "DONE", "PEOPLE" IS NULL, '
        f'"PEOPLE"[0]:name::varchar, "PEOPLE"[0]:tags[1]::varchar, "PEOPLE":nested:n::varchar '
        f"FROM {fq(ref)} ORDER BY 1"
    )
    assert rows[0][1:8] == (
        dt.date(2024, 2, 29),
        "2024-02-29 23:59:59.123456",
        False,
        True,
        False,
        people[0]["name"],
        "b",
    )
    assert rows[1][1:6] == (None, None, True, None, True)
    # fakesnow 0.12.1 reads a NULL timestamp back as 1970-01-01 unless embedded.py patches it
    assert wh.query(f'SELECT "AT" FROM {fq(ref)} ORDER BY "ITEM_ID"')[1] == [
        (dt.datetime(2024, 2, 29, 23, 59, 59, 123456),),
        (None,),
        (dt.datetime(2024, 1, 1, 10, 0),),
        (dt.datetime(2024, 1, 1),),
    ]
    # an aware timestamp is stored as naive UTC
    assert rows[2][1:5] == (dt.date(1999, 12, 31), "2024-01-01 10:00:00", False, False)
    assert rows[2][8] == "1.5"
    _, variants = wh.query(f'SELECT "ITEM_ID", TO_VARCHAR("PEOPLE") FROM {fq(ref)} ORDER BY 1')
    parsed = [json.loads(text) if text is not None else None for _, text in variants]
    assert parsed == [people, None, values[2][4], []]


def test_duplicate_keys_keep_the_last_row_even_across_files(
    wh: SnowflakeWarehouse, store: LocalBlobStore
) -> None:
    ref = table("duplicates")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR")]
    rows = [[1, "first"], [2, "only"], *[[3, f"filler {i}"] for i in range(50)], [1, "last"], [3, "final"]]
    result = load(wh, store, ref, columns, rows, max_bytes=300)
    assert result.staged_rows == len(rows)
    assert result.duplicates_dropped == len(rows) - 3
    assert result.inserted == 3
    _, got = wh.query(f'SELECT "ITEM_ID", "NAME" FROM {fq(ref)} ORDER BY 1')
    assert got == [(1, "last"), (2, "only"), (3, "final")]


def test_delete_missing_removes_rows_gone_from_the_board(
    wh: SnowflakeWarehouse, store: LocalBlobStore
) -> None:
    ref = table("deletes")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR")]
    load(wh, store, ref, columns, [[1, "a"], [2, "b"], [3, "c"]], run_id="r1")

    incremental = load(wh, store, ref, columns, [[2, "B"]], run_id="r2", delete_missing=False)
    assert incremental.deleted == 0
    full = load(wh, store, ref, columns, [[2, "B"], [4, "d"]], run_id="r3", delete_missing=True)
    assert (full.inserted, full.updated, full.deleted) == (1, 1, 2)
    _, rows = wh.query(f'SELECT "ITEM_ID", "NAME" FROM {fq(ref)} ORDER BY 1')
    assert rows == [(2, "B"), (4, "d")]

    empty_board = wh.merge_files(ref, columns, "ITEM_ID", [], run_id="r4", delete_missing=True)
    assert empty_board.deleted == 2
    assert wh.query(f"SELECT COUNT(*) FROM {fq(ref)}")[1] == [(0,)]


def test_soft_delete_stamps_rows_gone_and_a_later_load_clears_the_stamp(
    wh: SnowflakeWarehouse, store: LocalBlobStore
) -> None:
    ref = table("soft deletes")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR"), C("_DELETED_AT", "TIMESTAMP_NTZ")]
    load(wh, store, ref, columns, [[1, "a", None], [2, "b", None], [3, "c", None]], run_id="r1")

    gone = load(wh, store, ref, columns, [[2, "B", None]], run_id="r2", delete_missing=True, soft_delete=True)
    assert gone.deleted == 2
    _, rows = wh.query(f'SELECT "ITEM_ID", "NAME", "_DELETED_AT" IS NOT NULL FROM {fq(ref)} ORDER BY 1')
    assert rows == [(1, "a", True), (2, "B", False), (3, "c", True)]
    _, ((stamp,),) = wh.query(f'SELECT "_DELETED_AT" FROM {fq(ref)} WHERE "ITEM_ID" = 1')
    assert abs(stamp - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(minutes=5)

    again = load(
        wh, store, ref, columns, [[2, "B", None]], run_id="r3", delete_missing=True, soft_delete=True
    )
    assert again.deleted == 0  # already stamped rows keep their first stamp
    restored = load(wh, store, ref, columns, [[1, "a", None], [2, "B", None]], run_id="r4")
    assert restored.updated == 2
    _, rows = wh.query(f'SELECT "ITEM_ID", "_DELETED_AT" IS NULL FROM {fq(ref)} ORDER BY 1')
    assert rows == [(1, True), (2, True), (3, False)]


def test_a_key_list_only_prunes_rows_whose_key_is_missing(
    wh: SnowflakeWarehouse, store: LocalBlobStore
) -> None:
    ref = table("pruned")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR")]
    load(wh, store, ref, columns, [[1, "a"], [2, "b"], [3, "c"]], run_id="r1")

    keys = [C("ITEM_ID", "NUMBER(38,0)")]
    pruned = load(wh, store, ref, keys, [[2], [3], [9]], run_id="r2", delete_missing=True, upsert=False)
    assert (pruned.inserted, pruned.updated, pruned.deleted) == (0, 0, 1)
    _, rows = wh.query(f'SELECT "ITEM_ID", "NAME" FROM {fq(ref)} ORDER BY 1')
    assert rows == [(2, "b"), (3, "c")]  # 9 is not invented, names are untouched


def test_rename_column_keeps_the_data(wh: SnowflakeWarehouse, store: LocalBlobStore) -> None:
    ref = table("renames")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("OLD NAME", "VARCHAR")]
    load(wh, store, ref, columns, [[1, "kept"]], run_id="r1")
    wh.rename_column(ref, "OLD NAME", HOSTILE)
    assert wh.table_columns(ref) == {"ITEM_ID": "NUMBER(38,0)", HOSTILE: "VARCHAR"}
    _, rows = wh.query(f'SELECT "ITEM_ID", {quote(HOSTILE)} FROM {fq(ref)}')
    assert rows == [(1, "kept")]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def test_hostile_names_become_names_and_nothing_else_runs(
    wh: SnowflakeWarehouse, store: LocalBlobStore
) -> None:
    bystander = table("T")
    wh.ensure_table(bystander, [C("ID", "NUMBER(38,0)")], "ID")
    ref = table(HOSTILE)
    columns = [
        C("ITEM_ID", "NUMBER(38,0)"),
        C(HOSTILE, "VARCHAR"),
        C("a,b (c) [d] {e} f$1 ~!@#%^&*", "VARCHAR"),
    ]
    result = load(wh, store, ref, columns, [[1, HOSTILE, "ok"]])
    assert result.inserted == 1
    assert wh.table_columns(ref) == {
        "ITEM_ID": "NUMBER(38,0)",
        HOSTILE: "VARCHAR",
        "a,b (c) [d] {e} f$1 ~!@#%^&*": "VARCHAR",
    }
    _, rows = wh.query(
        f'SELECT "ITEM_ID", "x""; DROP TABLE t; --", "a,b (c) [d] {{e}} f$1 ~!@#%^&*" FROM {fq(ref)}'
    )
    assert rows == [(1, HOSTILE, "ok")]
    _, tables = wh.query(
        "SELECT table_name FROM MONDAY.information_schema.tables WHERE table_schema = ? ORDER BY 1",
        [SCHEMA],
    )
    names = {name for (name,) in tables}
    assert {"T", HOSTILE} <= names
    assert wh.table_columns(bystander) == {"ID": "NUMBER(38,0)"}


def test_embedded_refuses_names_fakesnow_cannot_hold_up_front(wh: SnowflakeWarehouse) -> None:
    # fakesnow splices names into its own SQL unescaped and reads `$word` as a variable
    with pytest.raises(ConfigurationError):
        wh.ensure_table(table("quoted"), [C("ID", "NUMBER(38,0)"), C("it's", "VARCHAR")], "ID")
    with pytest.raises(ConfigurationError):
        wh.ensure_table(table("quoted"), [C("ID", "NUMBER(38,0)"), C("cost $usd", "VARCHAR")], "ID")
    with pytest.raises(ConfigurationError):
        wh.ensure_table(table("it's"), [C("ID", "NUMBER(38,0)")], "ID")
    assert wh.table_columns(table("quoted")) == {}


def test_split_files_all_load(wh: SnowflakeWarehouse, store: LocalBlobStore) -> None:
    ref = table("split")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR"), C("V", "VARIANT")]
    wh.ensure_table(ref, columns, "ITEM_ID")
    writer = CsvBatchWriter(store, "split/run", columns, 2_000)
    rows = [[i, f'item {i}, "quoted"\nnext line', {"i": i}] for i in range(500)]
    writer.write_rows(rows)
    files = writer.close()
    assert len(files) > 10
    assert all(path.stat().st_size <= 2_000 for path in files)
    result = wh.merge_files(ref, columns, "ITEM_ID", files, run_id="split", delete_missing=False)
    assert (result.staged_rows, result.inserted) == (500, 500)
    _, got = wh.query(f'SELECT "ITEM_ID", "NAME", "V":i::number FROM {fq(ref)} ORDER BY 1')
    assert got == [(i, name, i) for i, name, _ in rows]


def test_a_failure_after_the_upsert_leaves_the_target_unchanged(
    wh: SnowflakeWarehouse, store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = table("atomic")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR")]
    load(wh, store, ref, columns, [[1, "a"], [2, "b"]], run_id="r1")
    monkeypatch.setattr(loader, "delete_unstaged", lambda *_: "DELETE FROM no_such_table_anywhere")
    with pytest.raises(PermanentError):
        load(wh, store, ref, columns, [[1, "CHANGED"], [3, "new"]], run_id="r2", delete_missing=True)
    _, rows = wh.query(f'SELECT "ITEM_ID", "NAME" FROM {fq(ref)} ORDER BY 1')
    assert rows == [(1, "a"), (2, "b")]


def test_staged_files_are_removed_after_a_load(
    wh: SnowflakeWarehouse, store: LocalBlobStore, data_dir: Path
) -> None:
    ref = table("cleanup")
    columns = [C("ITEM_ID", "NUMBER(38,0)")]
    load(wh, store, ref, columns, [[1]], run_id="cleanup-run")
    stage_dir = data_dir / "warehouse" / "stages" / "MONDAY" / SCHEMA
    assert stage_dir.is_dir()
    assert not [p for p in stage_dir.rglob("*") if p.is_file()]
    _, listed = wh.query(f"LIST @MONDAY.{SCHEMA}.{loader.STAGE_NAME}")
    assert listed == []


def test_errors_are_classified(wh: SnowflakeWarehouse) -> None:
    with pytest.raises(NotFoundError) as missing:
        wh.query(f'SELECT * FROM MONDAY.{SCHEMA}."no such table"')
    assert missing.value.__cause__ is not None
    with pytest.raises(PermanentError):
        wh.query("SELEC 1")


def test_a_second_process_reuses_the_running_warehouse(wh: SnowflakeWarehouse, data_dir: Path) -> None:
    ref = table("shared")
    wh.ensure_table(ref, [C("ID", "NUMBER(38,0)")], "ID")
    wh.execute(f'INSERT INTO {fq(ref)} ("ID") VALUES (?), (?)', [1, 2])
    info = EmbeddedWarehouse(data_dir).read_info()
    assert info is not None and info.pid == os.getpid()
    script = (
        "import sys; from pathlib import Path\n"
        "from monday_snowflake.settings import SnowflakeSettings\n"
        "from monday_snowflake.snowflake.connection import connect\n"
        "from monday_snowflake.snowflake.embedded import EmbeddedWarehouse\n"
        "d = Path(sys.argv[1])\n"
        "host, port = EmbeddedWarehouse(d).ensure_running()\n"
        "wh = connect(SnowflakeSettings.model_validate({}), None, data_dir=d)\n"
        "print(port, wh.query('SELECT COUNT(*) FROM MONDAY.WAREHOUSE_TESTS.\"shared\"')[1][0][0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(info.port), "2"]
    assert EmbeddedWarehouse(data_dir).read_info() == info
    assert wh.query(f"SELECT COUNT(*) FROM {fq(ref)}")[1] == [(2,)]


def test_data_survives_a_restart(data_dir: Path, store: LocalBlobStore) -> None:
    ref = table("persisted")
    columns = [C("ITEM_ID", "NUMBER(38,0)"), C("NAME", "VARCHAR")]
    before = connect(SETTINGS, None, data_dir=data_dir)
    load(before, store, ref, columns, [[1, "kept"]])
    before.close()
    embedded = EmbeddedWarehouse(data_dir)
    embedded.stop()
    assert embedded.read_info() is None
    assert not embedded.is_served_here()
    after = connect(SETTINGS, None, data_dir=data_dir)
    try:
        assert after.query(f'SELECT "ITEM_ID", "NAME" FROM {fq(ref)}')[1] == [(1, "kept")]
        result = load(after, store, ref, columns, [[1, "again"], [2, "new"]], run_id="after-restart")
        assert (result.inserted, result.updated) == (1, 1)
    finally:
        after.close()
