"""Column value codecs: monday column values in, warehouse-typed Python values out.

One `ColumnCodec` per board column fixes the Snowflake type of that column and turns each monday
`ColumnValue` (`{"id", "text", "value", ...typed fields}`, `value` being a JSON string) into a
plain Python value: `str`, `int`, `Decimal`, `bool`, `date`, naive-UTC `datetime`, or a JSON-able
list/dict/str for VARIANT. `RowDecoder` applies the codecs of a whole board to one item at a time.

Type table (monday type -> Snowflake type -> Python value):

    text, long_text, phone        VARCHAR        the text
    email / link                  VARCHAR        the address / the url (labels are dropped)
      ... with keep_labels        VARIANT        {"email": ..., "label": ...} / {"url": ..., "label": ...}
    status                        VARCHAR        the label
    dropdown                      VARCHAR        labels joined with ", " (monday's own text)
      ... with keep_dropdown_ids  VARIANT        {"ids": [1, 3], "labels": ["A", "B"]}
    numbers, progress             NUMBER(38,9)   Decimal, exact; more than 9 decimals are rounded
                                                 half away from zero (as Snowflake does); more than
                                                 29 integer digits, NaN or Infinity -> NULL + warning
    date                          DATE           date, or a naive UTC datetime for a value carrying a time;
                                                 the sync turns the column into TIMESTAMP_NTZ when the
                                                 board's values carry times (see sync/layout.py)
      ... settings include_time   TIMESTAMP_NTZ  naive UTC datetime (a date alone -> midnight)
    creation_log, last_updated    TIMESTAMP_NTZ  naive UTC datetime
    checkbox                      BOOLEAN        True / False (monday stores unchecked as null)
    people                        VARIANT        [{"id": 1, "kind": "person"|"team"|"agent"}]
    board_relation, dependency,   VARIANT        [linked item ids]
      subtasks
    tags                          VARIANT        [tag ids]
    location                      VARIANT        {"lat", "lng", "address", ...what monday sent}
    mirror                        VARIANT        its display value (a string)
    timeline, week                VARIANT        {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}
    time_tracking                 VARIANT        {"duration_seconds", "running", "started_at" (ISO, Z)}
    file                          VARIANT        [{"name", "url", "asset_id"}]
    formula                       VARCHAR        its display value (monday does not type formulas)
    rating, vote, item_id,        NUMBER(38,0)   int
      auto_number
    country                       VARCHAR        ISO-2 code, e.g. "US"
    hour                          VARCHAR        "HH:MM"
    world_clock                   VARCHAR        IANA time zone, e.g. "Europe/London"
    color_picker                  VARCHAR        the colour as monday renders it (hex)
    button                        (skipped)
    name                          (skipped: every table has the item's NAME already)
    anything else                 VARIANT        the raw parsed `value` (or `text` when `value` is null)

Empty values (`null`, `""`, `{}`, empty lists) become NULL, except checkbox (False).

monday has no documented date-column setting for "has a time", so the values decide (sync/layout.py);
`settings["include_time"]` (truthy, our own key) forces TIMESTAMP_NTZ from the start.

A value in a shape a codec does not understand never raises and never drops the row: the cell holds
the raw `text` (or raw `value` string) for VARCHAR targets, the raw parsed JSON for VARIANT targets, and
NULL for typed targets (NUMBER, DATE, TIMESTAMP_NTZ, BOOLEAN), and one warning is counted for the
column in the `warnings` counter passed in (`RowDecoder.warnings`).

Speed: `RowDecoder.decode` parses all JSON `value`s of an item with one JSON call (falling back to one
call per cell if that fails), and text-only columns (text, numbers, status, dropdown) never parse JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, NamedTuple

import orjson

from monday_snowflake.model.board import ColumnSpec

# The selection asked for inside `column_values { ... }` of every items query. The codecs decide it,
# because they know which typed fields they read: only those whose `value`/`text` are null by design
# (connect boards, dependency, mirror, formula) or whose text format is undocumented (timestamps).
COLUMN_VALUE_SELECTION = (
    "id text value"
    " ... on BoardRelationValue { linked_item_ids }"
    " ... on DependencyValue { linked_item_ids }"
    " ... on MirrorValue { display_value }"
    " ... on FormulaValue { display_value }"
    " ... on CreationLogValue { created_at }"
    " ... on LastUpdatedValue { updated_at }"
)

NUMBER_SCALE = 9
NUMBER_SQL_TYPE = f"NUMBER(38,{NUMBER_SCALE})"
INTEGER_SQL_TYPE = "NUMBER(38,0)"
VARCHAR = "VARCHAR"
VARIANT = "VARIANT"
DATE = "DATE"
TIMESTAMP = "TIMESTAMP_NTZ"
BOOLEAN = "BOOLEAN"

_LEGACY_TYPES = {
    "color": "status",
    "multiple_person": "people",
    "person": "people",
    "boolean": "checkbox",
    "numeric": "numbers",
    "number": "numbers",
    "timerange": "timeline",
    "pulse_log": "creation_log",
    "pulse_updated": "last_updated",
    "pulse_id": "item_id",
    "tag": "tags",
    "lookup": "mirror",
    "duration": "time_tracking",
    "timezone": "world_clock",
    "autonumber": "auto_number",
    "votes": "vote",
    "files": "file",
    "subitems": "subtasks",
    "connect_boards": "board_relation",
}

SKIPPED_TYPES = frozenset({"button", "name"})


def normalise_type(name: str) -> str:
    """A monday column type name, legacy (`color`, `multiple-person`, `pulse-log`...) or current, as the
    current API name (`status`, `people`, `creation_log`...). Unknown names come back lower-snake-cased."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return _LEGACY_TYPES.get(key, key)


