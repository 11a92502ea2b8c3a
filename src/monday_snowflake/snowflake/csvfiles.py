"""Write warehouse rows into CSV files that Snowflake (and the embedded warehouse) load exactly.

The encoding, shared with the loader's FILE_FORMAT:
- NULL is the unquoted marker `\\N` (NULL_IF=('\\N')); an empty string stays an empty string
  (EMPTY_FIELD_AS_NULL=FALSE). The one value that cannot round-trip is the literal text `\\N`.
- Fields are quoted only when needed (commas, quotes, CR or LF), quotes doubled; rows end in CRLF;
  UTF-8 throughout.
- Numbers are written exactly (no float noise, no exponent); booleans TRUE/FALSE; dates ISO;
  timestamps naive UTC `YYYY-MM-DD HH:MM:SS.ffffff`; VARIANT values as compact JSON.
- Every row ends with a sequence number (`ROW_SEQ_COLUMN`) so the loader keeps the last row per key.
- After the header comes one guard row holding `TYPE_GUARD` in every field. fakesnow reads CSV with
  DuckDB, which guesses each column's type from a sample: a text column of digits would come back as a
  number (and a long one fail to load). The guard makes every column text; the loader skips the row.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO

from monday_snowflake.errors import InvalidDataError
from monday_snowflake.model.warehouse import WarehouseColumn
from monday_snowflake.storage import BlobStore

NULL_MARKER = "\\N"
ROW_SEQ_COLUMN = "_MS_ROW_SEQ"
TYPE_GUARD = "_MS_TYPE_GUARD"
_FLUSH_CHARS = 1 << 20

Formatter = Callable[[Any], Any]


def base_type(sql_type: str) -> str:
    """The type name without size or precision: `NUMBER(38,6)` -> `NUMBER`."""
    return re.split(r"[\s(]", sql_type.strip(), maxsplit=1)[0].upper()


def _text(value: Any) -> Any:
    if value.__class__ is str:
        return value
    return NULL_MARKER if value is None else str(value)


def _number(value: Any) -> Any:
    cls = value.__class__
    if cls is int:
        return value
    if value is None:
        return NULL_MARKER
    if cls is bool:
        raise InvalidDataError("a boolean is not a number", value=value)
    if cls is float:
        if not math.isfinite(value):
            raise InvalidDataError("a number must be finite", value=repr(value))
        return format(Decimal(repr(value)), "f")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise InvalidDataError("not a number", value=str(value)[:100]) from exc
    if not number.is_finite():
        raise InvalidDataError("a number must be finite", value=str(value)[:100])
    return format(number, "f")


def _boolean(value: Any) -> Any:
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if value is None:
        return NULL_MARKER
    if isinstance(value, int) and value in (0, 1):
        return "TRUE" if value else "FALSE"
    raise InvalidDataError("not a boolean", value=str(value)[:100])


def _date(value: Any) -> Any:
    if value is None:
        return NULL_MARKER
    if isinstance(value, dt.datetime):
        return _to_naive_utc(value).date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _timestamp_ntz(value: Any) -> Any:
    if value is None:
        return NULL_MARKER
    if isinstance(value, dt.datetime):
        return _to_naive_utc(value).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dt.date):
        return f"{value.isoformat()} 00:00:00.000000"
    return str(value)


def _timestamp_tz(value: Any) -> Any:
    if value is None:
        return NULL_MARKER
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.isoformat(sep=" ", timespec="microseconds")
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_dumper() -> Callable[[Any], str]:
    """Compact JSON, non-ASCII kept. Python's JSONEncoder.encode builds a new C encoder on every call;
    building it once makes VARIANT columns about four times cheaper."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return encoder.encode
    c_encode = make(None, _json_default, json.encoder.encode_basestring, None, ":", ",", False, False, True)

    def dumps(value: Any) -> str:
        if value.__class__ is str:
            return encoder.encode(value)
        return "".join(c_encode(value, 0))

    return dumps


_dumps = _json_dumper()


