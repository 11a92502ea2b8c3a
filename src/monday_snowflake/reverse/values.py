"""Snowflake values -> monday column write values, for reverse sync.

`to_monday` turns one Snowflake value into what goes under `column_values[column.id]` in
`create_item` / `change_multiple_column_values`; `from_board` reads a cell back into the same normal
form, so comparing the two says whether a write would change anything.

Normal form per type (also the write value; None clears the cell and stands for every empty value):

    text            "the text"
    long_text       {"text": "..."}                           at most 2,000 characters
    numbers         "42", "-0.5"                              canonical decimal, no exponent or trailing 0
    status          {"label": "Done"}                         {"index": id} for a numeric label (monday
                                                              reads a numeric label as a label id)
    dropdown        {"labels": ["A", "B"]}                    sorted, unique
    people          {"personsAndTeams": [{"id": 1, "kind": "person"}, ...]}   sorted by kind, then id
    team            {"team_id": 7}
    tags            {"tag_ids": [1, 2]}                       sorted, unique
    board_relation, dependency   {"item_ids": [1, 2]}         sorted, unique
    date            {"date": "YYYY-MM-DD"} + "time": "HH:MM:SS" (UTC) unless the time is 00:00:00
    timeline        {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}
    week            {"week": {"startDate": ..., "endDate": ...}}
    hour            {"hour": 14, "minute": 30}
    world_clock     {"timezone": "Europe/London"}
    checkbox        {"checked": "true"} (unchecked is None)
    email           {"email": ..., "text": ...}               text defaults to the address
    phone           {"phone": "+12025550169", "countryShortName": "US"}
    link            {"url": ..., "text": ...}                 text defaults to the url
    location        {"lat": "29.97", "lng": "31.13", "address": ...}   address defaults to "unknown"
    country         {"countryCode": "US", "countryName": "United States"}
    rating          {"rating": 4} (0 is None)
    color_picker    {"color": {"hex": "#00C875"}}

Keys the board adds (changed_at, icon, post_id, placeId, ...) are not part of the normal form.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import available_timezones

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import ColumnSpec
from monday_snowflake.monday.codecs import normalise_type

READ_ONLY_TYPES: frozenset[str] = frozenset({
    "mirror", "formula", "creation_log", "last_updated", "item_id", "auto_number", "subtasks", "button",
    "progress", "file", "time_tracking", "vote", "doc", "direct_doc", "integration", "group", "unsupported",
})  # fmt: skip
"""Column types (normalised names) the API never lets us write."""

LONG_TEXT_LIMIT = 2000
STATUS_LABEL_LIMIT = 30
_PREVIEW_LENGTH = 60


class ConversionError(ValueError):
    """A value that cannot become this column's write value."""

    def __init__(self, column: ColumnSpec, value: Any, problem: str) -> None:
        super().__init__(
            f'column "{column.title}" ({column.id}, {column.type}): {problem}; got {_preview(value)}'
        )
        self.column_id = column.id
        self.problem = problem


class _InvalidValueError(ValueError):
    """Raised by the converters with what is wrong; `to_monday` adds the column and the value."""


def _preview(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= _PREVIEW_LENGTH else shown[: _PREVIEW_LENGTH - 3] + "..."


@dataclass(frozen=True)
class WriteContext:
    """What converting values needs beyond the column itself."""

    users_by_email: Mapping[str, int] = field(default_factory=dict)
    """monday user ids by lower-cased email, for people columns given emails."""
    default_phone_country: str | None = None
    """ISO-2 country for phone numbers that come without one (monday needs a country)."""
    week_starts_on_sunday: bool = False
    """The account's first day of the week, for a date written to a week column."""


_NO_CONTEXT = WriteContext()

# ---------------------------------------------------------------------------------------------
# Shared helpers


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | dict) and not value