class _ShapeError(ValueError):
    """The column value is not in a shape the parser knows."""


# A parser gets the column value and, for codecs that read it, its `value` already parsed from JSON.
Parser = Callable[[Mapping[str, Any], Any], Any]
Fallback = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class ColumnCodec:
    """How one monday column lands in the warehouse: its Snowflake type and its value decoder."""

    column_id: str
    monday_type: str
    sql_type: str
    parse: Parser
    fallback: Fallback
    reads_value: bool  # parse wants `value` parsed from JSON

    def decode(self, cv: Mapping[str, Any], warnings: Counter[str] | None = None) -> Any:
        """The warehouse value of one `ColumnValue`. Never raises; an unexpected shape is counted in
        `warnings` under the column id and decoded to the fallback described in the module docstring."""
        try:
            return self.parse(cv, _loads(cv.get("value")) if self.reads_value else None)
        except Exception:
            if warnings is not None:
                warnings[self.column_id] += 1
            return self.fallback(cv)


# ---------------------------------------------------------------------------------------- helpers


def _loads(raw: Any) -> Any:
    """`value` as JSON. Clients normally hand us the JSON string; an already-parsed value passes.
    orjson parses 3-4x faster; what it refuses (NaN, numbers beyond a double) goes to `json`."""
    if type(raw) is str:
        try:
            return orjson.loads(raw)
        except ValueError:
            return json.loads(raw)  # garbage raises the usual error
    return raw


def _json_string(raw: Any) -> Any:
    """`value` of a column stored as a bare JSON string (`"\\"42\\""`), sliced when that is exact."""
    if type(raw) is str and len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"' and "\\" not in raw:
        return raw[1:-1]
    return _loads(raw)


def _present_text(cv: Mapping[str, Any]) -> str | None:
    text = cv.get("text")
    if text is None or text == "":
        return None
    if type(text) is not str:
        raise _ShapeError("text is not a string")
    return text


def _nonempty(cv: Mapping[str, Any], value: Any) -> Any:
    """`value`, or None when empty (`null`, `""`, `{}`). A null value beside a non-empty text is an
    unexpected shape: decoding it as empty would lose what monday shows."""
    if value is None or value == "" or value == {}:
        if _present_text(cv) is not None:
            raise _ShapeError("text without value")
        return None
    if type(value) is not dict:
        raise _ShapeError("value is not an object")
    return value