def _variant(value: Any) -> Any:
    if value is None:
        return NULL_MARKER
    try:
        return _dumps(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidDataError("value cannot be stored as VARIANT", error=str(exc)) from exc


def _to_naive_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


_FORMATTERS: dict[str, Formatter] = {
    **dict.fromkeys(("VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER"), _text),
    **dict.fromkeys(("NUMBER", "NUMERIC", "DECIMAL", "INT", "INTEGER", "BIGINT", "SMALLINT"), _number),
    **dict.fromkeys(("FLOAT", "DOUBLE", "REAL"), _number),
    "BOOLEAN": _boolean,
    "DATE": _date,
    **dict.fromkeys(("TIMESTAMP_NTZ", "TIMESTAMP", "DATETIME"), _timestamp_ntz),
    **dict.fromkeys(("TIMESTAMP_TZ", "TIMESTAMP_LTZ"), _timestamp_tz),
    **dict.fromkeys(("VARIANT", "OBJECT", "ARRAY"), _variant),
    "TIME": _text,
}


def formatter_for(sql_type: str) -> Formatter:
    """The function that turns a Python value into the CSV field for a column of `sql_type`."""
    try:
        return _FORMATTERS[base_type(sql_type)]
    except KeyError:
        raise InvalidDataError(f"no CSV encoding for column type {sql_type!r}") from None


def _row_formatter(formatters: Sequence[Formatter]) -> Callable[[Sequence[Any]], list[Any]]:
    """One function that formats a whole row, with the common cases inlined: calling a formatter per
    cell is most of the cost of writing 100,000 rows of 26 columns. The generated source only ever
    refers to the formatters by position; no name or value from the data goes into it."""
    fast_class = {_text: "str", _number: "int"}
    cells = []
    for i, fmt in enumerate(formatters):
        if fmt in fast_class:
            cells.append(f"(v{i} if v{i}.__class__ is {fast_class[fmt]} else f{i}(v{i}))")
        else:
            cells.append(f"f{i}(v{i})")
    names = ", ".join(f"v{i}" for i in range(len(formatters)))
    source = f"def format_row(values):\n    {names}, = values\n    return [{', '.join(cells)}]\n"
    scope: dict[str, Any] = {f"f{i}": fmt for i, fmt in enumerate(formatters)}
    exec(compile(source, "<csv row formatter>", "exec"), scope)  # noqa: S102 - generated from positions only
    format_row: Callable[[Sequence[Any]], list[Any]] = scope["format_row"]
    return format_row


class _Sink:
    """The csv writer's output: collects text and answers each write with its size in UTF-8 bytes."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.chars = 0

    def write(self, text: str) -> int:
        self.parts.append(text)
        self.chars += len(text)
        return len(text) if text.isascii() else len(text.encode())


class CsvBatchWriter:
    """Streams rows into `<prefix>/part-NNNNN.csv` blobs, starting a new file before one would
    exceed `max_bytes`. Each file has a header row; `close()` returns the files in write order."""

    def __init__(
        self, blob_store: BlobStore, prefix: str, columns: Sequence[WarehouseColumn], max_bytes: int
    ) -> None:
        if not columns:
            raise ValueError("a CSV batch needs at least one column")
        self._store = blob_store
        self._prefix = prefix.strip("/")
        self._format_row = _row_formatter([formatter_for(column.sql_type) for column in columns])
        # The header is skipped on load and only informs a reader. DuckDB's CSV sniffer (fakesnow) fails
        # on a quoted header field with doubled quotes, so names are written without `"` or line breaks.
        self._names = [re.sub(r'["\r\n]', "_", column.name) for column in columns]
        self._width = len(columns)
        self._max_bytes = max_bytes
        self._sink = _Sink()
        # CRLF: the csv module quotes a field holding a CR only when the line terminator has one
        self._writer = csv.writer(self._sink, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        self._paths: list[Path] = []
        self._file: BinaryIO | None = None
        self._file_bytes = 0
        self._file_rows = 0
        self._seq = 0
        self._taken = 0
        self.rows_written = 0

    def write_row(self, values: Sequence[Any]) -> None:
        """Append one row; `values` are in column order."""
        if len(values) != self._width:
            raise ValueError(f"expected {self._width} values, got {len(values)}")
        row = self._format_row(values)
        row.append(self._seq)
        self._seq += 1
        self._add(self._writer.writerow(row))

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append many rows."""
        for values in rows:
            self.write_row(values)

    def take_finished(self) -> list[Path]:
        """Files completed since the last call (after `close`, the last one too), so they can be
        loaded while later rows are still being written."""
        end = len(self._paths) - (1 if self._file is not None else 0)
        finished = self._paths[self._taken : end]
        self._taken = max(self._taken, end)
        return finished

    def close(self) -> list[Path]:
        """Finish the current file and return every file written (none if no row was written)."""
        self._flush()
        if self._file is not None:
            self._file.close()
            self._file = None
        return list(self._paths)

    def _add(self, size: int) -> None:
        if self._file is None:
            self._open_next()
        elif self._file_rows and self._file_bytes + size > self._max_bytes:
            row = self._sink.parts.pop()
            self._sink.chars -= len(row)
            self._flush()
            self._open_next()
            self._sink.parts.append(row)
            self._sink.chars += len(row)
        self._file_bytes += size
        self._file_rows += 1
        self.rows_written += 1
        if self._sink.chars >= _FLUSH_CHARS:
            self._flush()

    def _open_next(self) -> None:
        pending = self._sink.parts
        self._sink.parts = []
        self._sink.chars = 0
        if self._file is not None:
            self._file.close()
        path = self._store.path_for(f"{self._prefix}/part-{len(self._paths) + 1:05d}.csv")
        self._file = path.open("wb")
        self._paths.append(path)
        header_size = self._writer.writerow([*self._names, ROW_SEQ_COLUMN])
        guard_size = self._writer.writerow([TYPE_GUARD] * (self._width + 1))
        self._file_bytes = header_size + guard_size
        self._file_rows = 0
        self._sink.parts.extend(pending)
        self._sink.chars += sum(len(part) for part in pending)

    def _flush(self) -> None:
        if self._file is not None and self._sink.parts:
            self._file.write("".join(self._sink.parts).encode())
        self._sink.parts = []
        self._sink.chars = 0