def _structured(value: Any) -> Any:
    """A VARIANT arrives as JSON text: parse it when it looks like JSON, else leave the string alone."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text == "null":
        return None
    if text[:1] in ("{", "[", '"'):
        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return _number_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    raise _InvalidValueError(f"cannot use a {type(value).__name__} as text")


def _number_text(value: Any) -> str:
    """A number as a canonical decimal string: 42 == 42.0 == "42.000" -> "42"."""
    if isinstance(value, bool):
        raise _InvalidValueError("a boolean is not a number")
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError):
        raise _InvalidValueError("not a number") from None
    if not number.is_finite() or not math.isfinite(float(number)):
        raise _InvalidValueError("not a finite number")
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _InvalidValueError("a boolean is not a whole number")
    if isinstance(value, int):
        return value
    text = _number_text(value)
    if "." in text:
        raise _InvalidValueError("not a whole number")
    return int(text)


def _entity_id(value: Any) -> int:
    try:
        found = _integer(value)
    except _InvalidValueError:
        raise _InvalidValueError(f"{value!r} is not an id") from None
    if found <= 0:
        raise _InvalidValueError(f"{value!r} is not an id")
    return found


def _id_list(value: Any) -> list[int]:
    """Ids from an id, "1, 2" or a list; sorted and unique."""
    if isinstance(value, str):
        parts: list[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    return sorted({_entity_id(part) for part in parts if not _is_empty(part)})


def _moment(value: Any) -> date | datetime:
    """A date, or a naive UTC datetime: from date/datetime objects (naive means UTC) or ISO text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip().removesuffix(" UTC")
        try:
            return date.fromisoformat(text) if len(text) == 10 else _moment(datetime.fromisoformat(text))
        except ValueError:
            pass
    raise _InvalidValueError("not a date (expected YYYY-MM-DD or an ISO timestamp)")


def _day(value: Any) -> date:
    moment = _moment(value)
    return moment.date() if isinstance(moment, datetime) else moment


def _labels_by_id(column: ColumnSpec) -> dict[int, str]:
    """Label id -> text from status/dropdown settings (the array shape or the older id -> text map);
    entries in other shapes are skipped."""
    labels = column.settings.get("labels")
    pairs: list[tuple[Any, Any]] = []
    if isinstance(labels, list):
        pairs = [(e.get("id"), e.get("label") or e.get("name")) for e in labels if isinstance(e, dict)]
    elif isinstance(labels, dict):
        pairs = [(k, e.get("label") if isinstance(e, dict) else e) for k, e in labels.items()]
    found: dict[int, str] = {}
    for raw_id, text in pairs:
        if isinstance(raw_id, int) or (isinstance(raw_id, str) and raw_id.strip().isdigit()):
            found[int(raw_id)] = str(text or "")
    return found


def _split_labels(text: str, known: Collection[str]) -> list[str]:
    """Split "A, B" into labels, keeping whole a known label that itself holds a comma."""
    pieces = text.split(",")
    labels = []
    start = 0
    while start < len(pieces):
        end = next(
            (e for e in range(len(pieces), start + 1, -1) if ",".join(pieces[start:e]).strip() in known),
            start + 1,
        )
        labels.append(",".join(pieces[start:end]).strip())
        start = end
    return [label for label in labels if label]


# ---------------------------------------------------------------------------------------------
# One converter per column type: (column, value, context, warnings) -> normal form.
# The value is never empty here; a converter may still return None (an unchecked checkbox).