def _as_int(raw: Any) -> int:
    if type(raw) is int:
        return raw
    if isinstance(raw, bool) or raw is None:
        raise _ShapeError("not an integer")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise _ShapeError("not an integer")
        return int(raw)
    return int(str(raw).strip())


def _int_list(raw: Any) -> list[int] | None:
    if type(raw) is not list:
        raise _ShapeError("not a list")
    for x in raw:  # ids are ints, or strings for GraphQL `ID!`; anything else takes the careful path
        if type(x) is not int and type(x) is not str:
            return [_as_int(x) for x in raw] or None
    return list(map(int, raw)) or None


def _is_true(raw: Any) -> bool:
    if raw is True or raw == "true":
        return True
    if raw is False or raw is None or raw == "false" or raw == "":
        return False
    raise _ShapeError("not a boolean")


def parse_utc_timestamp(raw: Any) -> datetime:
    """A monday timestamp (`2024-01-02T10:00:00Z`, `...00.123+00:00`, `2024-01-02 10:00:00 UTC`, or epoch
    seconds) as a naive UTC datetime. Raises ValueError when it is none of these."""
    if type(raw) is not str:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return datetime.fromtimestamp(raw, UTC).replace(tzinfo=None)
        raise _ShapeError("timestamp is not a string")
    if raw[-1:] == "Z" and raw[-2:-1] != " ":
        parsed = datetime.fromisoformat(raw[:-1])  # the usual ISO form; stays naive
        if parsed.tzinfo is None:
            return parsed
    text = raw.strip()
    if text.endswith(" UTC"):
        text = text[:-4]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _label_map(settings: Mapping[str, Any]) -> dict[int, str]:
    """Label id -> label from status/dropdown settings, array shape or the older id->text map."""
    labels = settings.get("labels")
    out: dict[int, str] = {}
    try:
        if isinstance(labels, list):
            for entry in labels:
                out[int(entry["id"])] = str(entry.get("label") or entry.get("name") or "")
        elif isinstance(labels, Mapping):
            for key, label in labels.items():
                out[int(key)] = str(label.get("label", "") if isinstance(label, Mapping) else label)
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}
    return out


_CONTEXT = Context(prec=80, rounding=ROUND_HALF_UP)
_SCALE = Decimal(1).scaleb(-NUMBER_SCALE)
_ONE = Decimal(1)
_NUMBER_LIMIT = Decimal(10) ** (38 - NUMBER_SCALE)
_PLAIN_MAX_LEN = 38 - NUMBER_SCALE  # a plain "-ddd.ddd" this long cannot exceed 29 integer digits


def _to_decimal(raw: Any) -> Decimal | None:
    """A number for NUMBER(38, NUMBER_SCALE): exact, rounded half away from zero past the scale."""
    if raw is None or raw == "":
        return None
    if type(raw) is str:
        number = Decimal(raw)
        dot = raw.find(".")
        if (
            len(raw) <= _PLAIN_MAX_LEN
            and (dot < 0 or len(raw) - dot <= NUMBER_SCALE + 1)
            and raw.replace(".", "", 1).lstrip("-").isdigit()
        ):
            return number  # the common case: plain digits within range and scale
    elif isinstance(raw, bool):
        raise _ShapeError("boolean is not a number")
    else:
        number = Decimal(repr(raw) if isinstance(raw, float) else raw)
    if not number.is_finite():
        raise _ShapeError("not a finite number")
    exponent = number.as_tuple().exponent
    if type(exponent) is int and exponent < -NUMBER_SCALE:
        number = number.quantize(_SCALE, context=_CONTEXT)
    elif type(exponent) is int and exponent > 0:
        number = number.quantize(_ONE, context=_CONTEXT)
    if not -_NUMBER_LIMIT < number < _NUMBER_LIMIT:  # (abs() would round to 28 digits)
        raise _ShapeError("number too large for NUMBER(38, scale)")
    return number


