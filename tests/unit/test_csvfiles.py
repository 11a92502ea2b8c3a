"""CSV encoding of warehouse values: exact numbers, NULL vs empty, quoting, splitting."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from monday_snowflake.errors import InvalidDataError
from monday_snowflake.model.warehouse import WarehouseColumn
from monday_snowflake.snowflake.csvfiles import (
    NULL_MARKER,
    ROW_SEQ_COLUMN,
    TYPE_GUARD,
    CsvBatchWriter,
    formatter_for,
)
from monday_snowflake.storage.local import LocalBlobStore

C = WarehouseColumn


def read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize(
    ("sql_type", "value", "expected"),
    [
        ("NUMBER(38,6)", Decimal("1E+3"), "1000"),
        ("NUMBER(38,6)", Decimal("-0.000001"), "-0.000001"),
        (
            "NUMBER(38,6)",
            Decimal("12345678901234567890123456789012.123456"),
            "12345678901234567890123456789012.123456",
        ),
        ("NUMBER(38,2)", 0.1, "0.1"),
        ("NUMBER(38,2)", 1e20, "100000000000000000000"),
        ("NUMBER(38,2)", 1.5e-7, "0.00000015"),
        ("NUMBER(38,0)", 10**30, "1000000000000000000000000000000"),
        ("NUMBER(38,2)", " 42.50 ", "42.50"),
        ("NUMBER(38,0)", None, NULL_MARKER),
        ("BOOLEAN", True, "TRUE"),
        ("BOOLEAN", False, "FALSE"),
        ("BOOLEAN", None, NULL_MARKER),
        ("DATE", dt.date(2024, 2, 29), "2024-02-29"),
        ("DATE", dt.datetime(2024, 2, 29, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-2))), "2024-03-01"),
        ("TIMESTAMP_NTZ", dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05.000000"),
        ("TIMESTAMP_NTZ", dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC), "2024-01-02 03:04:05.000006"),
        (
            "TIMESTAMP_NTZ",
            dt.datetime(2024, 1, 2, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-01-01 23:00:00.000000",
        ),
        ("TIMESTAMP_NTZ", dt.date(2024, 1, 2), "2024-01-02 00:00:00.000000"),
        ("VARIANT", {"b": [1, "é", None], "a": True}, '{"b":[1,"é",null],"a":true}'),
        ("VARIANT", [], "[]"),
        ("VARIANT", "text", '"text"'),
        ("VARIANT", {"n": Decimal("2"), "f": Decimal("2.5")}, '{"n":2,"f":2.5}'),
        ("VARIANT", None, NULL_MARKER),
        ("VARCHAR", "", ""),
        ("VARCHAR", None, NULL_MARKER),
        ("VARCHAR", 12, "12"),
        ("VARCHAR", 'a,"b"\nc', 'a,"b"\nc'),
    ],
)
def test_each_type_is_formatted_exactly(sql_type: str, value: object, expected: str) -> None:
    assert str(formatter_for(sql_type)(value)) == expected


@pytest.mark.parametrize(
    ("sql_type", "value"),
    [
        ("NUMBER(38,2)", float("nan")),
        ("NUMBER(38,2)", float("inf")),
        ("NUMBER(38,2)", "twelve"),
        ("NUMBER(38,2)", True),
        ("BOOLEAN", "yes"),
        ("VARIANT", {"x": object()}),
    ],
)
def test_values_that_cannot_be_encoded_raise_invalid_data(sql_type: str, value: object) -> None:
    with pytest.raises(InvalidDataError):
        formatter_for(sql_type)(value)


def test_unknown_column_types_are_refused() -> None:
    with pytest.raises(InvalidDataError):
        formatter_for("GEOGRAPHY")


def test_file_has_header_guard_row_and_distinguishes_null_from_empty(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    columns = [C("ID", "NUMBER(38,0)"), C('Na"me\nx', "VARCHAR"), C("DONE", "BOOLEAN")]
    writer = CsvBatchWriter(store, "run/t", columns, 1_000_000)
    writer.write_row([1, "", True])
    writer.write_row([2, None, None])
    writer.write_row([3, 'quote " comma , crlf \r\n end', False])
    [path] = writer.close()
    raw = path.read_bytes()
    rows = read(path)
    assert rows[0] == ["ID", "Na_me_x", "DONE", ROW_SEQ_COLUMN]
    assert rows[1] == [TYPE_GUARD] * 4
    assert rows[2:] == [
        ["1", "", "TRUE", "0"],
        ["2", NULL_MARKER, NULL_MARKER, "1"],
        ["3", 'quote " comma , crlf \r\n end', "FALSE", "2"],
    ]
    # NULL is the bare marker; an empty string is an empty field
    assert b"\r\n2,\\N,\\N,1\r\n" in raw
    assert b"\r\n1,,TRUE,0\r\n" in raw


def test_a_lone_carriage_return_is_quoted(tmp_path: Path) -> None:
    writer = CsvBatchWriter(
        LocalBlobStore(tmp_path), "cr", [C("ID", "NUMBER(38,0)"), C("S", "VARCHAR")], 10**6
    )
    writer.write_row([1, "a\rb"])
    [path] = writer.close()
    assert b'1,"a\rb",0' in path.read_bytes()


def test_files_split_before_exceeding_max_bytes_and_keep_every_row_in_order(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    columns = [C("ID", "NUMBER(38,0)"), C("TEXT", "VARCHAR")]
    writer = CsvBatchWriter(store, "split", columns, 400)
    values = [[i, f'row {i} ünïcödé, "quoted"' * (1 + i % 3)] for i in range(200)]
    writer.write_rows(values)
    paths = writer.close()
    assert len(paths) > 5
    assert [p.name for p in paths] == [f"part-{i:05d}.csv" for i in range(1, len(paths) + 1)]
    assert all(p.stat().st_size <= 400 for p in paths)
    loaded = [row for p in paths for row in read(p)[2:]]
    assert loaded == [[str(i), text, str(i)] for i, text in values]
    assert writer.rows_written == 200


def test_a_row_larger_than_max_bytes_gets_a_file_of_its_own(tmp_path: Path) -> None:
    writer = CsvBatchWriter(
        LocalBlobStore(tmp_path), "big", [C("ID", "NUMBER(38,0)"), C("S", "VARCHAR")], 100
    )
    writer.write_rows([[1, "x" * 500], [2, "small"]])
    paths = writer.close()
    assert [len(read(p)) - 2 for p in paths] == [1, 1]


def test_no_rows_means_no_files(tmp_path: Path) -> None:
    writer = CsvBatchWriter(LocalBlobStore(tmp_path), "none", [C("ID", "NUMBER(38,0)")], 100)
    assert writer.close() == []


def test_rows_of_the_wrong_width_are_refused(tmp_path: Path) -> None:
    writer = CsvBatchWriter(LocalBlobStore(tmp_path), "w", [C("ID", "NUMBER(38,0)")], 100)
    with pytest.raises(ValueError, match="expected 1 values"):
        writer.write_row([1, 2])


def test_local_blob_store_lists_and_deletes_by_prefix_and_stays_inside_its_root(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    for name in ("run1/a.csv", "run1/b/c.csv", "run2/a.csv"):
        store.path_for(name).write_text("x")
    assert store.list("run1/") == ["run1/a.csv", "run1/b/c.csv"]
    assert store.delete_prefix("run1/") == 2
    assert store.list() == ["run2/a.csv"]
    assert not (tmp_path / "blobs" / "run1").exists()
    store.delete("run2/a.csv")
    store.delete("run2/a.csv")
    assert store.list() == []
    for bad in ("../escape", "/abs", "a/../../b", ""):
        with pytest.raises(Exception, match="invalid blob name"):
            store.path_for(bad)


def test_finished_files_are_handed_out_once_and_the_open_one_only_after_close(tmp_path: Path) -> None:
    writer = CsvBatchWriter(
        LocalBlobStore(tmp_path), "run", [C("ID", "NUMBER(38,0)"), C("S", "VARCHAR")], 400
    )
    handed: list[Path] = []
    for n in range(60):
        writer.write_row([n, "x" * 20])
        for path in writer.take_finished():
            assert path.stat().st_size > 0  # complete on disk when handed out
            handed.append(path)
    assert handed, "small files should have finished while rows were still being written"
    assert writer.take_finished() == []  # nothing new since the last call
    files = writer.close()
    handed.extend(writer.take_finished())
    assert handed == files  # every file exactly once, in order, the last one after close
    ids = [int(row[0]) for path in files for row in read(path)[2:]]
    assert ids == list(range(60))