def _write_text(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    return _as_text(value)


def _write_long_text(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        value = value.get("text")
        if _is_empty(value):
            return None
    text = _as_text(value)
    if len(text) > LONG_TEXT_LIMIT:
        warnings.append(
            f'column "{column.title}" ({column.id}): text of {len(text)} characters cut to {LONG_TEXT_LIMIT}'
        )
        text = text[:LONG_TEXT_LIMIT]
    return {"text": text}


def _write_numbers(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    return _number_text(value)


def _write_status(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    known = _labels_by_id(column)
    if isinstance(value, dict):
        if "label" in value:
            value = value["label"]
        elif "index" in value:
            value = _known_label(known, value["index"])
        else:
            raise _InvalidValueError('a status object needs a "label" or an "index"')
        if _is_empty(value):
            return None
    if isinstance(value, list | dict):
        raise _InvalidValueError("a status holds one label")
    label = _as_text(value).strip()
    if label.isdigit():
        ids = [label_id for label_id, text in known.items() if text == label]
        if not ids:
            raise _InvalidValueError(
                "monday reads a numeric status label as a label id, so the label must exist on the board"
            )
        return {"index": ids[0]}
    if len(label) > STATUS_LABEL_LIMIT and label not in known.values():
        warnings.append(
            f'column "{column.title}" ({column.id}): status label cut to {STATUS_LABEL_LIMIT} characters'
        )
        label = label[:STATUS_LABEL_LIMIT].strip()
    return {"label": label}


def _write_dropdown(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    known = _labels_by_id(column)
    if isinstance(value, dict):
        if "labels" in value:
            value = value["labels"] or []
        elif "ids" in value:
            value = [_known_label(known, raw) for raw in value["ids"] or []]
        else:
            raise _InvalidValueError('a dropdown object needs "labels" or "ids"')
    if isinstance(value, str):
        names = _split_labels(value, set(known.values()))
    elif isinstance(value, list | tuple):
        names = list(value)
    else:
        names = [value]
    labels = set()
    for name in names:
        if isinstance(name, list | dict):
            raise _InvalidValueError("a dropdown label must be text")
        labels.add(_as_text(name).strip())
    labels.discard("")
    return {"labels": sorted(labels)} if labels else None


def _known_label(known: Mapping[int, str], raw: Any) -> str:
    label_id = _integer(raw)
    if label_id not in known:
        raise _InvalidValueError(f"label id {label_id} is not on the column")
    return known[label_id]


def _write_people(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        value = value.get("personsAndTeams", [value])
    if isinstance(value, str):
        parts: list[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    entries = {_person(part, ctx) for part in parts if not _is_empty(part)}
    if not entries:
        return None
    return {"personsAndTeams": [{"id": entity_id, "kind": kind} for kind, entity_id in sorted(entries)]}


def _person(part: Any, ctx: WriteContext) -> tuple[str, int]:
    """("person" | "team", id) from a user id, an email, or a {"id", "kind"} object."""
    if isinstance(part, dict):
        kind = part.get("kind") or "person"
        if kind not in ("person", "team"):
            raise _InvalidValueError(f"people can only hold persons and teams, not {kind!r}")
        return str(kind), _entity_id(part.get("id"))
    if isinstance(part, str) and "@" in part:
        email = part.strip().lower()
        if email not in ctx.users_by_email:
            raise _InvalidValueError(f"no monday user has the email {email}")
        return "person", int(ctx.users_by_email[email])
    return "person", _entity_id(part)


def _write_team(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        value = value.get("team_id", value.get("id"))
    return {"team_id": _entity_id(value)}


def _write_tags(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        value = value.get("tag_ids") or []
    try:
        ids = _id_list(value)
    except _InvalidValueError as exc:
        raise _InvalidValueError(f"tags are written by tag id: {exc}") from None
    return {"tag_ids": ids} if ids else None


def _write_item_links(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        if "linkedPulseIds" in value:
            value = [link.get("linkedPulseId") for link in value["linkedPulseIds"] or []]
        else:
            value = value.get("item_ids") or []
    ids = _id_list(value)
    return {"item_ids": ids} if ids else None


def _write_date(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        day, clock = value.get("date"), value.get("time")
        if _is_empty(day):
            return None
        value = f"{day} {clock}" if clock else day
    moment = _moment(value)
    if isinstance(moment, datetime):
        clock = moment.time().replace(microsecond=0)
        if clock != time(0):
            return {"date": moment.date().isoformat(), "time": clock.isoformat()}
        moment = moment.date()
    return {"date": moment.isoformat()}


def _date_range(value: Any) -> tuple[date, date] | None:
    """(start, end) from {"from", "to"}-like objects, a pair, "start - end", or one date."""
    if isinstance(value, dict):
        for first, last in (("from", "to"), ("startDate", "endDate"), ("start", "end")):
            if first in value or last in value:
                if _is_empty(value.get(first)) and _is_empty(value.get(last)):
                    return None
                return _day(value.get(first)), _day(value.get(last))
        raise _InvalidValueError('expected an object with "from" and "to"')
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise _InvalidValueError("expected two dates")
        return _day(value[0]), _day(value[1])
    if isinstance(value, str) and " - " in value:
        first, _, last = value.partition(" - ")
        return _day(first), _day(last)
    single = _day(value)
    return single, single


def _write_timeline(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    found = _date_range(value)
    if found is None:
        return None
    start, end = found
    if end < start:
        raise _InvalidValueError("the timeline ends before it starts")
    return {"from": start.isoformat(), "to": end.isoformat()}


_ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")


def _write_week(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict) and "week" in value:
        value = value["week"]
        if _is_empty(value):
            return None
    iso_week = _ISO_WEEK.match(value.strip()) if isinstance(value, str) else None
    if iso_week:
        try:
            value = date.fromisocalendar(int(iso_week[1]), int(iso_week[2]), 1)
        except ValueError:
            raise _InvalidValueError("not an ISO week") from None
    if isinstance(value, dict | list | tuple) or (isinstance(value, str) and " - " in value):
        found = _date_range(value)
        if found is None:
            return None
        start, end = found
        if end - start != timedelta(days=6) or start.weekday() not in (0, 6):
            raise _InvalidValueError("a week runs seven days from a Monday or a Sunday")
    else:
        day = _day(value)
        since_start = (day.weekday() + 1) % 7 if ctx.week_starts_on_sunday else day.weekday()
        start = day - timedelta(days=since_start)
        end = start + timedelta(days=6)
    return {"week": {"startDate": start.isoformat(), "endDate": end.isoformat()}}


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")


def _write_hour(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    seconds = 0
    if isinstance(value, dict):
        hour, minute = _integer(value.get("hour")), _integer(value.get("minute") or 0)
    elif isinstance(value, datetime):
        clock = value.astimezone(UTC) if value.tzinfo else value
        hour, minute, seconds = clock.hour, clock.minute, clock.second
    elif isinstance(value, time):
        hour, minute, seconds = value.hour, value.minute, value.second
    else:
        match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
        if not match:
            raise _InvalidValueError("not a time of day (expected HH:MM)")
        hour, minute, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= seconds <= 59):
        raise _InvalidValueError("not a time of day")
    if seconds:
        warnings.append(f'column "{column.title}" ({column.id}): seconds dropped, monday keeps HH:MM')
    return {"hour": hour, "minute": minute}


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _write_world_clock(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        value = value.get("timezone")
        if _is_empty(value):
            return None
    zone = _as_text(value).strip()
    if zone not in _time_zones():
        raise _InvalidValueError("not an IANA time zone such as Europe/London")
    return {"timezone": zone}


_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on", "checked", "v", "x"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", "unchecked"})


def _write_checkbox(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        value = value.get("checked")
        if _is_empty(value):
            return None
    if isinstance(value, bool):
        checked = value
    elif isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
        checked = value.strip().lower() in _TRUE_WORDS
    elif isinstance(value, int | float | Decimal) and value in (0, 1):
        checked = value == 1
    else:
        raise _InvalidValueError("not a yes/no value")
    return {"checked": "true"} if checked else None


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _address_and_label(value: Any, key: str) -> tuple[str, str]:
    """(address, label) of an email or link: {key, "text" | "label"} or "address label text"."""
    if isinstance(value, dict):
        address, label = value.get(key), value.get("text", value.get("label"))
        return ("" if address is None else _as_text(address).strip()), _as_text(label or "").strip()
    if not isinstance(value, str):
        raise _InvalidValueError(f"expected text or an object with {key!r}")
    address, _, label = value.strip().partition(" ")
    return address, label.strip()


def _write_email(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    address, label = _address_and_label(value, "email")
    if not address:
        return None
    if not _EMAIL.match(address):
        raise _InvalidValueError("not an email address")
    return {"email": address, "text": label or address}


def _write_link(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    url, label = _address_and_label(value, "url")
    if not url:
        return None
    return {"url": url, "text": label or url}


_PHONE = re.compile(r"^\+?[\d\s().-]+$")


def _write_phone(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    country: Any = None
    if isinstance(value, dict):
        number = value.get("phone")
        country = value.get("countryShortName") or value.get("country_short_name") or value.get("country")
        if _is_empty(number):
            return None
        number = _as_text(number).strip()
    elif isinstance(value, int) and not isinstance(value, bool):
        number = str(value)
    elif isinstance(value, str):
        number = value.strip()
        head, _, tail = number.rpartition(" ")
        if head and len(tail) == 2 and tail.isalpha():
            number, country = head, tail
    else:
        raise _InvalidValueError("not a phone number")
    if not _PHONE.match(number):
        raise _InvalidValueError("not a phone number")
    digits = "".join(ch for ch in number if ch.isdigit())
    if not 5 <= len(digits) <= 16:
        raise _InvalidValueError("a phone number has 5 to 16 digits")
    code = str(country or ctx.default_phone_country or "").strip().upper()
    if code not in _COUNTRY_NAMES:
        raise _InvalidValueError('monday needs the ISO-2 country of a phone number, e.g. "+12025550169 US"')
    return {"phone": ("+" if number.startswith("+") else "") + digits, "countryShortName": code}


_LAT_LNG = re.compile(r"^([-+]?[\d.]+)\s*[,\s]\s*([-+]?[\d.]+)(?:\s+(.*))?$", re.DOTALL)


def _write_location(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        lat, lng, address = value.get("lat"), value.get("lng"), value.get("address")
    elif isinstance(value, list | tuple) and len(value) in (2, 3):
        lat, lng, address = value[0], value[1], value[2] if len(value) == 3 else None
    elif isinstance(value, str) and (match := _LAT_LNG.match(value.strip())):
        lat, lng, address = match[1], match[2], match[3]
    else:
        raise _InvalidValueError('expected {"lat", "lng", "address"} or "lat lng address"')
    if _is_empty(lat) and _is_empty(lng):
        if not _is_empty(address):
            raise _InvalidValueError("monday does not geocode: a location needs lat and lng")
        return None
    lat_text, lng_text = _number_text(lat), _number_text(lng)
    if not -90 < Decimal(lat_text) < 90:
        raise _InvalidValueError("latitude must be between -90 and 90")
    if not -180 <= Decimal(lng_text) <= 180:
        raise _InvalidValueError("longitude must be between -180 and 180")
    place = "" if address is None else _as_text(address).strip()
    return {"lat": lat_text, "lng": lng_text, "address": place or "unknown"}


def _write_country(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        code = value.get("countryCode") or value.get("code")
        name = value.get("countryName") or value.get("name")
        if _is_empty(code) and _is_empty(name):
            return None
    elif isinstance(value, str):
        text = value.strip()
        code, name = (text, None) if len(text) == 2 else (None, text)
    else:
        raise _InvalidValueError("expected an ISO-2 country code or a country name")
    if not _is_empty(code):
        code = _as_text(code).strip().upper()
        if code not in _COUNTRY_NAMES:
            raise _InvalidValueError("not an ISO-2 country code")
    else:
        code = _COUNTRY_CODES.get(_as_text(name).strip().casefold())
        if code is None:
            raise _InvalidValueError("not a country name monday knows")
    return {"countryCode": code, "countryName": _COUNTRY_NAMES[code]}


def _write_rating(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        value = value.get("rating") or 0
    rating = _integer(value)
    top = int(column.settings.get("max_rating") or 5)
    if not 0 <= rating <= top:
        raise _InvalidValueError(f"a rating runs from 0 to {top}")
    return {"rating": rating} if rating else None


_HEX_COLOUR = re.compile(r"^#?[0-9a-fA-F]{6}$")


def _write_color(column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    if isinstance(value, dict):
        value = value.get("color", value)
        if isinstance(value, dict):
            value = value.get("hex")
        if _is_empty(value):
            return None
    colour = value.strip() if isinstance(value, str) else ""
    if not _HEX_COLOUR.match(colour):
        raise _InvalidValueError("not a colour like #00C875")
    return {"color": {"hex": "#" + colour.removeprefix("#").upper()}}


# ---------------------------------------------------------------------------------------------
# Reading the board: most types read their stored `value` back through their own converter, so both
# sides share one normal form; status, dropdown and item links read what the API shows instead.


def _parsed_value(cell: Mapping[str, Any]) -> Any:
    raw = cell.get("value")
    return json.loads(raw) if isinstance(raw, str) else raw


def _read_status(column: ColumnSpec, cell: Mapping[str, Any]) -> Any:
    value = _parsed_value(cell)
    index = value.get("index") if isinstance(value, dict) else None
    label = cell.get("text")
    if not label and index is not None:
        label = _labels_by_id(column).get(int(index))
    label = (label or "").strip()
    if not label:
        return None
    if label.isdigit() and index is not None:
        return {"index": int(index)}
    return {"label": label}


def _read_dropdown(column: ColumnSpec, cell: Mapping[str, Any]) -> Any:
    value = _parsed_value(cell)
    ids = value.get("ids") if isinstance(value, dict) else None
    known = _labels_by_id(column)
    if ids and all(_integer(i) in known for i in ids):
        return _convert("dropdown", column, {"ids": ids}, _NO_CONTEXT, [])
    return _convert("dropdown", column, cell.get("text"), _NO_CONTEXT, [])


def _read_item_links(column: ColumnSpec, cell: Mapping[str, Any]) -> Any:
    linked = cell.get("linked_item_ids")
    value = linked if linked is not None else _parsed_value(cell)
    return _convert(normalise_type(column.type), column, value, _NO_CONTEXT, [])


def _read_value(column: ColumnSpec, cell: Mapping[str, Any]) -> Any:
    return _convert(normalise_type(column.type), column, _parsed_value(cell), _NO_CONTEXT, [])


Converter = Callable[[ColumnSpec, Any, WriteContext, list[str]], Any]
Reader = Callable[[ColumnSpec, Mapping[str, Any]], Any]


class _ColumnHandler(NamedTuple):
    write: Converter
    read: Reader = _read_value
    parses_json: bool = True


_HANDLERS: dict[str, _ColumnHandler] = {
    "text": _ColumnHandler(_write_text, parses_json=False),
    "long_text": _ColumnHandler(_write_long_text, parses_json=False),
    "numbers": _ColumnHandler(_write_numbers),
    "status": _ColumnHandler(_write_status, _read_status),
    "dropdown": _ColumnHandler(_write_dropdown, _read_dropdown),
    "people": _ColumnHandler(_write_people),
    "team": _ColumnHandler(_write_team),
    "tags": _ColumnHandler(_write_tags),
    "board_relation": _ColumnHandler(_write_item_links, _read_item_links),
    "dependency": _ColumnHandler(_write_item_links, _read_item_links),
    "date": _ColumnHandler(_write_date),
    "timeline": _ColumnHandler(_write_timeline),
    "week": _ColumnHandler(_write_week),
    "hour": _ColumnHandler(_write_hour),
    "world_clock": _ColumnHandler(_write_world_clock),
    "checkbox": _ColumnHandler(_write_checkbox),
    "email": _ColumnHandler(_write_email),
    "phone": _ColumnHandler(_write_phone),
    "link": _ColumnHandler(_write_link),
    "location": _ColumnHandler(_write_location),
    "country": _ColumnHandler(_write_country),
    "rating": _ColumnHandler(_write_rating),
    "color_picker": _ColumnHandler(_write_color),
}

WRITABLE_TYPES: frozenset[str] = frozenset(_HANDLERS)
"""Column types (normalised names) `to_monday` can write."""


def _convert(kind: str, column: ColumnSpec, value: Any, ctx: WriteContext, warnings: list[str]) -> Any:
    handler = _HANDLERS[kind]
    if handler.parses_json:
        value = _structured(value)
    if _is_empty(value):
        return None
    return handler.write(column, value, ctx, warnings)


# ---------------------------------------------------------------------------------------------
# The public functions


def check_writable(column: ColumnSpec) -> None:
    """Raise ConfigurationError naming the column if the API can't write its type (or we don't)."""
    kind = normalise_type(column.type)
    if kind in _HANDLERS:
        return
    if kind == "name":
        reason = "is the item name, which reverse sync maps on its own rather than as a column value"
    elif kind in READ_ONLY_TYPES:
        reason = f"is a {kind} column, which monday does not let the API write"
    else:
        reason = f"has type {column.type!r}, which reverse sync cannot write"
    raise ConfigurationError(
        f'column "{column.title}" ({column.id}) {reason}', column_id=column.id, column_type=column.type
    )


def to_monday(column: ColumnSpec, value: Any, ctx: WriteContext) -> tuple[Any, list[str]]:
    """A Snowflake value -> (the write value for `column_values[column.id]`, warnings).

    The write value is in the normal form `from_board` returns; None clears the cell. Raises
    ConversionError when the value cannot become this column's value, ConfigurationError when the
    column can't be written at all.
    """
    check_writable(column)
    warnings: list[str] = []
    try:
        return _convert(normalise_type(column.type), column, value, ctx, warnings), warnings
    except _InvalidValueError as exc:
        raise ConversionError(column, value, str(exc)) from None


def from_board(column: ColumnSpec, cell: Mapping[str, Any] | None) -> Any:
    """What the board holds in `to_monday`'s normal form; None when the cell is empty.

    `cell` is one entry of an item's `column_values` read with COLUMN_VALUE_SELECTION. A cell in a
    shape we can't read comes back as {"unreadable": ...}, which equals no write value, so a sync
    overwrites it rather than trusting it.
    """
    check_writable(column)
    if not cell:
        return None
    try:
        return _HANDLERS[normalise_type(column.type)].read(column, cell)
    except (ValueError, TypeError, KeyError, AttributeError):  # _InvalidValueError is a ValueError
        return {"unreadable": cell.get("value", cell.get("text"))}


# ---------------------------------------------------------------------------------------------
# Countries: ISO 3166-1 alpha-2 codes and the English names monday accepts (and shows) with them.

_COUNTRY_TABLE = """
AD Andorra; AE United Arab Emirates; AF Afghanistan; AG Antigua and Barbuda; AI Anguilla;
AL Albania; AM Armenia; AO Angola; AQ Antarctica; AR Argentina; AS American Samoa; AT Austria;
AU Australia; AW Aruba; AX Åland Islands; AZ Azerbaijan; BA Bosnia and Herzegovina;
BB Barbados; BD Bangladesh; BE Belgium; BF Burkina Faso; BG Bulgaria; BH Bahrain; BI Burundi;
BJ Benin; BL Saint Barthélemy; BM Bermuda; BN Brunei; BO Bolivia; BQ Caribbean Netherlands;
BR Brazil; BS Bahamas; BT Bhutan; BV Bouvet Island; BW Botswana; BY Belarus; BZ Belize;
CA Canada; CC Cocos (Keeling) Islands; CD Congo (DRC); CF Central African Republic; CG Congo;
CH Switzerland; CI Côte d'Ivoire; CK Cook Islands; CL Chile; CM Cameroon; CN China;
CO Colombia; CR Costa Rica; CU Cuba; CV Cape Verde; CW Curaçao; CX Christmas Island; CY Cyprus;
CZ Czech Republic; DE Germany; DJ Djibouti; DK Denmark; DM Dominica; DO Dominican Republic;
DZ Algeria; EC Ecuador; EE Estonia; EG Egypt; EH Western Sahara; ER Eritrea; ES Spain;
ET Ethiopia; FI Finland; FJ Fiji; FK Falkland Islands; FM Micronesia; FO Faroe Islands;
FR France; GA Gabon; GB United Kingdom; GD Grenada; GE Georgia; GF French Guiana; GG Guernsey;
GH Ghana; GI Gibraltar; GL Greenland; GM Gambia; GN Guinea; GP Guadeloupe;
GQ Equatorial Guinea; GR Greece; GS South Georgia and the South Sandwich Islands; GT Guatemala;
GU Guam; GW Guinea-Bissau; GY Guyana; HK Hong Kong; HM Heard Island and McDonald Islands;
HN Honduras; HR Croatia; HT Haiti; HU Hungary; ID Indonesia; IE Ireland; IL Israel;
IM Isle of Man; IN India; IO British Indian Ocean Territory; IQ Iraq; IR Iran; IS Iceland;
IT Italy; JE Jersey; JM Jamaica; JO Jordan; JP Japan; KE Kenya; KG Kyrgyzstan; KH Cambodia;
KI Kiribati; KM Comoros; KN Saint Kitts and Nevis; KP North Korea; KR South Korea; KW Kuwait;
KY Cayman Islands; KZ Kazakhstan; LA Laos; LB Lebanon; LC Saint Lucia; LI Liechtenstein;
LK Sri Lanka; LR Liberia; LS Lesotho; LT Lithuania; LU Luxembourg; LV Latvia; LY Libya;
MA Morocco; MC Monaco; MD Moldova; ME Montenegro; MF Saint Martin; MG Madagascar;
MH Marshall Islands; MK North Macedonia; ML Mali; MM Myanmar; MN Mongolia; MO Macau;
MP Northern Mariana Islands; MQ Martinique; MR Mauritania; MS Montserrat; MT Malta;
MU Mauritius; MV Maldives; MW Malawi; MX Mexico; MY Malaysia; MZ Mozambique; NA Namibia;
NC New Caledonia; NE Niger; NF Norfolk Island; NG Nigeria; NI Nicaragua; NL Netherlands;
NO Norway; NP Nepal; NR Nauru; NU Niue; NZ New Zealand; OM Oman; PA Panama; PE Peru;
PF French Polynesia; PG Papua New Guinea; PH Philippines; PK Pakistan; PL Poland;
PM Saint Pierre and Miquelon; PN Pitcairn Islands; PR Puerto Rico; PS Palestine; PT Portugal;
PW Palau; PY Paraguay; QA Qatar; RE Réunion; RO Romania; RS Serbia; RU Russia; RW Rwanda;
SA Saudi Arabia; SB Solomon Islands; SC Seychelles; SD Sudan; SE Sweden; SG Singapore;
SH Saint Helena; SI Slovenia; SJ Svalbard and Jan Mayen; SK Slovakia; SL Sierra Leone;
SM San Marino; SN Senegal; SO Somalia; SR Suriname; SS South Sudan; ST São Tomé and Príncipe;
SV El Salvador; SX Sint Maarten; SY Syria; SZ Eswatini; TC Turks and Caicos Islands; TD Chad;
TF French Southern Territories; TG Togo; TH Thailand; TJ Tajikistan; TK Tokelau;
TL Timor-Leste; TM Turkmenistan; TN Tunisia; TO Tonga; TR Turkey; TT Trinidad and Tobago;
TV Tuvalu; TW Taiwan; TZ Tanzania; UA Ukraine; UG Uganda; UM U.S. Minor Outlying Islands;
US United States; UY Uruguay; UZ Uzbekistan; VA Vatican City;
VC Saint Vincent and the Grenadines; VE Venezuela; VG British Virgin Islands;
VI U.S. Virgin Islands; VN Vietnam; VU Vanuatu; WF Wallis and Futuna; WS Samoa; XK Kosovo;
YE Yemen; YT Mayotte; ZA South Africa; ZM Zambia; ZW Zimbabwe
"""
_COUNTRY_NAMES: dict[str, str] = {
    code: name for code, _, name in (entry.strip().partition(" ") for entry in _COUNTRY_TABLE.split(";"))
}
_COUNTRY_CODES: dict[str, str] = {name.casefold(): code for code, name in _COUNTRY_NAMES.items()}