# ------------------------------------------------------------------------ parsers reading text only


def _parse_text(cv: Mapping[str, Any], _: Any) -> str | None:
    text = _present_text(cv)
    if text is not None or cv.get("value") is None:
        return text
    value = _json_string(cv["value"])
    if type(value) is dict:
        value = value.get("text")
    if value is not None and type(value) is not str:
        raise _ShapeError("text value is not a string")
    return value or None


def _parse_number(cv: Mapping[str, Any], _: Any) -> Decimal | None:
    raw = cv.get("value")
    if type(raw) is str and len(raw) > 2 and raw[0] == '"' and raw[-1] == '"':
        text = raw[1:-1]  # the common '"12.5"': plain digits within range and scale go straight through
        dot = text.find(".")
        if (
            len(text) <= _PLAIN_MAX_LEN
            and (dot < 0 or len(text) - dot <= NUMBER_SCALE + 1)
            and text.replace(".", "", 1).lstrip("-").isdigit()
        ):
            return Decimal(text)
    if raw is None:
        shown = _present_text(cv)
        return None if shown is None else _to_decimal(shown.rstrip("%").strip())
    value = _json_string(raw)
    if type(value) is dict:
        value = value.get("number", value.get("value"))
    return _to_decimal(value)


def _parse_int(cv: Mapping[str, Any], _: Any) -> int | None:
    text = _present_text(cv)
    if text is not None:
        return int(text)
    raw = cv.get("value")
    if raw is None:
        return None
    value = _loads(raw)
    if type(value) is dict:
        value = next((value[k] for k in ("item_id", "number", "value") if k in value), None)
    return None if value is None or value == "" else _as_int(value)


def _labelled_parser(settings: Mapping[str, Any], *, many: bool) -> Parser:
    """status (one label) or dropdown (labels joined with ", "): monday's text, else labels by id."""
    labels = _label_map(settings)

    def parse(cv: Mapping[str, Any], _: Any) -> str | None:
        text = _present_text(cv)
        if text is not None:
            return text
        raw = cv.get("value")
        value = None if raw is None else _loads(raw)
        if not value:
            return None
        label = value.get("label")
        if type(label) is dict:  # the webhook form {"label": {"index": 3, "text": "Done"}}
            label = label.get("text")
        if type(label) is str:
            return label or None
        ids = value.get("ids") if many else [value["index"]] if value.get("index") is not None else None
        if not ids:
            return None
        return ", ".join(labels[int(i)] for i in ids) or None

    return parse


def _display_value(cv: Mapping[str, Any], _: Any) -> str | None:
    shown = cv.get("display_value")
    if shown is None:
        return _present_text(cv)
    if type(shown) is not str:
        raise _ShapeError("display_value is not a string")
    return shown or None


def _linked_ids_parser(typed_field: str) -> Parser:
    """board_relation / dependency / subtasks: the typed id list, else the older `value` forms
    `{"linkedPulseIds":[{"linkedPulseId":1}]}` and `{"item_ids":[1]}`."""

    def parse(cv: Mapping[str, Any], _: Any) -> list[int] | None:
        typed = cv.get(typed_field)
        if typed is not None:
            return _int_list(typed)
        raw = cv.get("value")
        value = None if raw is None else _loads(raw)
        if not value:
            return None
        if "linkedPulseIds" in value:
            return _int_list([link["linkedPulseId"] for link in value["linkedPulseIds"] or []])
        if "item_ids" in value:
            return _int_list(value["item_ids"])
        if set(value) == {"changed_at"}:
            return None
        raise _ShapeError("no linked ids")

    return parse


def _timestamp_parser(typed_field: str) -> Parser:
    """creation_log / last_updated: the typed field, else `value[field]`, else the text."""

    def parse(cv: Mapping[str, Any], _: Any) -> datetime | None:
        found = cv.get(typed_field)
        if found is None:
            raw = cv.get("value")
            value = None if raw is None else _loads(raw)
            if type(value) is dict:
                found = value.get(typed_field)
        if found is None or found == "":
            found = _present_text(cv)
        return None if found is None else parse_utc_timestamp(found)

    return parse


def _parse_color(cv: Mapping[str, Any], _: Any) -> str | None:
    text = _present_text(cv)
    if text is not None:
        return text
    raw = cv.get("value")
    value = None if raw is None else _loads(raw)
    if not value:
        return None
    color = value["color"]
    if type(color) is dict:
        color = color.get("hex")
    return str(color) if color else None


# --------------------------------------------------------------- parsers reading the JSON `value`


def _field_parser(*keys: str) -> Parser:
    """VARCHAR from one key of the JSON `value` (email -> email, link -> url), else the text."""

    def parse(cv: Mapping[str, Any], value: Any) -> str | None:
        if type(value) is str:
            return value or None
        value = _nonempty(cv, value)
        if value is None:
            return None
        for key in keys:
            found = value.get(key)
            if found is not None and found != "":
                return str(found)
        if any(key in value for key in keys) or set(value) == {"changed_at"}:
            return None
        raise _ShapeError(f"no {keys[0]}")

    return parse


def _key_int_parser(key: str) -> Parser:
    def parse(cv: Mapping[str, Any], value: Any) -> int | None:
        value = _nonempty(cv, value)
        found = None if value is None else value.get(key)
        return None if found is None or found == "" else _as_int(found)

    return parse


def _parse_vote(cv: Mapping[str, Any], value: Any) -> int | None:
    if type(value) is dict:
        voters = value.get("votersIds", value.get("voter_ids"))
        if voters is not None:
            return len(voters)
    text = _present_text(cv)
    return None if text is None else int(text)


def _dropdown_ids_parser(settings: Mapping[str, Any]) -> Parser:
    labels = _label_map(settings)

    def parse(cv: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
        value = _nonempty(cv, value)
        if value is None:
            return None
        ids = _int_list(value.get("ids") or [])
        if not ids:
            return None
        if all(i in labels for i in ids):
            names = [labels[i] for i in ids]
        else:
            text = _present_text(cv)
            names = text.split(", ") if text is not None else []
            if len(names) != len(ids):
                raise _ShapeError("dropdown labels unknown")
        return {"ids": ids, "labels": names}

    return parse


def _date_parser(*, with_time: bool) -> Parser:
    def parse(cv: Mapping[str, Any], value: Any) -> date | datetime | None:
        value = _nonempty(cv, value)
        day_text = None if value is None else value.get("date")
        if not day_text:
            return None
        day = date.fromisoformat(day_text)
        time_text = value.get("time")
        if with_time or time_text:
            return datetime.combine(day, time.fromisoformat(time_text) if time_text else time())
        return day

    return parse


def _parse_checkbox(cv: Mapping[str, Any], value: Any) -> bool:
    if value is None:
        return False
    return _is_true(value.get("checked"))


def _parse_people(cv: Mapping[str, Any], value: Any) -> list[dict[str, Any]] | None:
    value = _nonempty(cv, value)
    if value is None:
        return None
    if "personsAndTeams" in value:
        entries = value["personsAndTeams"] or []
    elif "id" in value:  # the legacy single `person` column
        entries = [{"id": value["id"], "kind": "person"}]
    else:
        raise _ShapeError("no personsAndTeams")
    people = [{"id": _as_int(e["id"]), "kind": e.get("kind") or "person"} for e in entries]
    return people or None


def _parse_tags(cv: Mapping[str, Any], value: Any) -> list[int] | None:
    value = _nonempty(cv, value)
    return None if value is None else _int_list(value.get("tag_ids") or [])


def _parse_location(cv: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    value = _nonempty(cv, value)
    if value is None:
        return None
    out = dict(value)
    out.pop("changed_at", None)
    lat, lng = out.get("lat"), out.get("lng")
    out["lat"] = None if lat is None or lat == "" else float(lat)
    out["lng"] = None if lng is None or lng == "" else float(lng)
    if out["lat"] is None and out["lng"] is None and not out.get("address"):
        return None
    return out


def _iso_day(raw: Any) -> str | None:
    if not raw:
        return None
    day = date.fromisoformat(raw)
    return raw if len(raw) == 10 else day.isoformat()


def _range_parser(outer: str | None, start: str, end: str) -> Parser:
    """timeline (`{"from","to"}`) and week (`{"week":{"startDate","endDate"}}`) as {"from","to"}."""

    def parse(cv: Mapping[str, Any], value: Any) -> dict[str, str | None] | None:
        value = _nonempty(cv, value)
        if value is not None and outer is not None:
            value = value.get(outer, value)
        if value is None:
            return None
        first, last = value.get(start), value.get(end)
        if not first and not last:
            return None
        return {"from": _iso_day(first), "to": _iso_day(last)}

    return parse


def _parse_time_tracking(cv: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    value = _nonempty(cv, value)
    if value is None:
        return None
    started = value.get("startDate")
    if type(started) is str and started.isdigit():
        started = int(started)
    started_at = None
    if started is not None and started != "" and started != 0:
        started_at = parse_utc_timestamp(started).isoformat() + "Z"
    duration = value.get("duration")
    return {
        "duration_seconds": 0 if duration is None or duration == "" else _as_int(duration),
        "running": _is_true(value.get("running")),
        "started_at": started_at,
    }


def _parse_file(cv: Mapping[str, Any], value: Any) -> list[dict[str, Any]] | None:
    value = _nonempty(cv, value)
    if value is None:
        return None
    files = value.get("files") or []
    if type(files) is not list:
        raise _ShapeError("files is not a list")
    text = _present_text(cv)  # monday renders a file column as its URLs joined with ", "
    urls: list[str | None] = list(text.split(", ")) if text is not None else []
    if len(urls) != len(files):
        urls = [None] * len(files)
    out = []
    for entry, url in zip(files, urls, strict=True):
        asset_id = entry.get("assetId")
        out.append(
            {
                "name": entry.get("name"),
                "url": entry.get("linkToFile") or entry.get("url") or url,
                "asset_id": None if asset_id is None or asset_id == "" else _as_int(asset_id),
            }
        )
    return out or None


def _parse_hour(cv: Mapping[str, Any], value: Any) -> str | None:
    value = _nonempty(cv, value)
    if value is None:
        return None
    hour, minute = _as_int(value["hour"]), _as_int(value.get("minute") or 0)
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise _ShapeError("hour out of range")
    return f"{hour:02d}:{minute:02d}"


def _parse_raw(cv: Mapping[str, Any], value: Any) -> Any:
    return _present_text(cv) if value is None else value


# -------------------------------------------------------------------------------------- fallbacks


def _varchar_fallback(cv: Mapping[str, Any]) -> str | None:
    for key in ("text", "value", "display_value"):
        found = cv.get(key)
        if found is not None and found != "":
            return found if type(found) is str else json.dumps(found)
    return None


def _variant_fallback(cv: Mapping[str, Any]) -> Any:
    raw = cv.get("value")
    if raw is None:
        return cv.get("text") or None
    try:
        return _loads(raw)
    except ValueError:
        return raw


def _null_fallback(cv: Mapping[str, Any]) -> None:
    return None


_FALLBACKS: dict[str, Fallback] = {VARCHAR: _varchar_fallback, VARIANT: _variant_fallback}


# ---------------------------------------------------------------------------------------- dispatch

# monday type -> (Snowflake type, parser, whether the parser reads the JSON `value`)
_FIXED: dict[str, tuple[str, Parser, bool]] = {
    "text": (VARCHAR, _parse_text, False),
    "long_text": (VARCHAR, _parse_text, False),
    "email": (VARCHAR, _field_parser("email"), True),
    "phone": (VARCHAR, _field_parser("phone"), True),
    "link": (VARCHAR, _field_parser("url"), True),
    "numbers": (NUMBER_SQL_TYPE, _parse_number, False),
    "progress": (NUMBER_SQL_TYPE, _parse_number, False),
    "creation_log": (TIMESTAMP, _timestamp_parser("created_at"), False),
    "last_updated": (TIMESTAMP, _timestamp_parser("updated_at"), False),
    "checkbox": (BOOLEAN, _parse_checkbox, True),
    "people": (VARIANT, _parse_people, True),
    "board_relation": (VARIANT, _linked_ids_parser("linked_item_ids"), False),
    "dependency": (VARIANT, _linked_ids_parser("linked_item_ids"), False),
    "subtasks": (VARIANT, _linked_ids_parser("subitems_ids"), False),
    "tags": (VARIANT, _parse_tags, True),
    "location": (VARIANT, _parse_location, True),
    "mirror": (VARIANT, _display_value, False),
    "timeline": (VARIANT, _range_parser(None, "from", "to"), True),
    "week": (VARIANT, _range_parser("week", "startDate", "endDate"), True),
    "time_tracking": (VARIANT, _parse_time_tracking, True),
    "file": (VARIANT, _parse_file, True),
    "formula": (VARCHAR, _display_value, False),
    "rating": (INTEGER_SQL_TYPE, _key_int_parser("rating"), True),
    "vote": (INTEGER_SQL_TYPE, _parse_vote, True),
    "item_id": (INTEGER_SQL_TYPE, _parse_int, False),
    "auto_number": (INTEGER_SQL_TYPE, _parse_int, False),
    "country": (VARCHAR, _field_parser("countryCode", "country_code"), True),
    "hour": (VARCHAR, _parse_hour, True),
    "world_clock": (VARCHAR, _field_parser("timezone"), True),
    "color_picker": (VARCHAR, _parse_color, False),
}


def _labelled_address_parser(key: str) -> Parser:
    """VARIANT {key: address, "label": label} for email and link columns whose labels are kept."""
    address = _field_parser(key)

    def parse(cv: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
        found = address(cv, value)
        if found is None:
            return None
        label = value.get("text") if type(value) is dict else None
        return {key: found, "label": label if label else None}

    return parse


def codec_for(
    column: ColumnSpec, *, keep_dropdown_ids: bool = False, keep_labels: bool = False
) -> ColumnCodec | None:
    """The codec of one board column, or None for a column that is not copied (button, name)."""
    kind = normalise_type(column.type)
    if kind in SKIPPED_TYPES:
        return None
    settings = column.settings or {}
    reads_value = False
    if kind == "status":
        sql_type, parse = VARCHAR, _labelled_parser(settings, many=False)
    elif kind == "dropdown" and keep_dropdown_ids:
        sql_type, parse, reads_value = VARIANT, _dropdown_ids_parser(settings), True
    elif kind == "dropdown":
        sql_type, parse = VARCHAR, _labelled_parser(settings, many=True)
    elif kind in ("email", "link") and keep_labels:
        sql_type, parse, reads_value = VARIANT, _labelled_address_parser(_ADDRESS_KEYS[kind]), True
    elif kind == "date":
        with_time = bool(settings.get("include_time"))
        sql_type, parse, reads_value = (
            (TIMESTAMP if with_time else DATE),
            _date_parser(with_time=with_time),
            True,
        )
    elif kind in _FIXED:
        sql_type, parse, reads_value = _FIXED[kind]
    else:
        sql_type, parse, reads_value = VARIANT, _parse_raw, True
    fallback = _FALLBACKS.get(sql_type, _null_fallback)
    return ColumnCodec(column.id, kind, sql_type, parse, fallback, reads_value)


_ADDRESS_KEYS = {"email": "email", "link": "url"}


class RowDecoder:
    """Decodes the column values of one board's items into rows ordered as `warehouse_columns`.

    Unexpected shapes are counted per column id in `warnings` (see the module docstring)."""

    def __init__(
        self, columns: Sequence[ColumnSpec], *, keep_dropdown_ids: bool = False, keep_labels: bool = False
    ) -> None:
        pairs = [
            (c, codec_for(c, keep_dropdown_ids=keep_dropdown_ids, keep_labels=keep_labels)) for c in columns
        ]
        kept = [(column, codec) for column, codec in pairs if codec is not None]
        self.codecs: list[ColumnCodec] = [codec for _, codec in kept]
        self.warehouse_columns: list[tuple[ColumnSpec, str]] = [(c, codec.sql_type) for c, codec in kept]
        self.warnings: Counter[str] = Counter()
        self._index = {codec.column_id: i for i, codec in enumerate(self.codecs)}
        self._parsers = [codec.parse for codec in self.codecs]
        self._reads_value = [codec.reads_value for codec in self.codecs]
        self.last_unparsed: dict[str, Any] | None = None

    def _fallback(self, i: int, cv: Mapping[str, Any]) -> Any:
        """Decode one cell the slow, careful way, keeping its raw form if its shape was unexpected."""
        codec = self.codecs[i]
        before = self.warnings[codec.column_id]
        value = codec.decode(cv, self.warnings)
        if self.warnings[codec.column_id] != before:
            if self.last_unparsed is None:
                self.last_unparsed = {}
            self.last_unparsed[codec.column_id] = {"text": cv.get("text"), "value": cv.get("value")}
        return value

    def decode(self, column_values: Sequence[Mapping[str, Any]]) -> list[Any]:
        """One item's `column_values` as a row. Columns absent from the input are None.

        The raw text and value of each cell in an unexpected shape are left in `last_unparsed`
        (column id -> {"text", "value"}), None when the row had none, so nothing is lost.

        Every JSON `value` of the item is parsed in one call: on this path the per-call overhead of
        the json module costs more than the parsing itself. Any doubt falls back to one call per cell."""
        self.last_unparsed = None
        row: list[Any] = [None] * len(self.codecs)
        index, parsers, reads_value = self._index, self._parsers, self._reads_value
        pending: list[int] = []
        pending_cvs: list[Mapping[str, Any]] = []
        raws: list[str] = []
        for cv in column_values:
            i = index.get(cv.get("id", ""))
            if i is None:
                continue
            value = None
            if reads_value[i]:
                value = cv.get("value")
                if type(value) is str:
                    pending.append(i)
                    pending_cvs.append(cv)
                    raws.append(value)
                    continue
            try:
                row[i] = parsers[i](cv, value)
            except Exception:
                row[i] = self._fallback(i, cv)
        if not pending:
            return row
        values: list[Any] | None = None
        if len(raws) > 1:
            try:
                parsed = orjson.loads("[" + ",".join(raws) + "]")
            except ValueError:
                parsed = None
            if parsed is not None and len(parsed) == len(raws):
                values = parsed
        if values is None:
            for i, cv in zip(pending, pending_cvs, strict=True):
                row[i] = self._fallback(i, cv)
            return row
        for i, cv, value in zip(pending, pending_cvs, values, strict=True):
            try:
                row[i] = parsers[i](cv, value)
            except Exception:
                row[i] = self._fallback(i, cv)
        return row


class ItemMetadata(NamedTuple):
    """The columns every item has, outside `column_values`."""

    item_id: int
    name: str
    group_id: str | None
    group_title: str | None
    created_at: datetime | None
    updated_at: datetime | None


def _optional_timestamp(raw: Any) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_utc_timestamp(raw)
    except (ValueError, OverflowError, OSError):
        return None


def decode_item_metadata(item: Mapping[str, Any]) -> ItemMetadata:
    """An item's id, name, group and timestamps (naive UTC). Unparsable timestamps become None."""
    group = item.get("group") or {}
    return ItemMetadata(
        item_id=int(item["id"]),
        name=str(item.get("name") or ""),
        group_id=group.get("id"),
        group_title=group.get("title"),
        created_at=_optional_timestamp(item.get("created_at")),
        updated_at=_optional_timestamp(item.get("updated_at")),
    )
