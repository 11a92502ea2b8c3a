"""The column-type registry: how each monday column type is written, stored and read back.

Pure code, no I/O. One `ColumnCodec` per API type name, looked up in a dict, so rendering a page of
items is a few dict look-ups per cell. The server codes against these functions:

    write_json(column, value, ctx, *, create_labels_if_missing=False, via_change_column_value=False)
        -> stored                # `value` is the decoded JSON for this column (change_multiple,
                                 # create_item, change_column_value); a bare string is read as the
                                 # simple form, as monday does in change_multiple_column_values
    write_simple(column, text, ctx, *, create_labels_if_missing=False) -> stored
                                 # change_simple_column_value
    render_value(column, stored) -> str | None          # ColumnValue.value (a JSON string)
    render_text(column, stored, ctx, item) -> str | None  # ColumnValue.text, monday's null/"" rules
    typed_fields(column, stored, ctx, item) -> dict     # fields of the ColumnValue implementation
    graphql_type_name(column_type) -> str               # "StatusValue", ..., "UnsupportedValue"
    default_settings(column_type) -> dict               # Column.settings for create_column
    webhook_value(column, stored, ctx, item=None) -> Any  # value/previousValue in webhook payloads
    forget_rendered(stored)                             # after moving a value to a retyped column
    legacy_type_name(api_type) -> str, api_type_name(legacy_or_api) -> str
    is_writable(column_type) -> bool, SUPPORTED_TYPES

`stored` is what `Item.values[column.id]` holds: None when empty, otherwise the JSON-compatible
value monday would show as `value` (a string for text and numbers, a dict for the rest, each
stamped with `changed_at`). Derived types (creation_log, last_updated, item_id, auto_number,
subtasks, formula, mirror, button, progress) store nothing and are computed from the item.
Treat stored values as immutable: replace `Item.values[column.id]`, never edit it in place
(`render_value` remembers the JSON of each stored object).
Writes raise `ColumnValueError` (monday's `ColumnValueException`); its `error_data.column_type`
is the API type name ("status", "date"). Typed fields use schema field names; nested value
objects are dicts, entity references (Item, User, Tag, Board) are the model objects, members of
a union carry "__typename", and Date fields are ISO-8601 UTC strings ("2024-01-02T10:00:00Z").

Choices where monday's behaviour is undocumented: date text is "YYYY-MM-DD" or "YYYY-MM-DD HH:MM"
in the caller's timezone; creation_log/last_updated text is "YYYY-MM-DD HH:MM:SS UTC"; link text
is "url - text"; email text is the address; hour text is "HH:MM"; checkbox text is "v"; vote text
is the count ("0" when empty); a status write whose label is "" (default id 5) clears the value;
the formula column evaluates `settings["formula"]`, arithmetic (+ - * / parentheses) over numbers
and `{column_id}` references (empty or non-numeric references count as 0), or shows
`settings["display_value"]` when there is no formula. time_tracking, file (except
`{"clear_all": true}`), vote, doc and direct_doc cannot be written through the API, as on monday;
the seeder stores them directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from monday_sandbox.model import Board, Column, Item, Tag, Team, User

# ---------------------------------------------------------------------------------------------
# Errors


class ColumnError(Exception):
    """A column problem the server renders as monday's error envelope (HTTP 200, `errors[]`)."""

    code = "ColumnError"

    def __init__(self, message: str, error_data: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.error_data = error_data


class ColumnValueError(ColumnError):
    """A value monday would refuse for this column (`ColumnValueException`)."""

    def __init__(
        self,
        message: str,
        column_id: str,
        column_type: str,
        code: str = "ColumnValueException",
        column_value: Any = None,
    ) -> None:
        data: dict[str, Any] = {"column_id": column_id, "column_type": column_type}
        if column_value is not None:
            data["column_value"] = column_value if isinstance(column_value, str) else _dumps(column_value)
        super().__init__(message, data)
        self.code = code
        self.column_id = column_id
        self.column_type = column_type


class ColumnNotFoundError(ColumnError):
    """The column id is not on the board (`InvalidColumnIdException`)."""

    code = "InvalidColumnIdException"

    def __init__(self, column_id: str, board_id: int | None = None) -> None:
        data: dict[str, Any] = {"column_id": column_id}
        if board_id is not None:
            data["board_id"] = board_id
        super().__init__("This column ID doesn't exist for the board", data)
        self.column_id = column_id
        self.board_id = board_id


# ---------------------------------------------------------------------------------------------
# What the codecs need from the sandbox


class ColumnContext(Protocol):
    """Read-only look-ups the codecs need; the Sandbox implements them."""

    def user(self, user_id: int) -> User | None: ...
    def team(self, team_id: int) -> Team | None: ...
    def tag(self, tag_id: int) -> Tag | None: ...
    def item(self, item_id: int) -> Item | None: ...
    def board(self, board_id: int) -> Board | None: ...
    def user_timezone(self) -> str:
        """The token user's IANA timezone, for DateValue.time and date text."""
        ...

    def now(self) -> datetime:
        """The sandbox clock (aware, UTC); stamps `changed_at`."""
        ...


# ---------------------------------------------------------------------------------------------
# Small helpers

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[0-9]{5,16}$")
_HEX_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_ASSET_BASE = "https://files.sandbox.monday.local/resources"


def iso_utc(moment: datetime) -> str:
    """Format an aware datetime as monday's Date scalar: "2024-01-02T10:00:00Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _changed_at(ctx: ColumnContext) -> str:
    """`changed_at` as monday writes it: "2026-03-21T09:03:56.017Z"."""
    moment = ctx.now()
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def _updated_at(stored: Any) -> str | None:
    """Typed `updated_at` from the stored `changed_at` stamp (millisecond form -> Date form)."""
    if isinstance(stored, dict):
        stamp = stored.get("changed_at")
        if isinstance(stamp, str) and len(stamp) >= 19:
            return stamp[:19] + "Z"
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _parse_date(text: Any) -> date | None:
    if not isinstance(text, str) or not _DATE_RE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_time(text: Any) -> str | None:
    """Normalise "H:MM", "HH:MM" or "HH:MM:SS" to "HH:MM:SS"; None if invalid."""
    if not isinstance(text, str):
        return None
    match = _TIME_RE.match(text.strip())
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return f"{hour:02d}:{minute:02d}:{second:02d}"


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _ids_of(stored: Any) -> list[int]:
    """Linked item ids of a board_relation/dependency stored value."""
    if not isinstance(stored, dict):
        return []
    return [int(link["linkedPulseId"]) for link in stored.get("linkedPulseIds", ())]


def _live_items(ctx: ColumnContext, ids: list[int]) -> list[Item]:
    found = []
    for item_id in ids:
        item = ctx.item(item_id)
        if item is not None and item.state != "deleted":
            found.append(item)
    return found


def asset_url(asset_id: int | str, name: str) -> str:
    """The fake public URL of an uploaded asset."""
    return f"{_ASSET_BASE}/{asset_id}/{quote(name)}"


# Status label colours: settings name -> (colour, border, var_name).
STATUS_COLORS: dict[str, tuple[str, str, str]] = {
    "done_green": ("#00c875", "#00b461", "green-shadow"),
    "working_orange": ("#fdab3d", "#e99729", "orange"),
    "stuck_red": ("#df2f4a", "#ce3048", "red-shadow"),
    "bright_blue": ("#579bfc", "#4387e8", "bright-blue"),
    "dark_blue": ("#0086c0", "#3db0df", "blue-links"),
    "purple": ("#9d50dd", "#9238af", "purple"),
    "grass_green": ("#9cd326", "#89b921", "grass-green"),
    "sunset": ("#ff7575", "#f36d6d", "sunset"),
    "lipstick": ("#ff5ac4", "#e04fac", "lipstick"),
    "dark_purple": ("#784bd1", "#6f46c1", "dark-purple"),
    "sky": ("#a1e3f6", "#6acbe6", "sky"),
    "chili_blue": ("#66ccff", "#4eb5e6", "chili-blue"),
    "explosive": ("#c4c4c4", "#b0b0b0", "grey"),
}
_NEW_LABEL_COLORS = ("bright_blue", "purple", "grass_green", "sunset", "lipstick", "dark_blue", "sky")
_STATUS_EMPTY_ID = 5
_MAX_STATUS_LABELS = 40
_MAX_LABEL_LENGTH = 30


def _label_style(color: str) -> tuple[str, str, str]:
    if color in STATUS_COLORS:
        return STATUS_COLORS[color]
    if _HEX_RE.match(color):
        return (color, color, color)
    return STATUS_COLORS["explosive"]


# ISO 3166-1 alpha-2 codes and the English names monday shows.
_COUNTRY_TABLE = (
    "AD:Andorra|AE:United Arab Emirates|AF:Afghanistan|AG:Antigua and Barbuda|AI:Anguilla|AL:Albania|"
    "AM:Armenia|AO:Angola|AQ:Antarctica|AR:Argentina|AS:American Samoa|AT:Austria|AU:Australia|AW:Aruba|"
    "AX:Åland Islands|AZ:Azerbaijan|BA:Bosnia and Herzegovina|BB:Barbados|BD:Bangladesh|BE:Belgium|"
    "BF:Burkina Faso|BG:Bulgaria|BH:Bahrain|BI:Burundi|BJ:Benin|BL:Saint Barthélemy|BM:Bermuda|"
    "BN:Brunei|BO:Bolivia|BQ:Caribbean Netherlands|BR:Brazil|BS:Bahamas|BT:Bhutan|BV:Bouvet Island|"
    "BW:Botswana|BY:Belarus|BZ:Belize|CA:Canada|CC:Cocos (Keeling) Islands|CD:Congo (DRC)|"
    "CF:Central African Republic|CG:Congo|CH:Switzerland|CI:Côte d'Ivoire|CK:Cook Islands|CL:Chile|"
    "CM:Cameroon|CN:China|CO:Colombia|CR:Costa Rica|CU:Cuba|CV:Cape Verde|CW:Curaçao|"
    "CX:Christmas Island|CY:Cyprus|CZ:Czech Republic|DE:Germany|DJ:Djibouti|DK:Denmark|DM:Dominica|"
    "DO:Dominican Republic|DZ:Algeria|EC:Ecuador|EE:Estonia|EG:Egypt|EH:Western Sahara|ER:Eritrea|"
    "ES:Spain|ET:Ethiopia|FI:Finland|FJ:Fiji|FK:Falkland Islands|FM:Micronesia|FO:Faroe Islands|"
    "FR:France|GA:Gabon|GB:United Kingdom|GD:Grenada|GE:Georgia|GF:French Guiana|GG:Guernsey|GH:Ghana|"
    "GI:Gibraltar|GL:Greenland|GM:Gambia|GN:Guinea|GP:Guadeloupe|GQ:Equatorial Guinea|GR:Greece|"
    "GS:South Georgia and the South Sandwich Islands|GT:Guatemala|GU:Guam|GW:Guinea-Bissau|GY:Guyana|"
    "HK:Hong Kong|HM:Heard Island and McDonald Islands|HN:Honduras|HR:Croatia|HT:Haiti|HU:Hungary|"
    "ID:Indonesia|IE:Ireland|IL:Israel|IM:Isle of Man|IN:India|IO:British Indian Ocean Territory|"
    "IQ:Iraq|IR:Iran|IS:Iceland|IT:Italy|JE:Jersey|JM:Jamaica|JO:Jordan|JP:Japan|KE:Kenya|"
    "KG:Kyrgyzstan|KH:Cambodia|KI:Kiribati|KM:Comoros|KN:Saint Kitts and Nevis|KP:North Korea|"
    "KR:South Korea|KW:Kuwait|KY:Cayman Islands|KZ:Kazakhstan|LA:Laos|LB:Lebanon|LC:Saint Lucia|"
    "LI:Liechtenstein|LK:Sri Lanka|LR:Liberia|LS:Lesotho|LT:Lithuania|LU:Luxembourg|LV:Latvia|"
    "LY:Libya|MA:Morocco|MC:Monaco|MD:Moldova|ME:Montenegro|MF:Saint Martin|MG:Madagascar|"
    "MH:Marshall Islands|MK:North Macedonia|ML:Mali|MM:Myanmar|MN:Mongolia|MO:Macau|"
    "MP:Northern Mariana Islands|MQ:Martinique|MR:Mauritania|MS:Montserrat|MT:Malta|MU:Mauritius|"
    "MV:Maldives|MW:Malawi|MX:Mexico|MY:Malaysia|MZ:Mozambique|NA:Namibia|NC:New Caledonia|NE:Niger|"
    "NF:Norfolk Island|NG:Nigeria|NI:Nicaragua|NL:Netherlands|NO:Norway|NP:Nepal|NR:Nauru|NU:Niue|"
    "NZ:New Zealand|OM:Oman|PA:Panama|PE:Peru|PF:French Polynesia|PG:Papua New Guinea|PH:Philippines|"
    "PK:Pakistan|PL:Poland|PM:Saint Pierre and Miquelon|PN:Pitcairn Islands|PR:Puerto Rico|"
    "PS:Palestine|PT:Portugal|PW:Palau|PY:Paraguay|QA:Qatar|RE:Réunion|RO:Romania|RS:Serbia|"
    "RU:Russia|RW:Rwanda|SA:Saudi Arabia|SB:Solomon Islands|SC:Seychelles|SD:Sudan|SE:Sweden|"
    "SG:Singapore|SH:Saint Helena|SI:Slovenia|SJ:Svalbard and Jan Mayen|SK:Slovakia|SL:Sierra Leone|"
    "SM:San Marino|SN:Senegal|SO:Somalia|SR:Suriname|SS:South Sudan|ST:São Tomé and Príncipe|"
    "SV:El Salvador|SX:Sint Maarten|SY:Syria|SZ:Eswatini|TC:Turks and Caicos Islands|TD:Chad|"
    "TF:French Southern Territories|TG:Togo|TH:Thailand|TJ:Tajikistan|TK:Tokelau|TL:Timor-Leste|"
    "TM:Turkmenistan|TN:Tunisia|TO:Tonga|TR:Turkey|TT:Trinidad and Tobago|TV:Tuvalu|TW:Taiwan|"
    "TZ:Tanzania|UA:Ukraine|UG:Uganda|UM:U.S. Minor Outlying Islands|US:United States|UY:Uruguay|"
    "UZ:Uzbekistan|VA:Vatican City|VC:Saint Vincent and the Grenadines|VE:Venezuela|"
    "VG:British Virgin Islands|VI:U.S. Virgin Islands|VN:Vietnam|VU:Vanuatu|WF:Wallis and Futuna|"
    "WS:Samoa|XK:Kosovo|YE:Yemen|YT:Mayotte|ZA:South Africa|ZM:Zambia|ZW:Zimbabwe"
)
COUNTRIES: dict[str, str] = {
    code: name for code, name in (p.split(":", 1) for p in _COUNTRY_TABLE.split("|"))
}

# ---------------------------------------------------------------------------------------------
# The codec base


class ColumnCodec:
    """How one column type is written, stored and read back. Subclasses override what differs."""

    api_type = "unsupported"
    legacy_type = "unsupported"
    graphql_type = "UnsupportedValue"
    is_writable = True
    accepts_simple = True  # change_simple_column_value / bare strings in change_multiple
    empty_text: str | None = ""  # `text` when the value is empty
    value_is_always_null = False

    # -- writes --------------------------------------------------------------------------------
    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        """Parse a non-empty JSON write; return the stored value."""
        raise self.error(column, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        """Parse a non-empty simple-string write; return the stored value."""
        raise self.error(column, text)

    def error(self, column: Column, value: Any, message: str | None = None) -> ColumnValueError:
        return ColumnValueError(
            message
            or "invalid value, please check our API documentation for the correct data structure "
            "for this column. https://developer.monday.com/api-reference/docs/change-column-values",
            column.id,
            self.api_type,
            column_value=value,
        )

    # -- reads ---------------------------------------------------------------------------------
    def value(self, column: Column, stored: Any, item: Item | None) -> str | None:
        if stored is None or self.value_is_always_null:
            return None
        return _dumps(stored)

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        if stored is None:
            return self.empty_text
        return self.present_text(column, stored, ctx, item)

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored)

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {}

    def webhook(self, column: Column, stored: Any, ctx: ColumnContext, item: Item | None) -> Any:
        return stored


def _dict_value(codec: ColumnCodec, column: Column, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise codec.error(column, value)
    return value


# ---------------------------------------------------------------------------------------------
# Text-like types


class TextCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "text", "text", "TextValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(column, value)
        return str(value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        return text

    def webhook(self, column: Column, stored: Any, ctx: ColumnContext, item: Item | None) -> Any:
        return None if stored is None else {"value": stored}


class LongTextCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "long_text", "long-text", "LongTextValue"
    max_length = 2000

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        text = _dict_value(self, column, value).get("text")
        if not isinstance(text, str):
            raise self.error(column, value)
        return self.from_simple(column, text, ctx, create_labels) if text else None

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        if len(text) > self.max_length:
            raise self.error(column, text, f"Long text is limited to {self.max_length} characters")
        return {"text": text, "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored.get("text", ""))

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {"updated_at": _updated_at(stored)}


def _parse_number(text: str) -> str | None:
    cleaned = text.strip()
    try:
        number = float(cleaned)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return cleaned


class NumbersCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "numbers", "numeric", "NumbersValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(column, value)
        return self.from_simple(column, repr(value) if isinstance(value, float) else str(value), ctx, False)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        number = _parse_number(text)
        if number is None:
            raise self.error(column, text)
        return number

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        unit = column.settings.get("unit") or {}
        return {
            "number": None if stored is None else float(stored),
            "symbol": unit.get("symbol"),
            "direction": unit.get("direction"),
        }

    def webhook(self, column: Column, stored: Any, ctx: ColumnContext, item: Item | None) -> Any:
        if stored is None:
            return None
        number = float(stored)
        return {"value": int(number) if number.is_integer() else number, "unit": column.settings.get("unit")}


# ---------------------------------------------------------------------------------------------
# Labels: status and dropdown


def _labels(column: Column) -> list[dict[str, Any]]:
    labels = column.settings.get("labels")
    return labels if isinstance(labels, list) else []


class StatusCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "status", "color", "StatusValue"
    empty_text = None

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        if "index" in body and body["index"] is not None:
            index = _as_int(body["index"])
            if index is None:
                raise self.error(column, value)
            return self._by_id(column, index, ctx, value)
        if "label" in body:
            label = body["label"]
            if label is None or label == "":
                return None
            if isinstance(label, int | float) and not isinstance(label, bool):
                label = str(label)
            if not isinstance(label, str):
                raise self.error(column, value)
            return self.from_simple(column, label, ctx, create_labels)
        raise self.error(column, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        text = text.strip()
        if text.isdigit():  # numeric-looking label text is an id, as on monday
            return self._by_id(column, int(text), ctx, text)
        for label in _labels(column):
            if label.get("label") == text:
                return self._by_id(column, int(label["id"]), ctx, text)
        if not create_labels:
            raise self.error(column, text, self._unknown_message(column))
        return self._by_id(column, self._add_label(column, text), ctx, text)

    def _by_id(self, column: Column, label_id: int, ctx: ColumnContext, raw: Any) -> Any:
        for label in _labels(column):
            if int(label["id"]) == label_id:
                if not label.get("label"):
                    return None  # the default empty label
                return {"index": label_id, "post_id": None, "changed_at": _changed_at(ctx)}
        raise self.error(column, raw, self._unknown_message(column))

    def _unknown_message(self, column: Column) -> str:
        known = ", ".join(
            f"{label['id']}: {label['label']}" for label in _labels(column) if label.get("label")
        )
        return f"This status label doesn't exist, possible statuses are: {{{known}}}"

    def _add_label(self, column: Column, text: str) -> int:
        labels = _labels(column)
        if len(text) > _MAX_LABEL_LENGTH:
            raise self.error(column, text, f"Status label is limited to {_MAX_LABEL_LENGTH} characters")
        if sum(1 for label in labels if label.get("label")) >= _MAX_STATUS_LABELS:
            raise self.error(column, text, f"A status column can have at most {_MAX_STATUS_LABELS} labels")
        used = {int(label["id"]) for label in labels} | {_STATUS_EMPTY_ID}
        new_id = next(i for i in range(len(used) + 1) if i not in used)
        colour = _NEW_LABEL_COLORS[len(labels) % len(_NEW_LABEL_COLORS)]
        new = {"id": new_id, "label": text, "color": colour, "index": len(labels), "is_done": False}
        column.settings["labels"] = [*labels, new]
        column.revision += 1
        return new_id

    def label_of(self, column: Column, stored: Any) -> dict[str, Any] | None:
        if not isinstance(stored, dict):
            return None
        index = stored.get("index")
        for label in _labels(column):
            if label["id"] == index:
                return label
        return None

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        label = self.label_of(column, stored)
        return label["label"] if label else None

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        label = self.label_of(column, stored)
        if label is None:
            return {
                "index": None,
                "label": None,
                "is_done": False,
                "label_style": None,
                "update_id": None,
                "updated_at": _updated_at(stored),
            }
        colour, border, _ = _label_style(str(label.get("color", "")))
        return {
            "index": label["id"],
            "label": label["label"],
            "is_done": bool(label.get("is_done", False)),
            "label_style": {"color": colour, "border": border},
            "update_id": stored.get("post_id"),
            "updated_at": _updated_at(stored),
        }

    def webhook(self, column: Column, stored: Any, ctx: ColumnContext, item: Item | None) -> Any:
        label = self.label_of(column, stored)
        if label is None:
            return None
        colour, border, var_name = _label_style(str(label.get("color", "")))
        return {
            "label": {
                "index": label["id"],
                "text": label["label"],
                "style": {"color": colour, "border": border, "var_name": var_name},
                "is_done": bool(label.get("is_done", False)),
            },
            "post_id": None,
        }


class DropdownCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "dropdown", "dropdown", "DropdownValue"
    empty_text = None

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        if "ids" in body:
            ids = body["ids"]
            if not isinstance(ids, list):
                raise self.error(column, value)
            return self._store([self._by_id(column, raw, value) for raw in ids], ctx)
        if "labels" in body:
            names = body["labels"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise self.error(column, value)
            return self._store([self._by_label(column, n, create_labels, value) for n in names], ctx)
        raise self.error(column, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if parts and all(part.isdigit() for part in parts):
            return self._store([self._by_id(column, part, text) for part in parts], ctx)
        return self._store([self._by_label(column, part, create_labels, text) for part in parts], ctx)

    def _store(self, ids: list[int], ctx: ColumnContext) -> Any:
        unique = list(dict.fromkeys(ids))
        return {"ids": unique, "changed_at": _changed_at(ctx)} if unique else None

    def _by_id(self, column: Column, raw: Any, value: Any) -> int:
        wanted = _as_int(raw)
        if wanted is not None and any(label["id"] == wanted for label in _labels(column)):
            return wanted
        raise self.error(column, value, self._unknown_message(column))

    def _by_label(self, column: Column, name: str, create_labels: bool, value: Any) -> int:
        for label in _labels(column):
            if label["label"] == name:  # case-sensitive, as on monday
                return int(label["id"])
        if not create_labels:
            raise self.error(column, value, self._unknown_message(column))
        labels = _labels(column)
        new_id = max((int(label["id"]) for label in labels), default=0) + 1
        column.settings["labels"] = [*labels, {"id": new_id, "label": name, "is_deactivated": False}]
        column.revision += 1
        return new_id

    def _unknown_message(self, column: Column) -> str:
        known = ", ".join(f"{label['id']}: {label['label']}" for label in _labels(column))
        return f"The dropdown label doesn't exist, possible labels are: {{{known}}}"

    def chosen(self, column: Column, stored: Any) -> list[dict[str, Any]]:
        if not isinstance(stored, dict):
            return []
        by_id = {label["id"]: label for label in _labels(column)}
        return [by_id[i] for i in stored.get("ids", ()) if i in by_id]

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return ", ".join(label["label"] for label in self.chosen(column, stored)) or None

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {"values": [{"id": str(lb["id"]), "label": lb["label"]} for lb in self.chosen(column, stored)]}

    def webhook(self, column: Column, stored: Any, ctx: ColumnContext, item: Item | None) -> Any:
        chosen = self.chosen(column, stored)
        return {"chosenValues": [{"id": lb["id"], "name": lb["label"]} for lb in chosen]} if chosen else None


# ---------------------------------------------------------------------------------------------
# People, team, tags


class PeopleCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "people", "multiple-person", "PeopleValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        entries = _dict_value(self, column, value).get("personsAndTeams")
        if not isinstance(entries, list):
            raise self.error(column, value)
        found = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise self.error(column, value)
            kind = entry.get("kind", "person")
            found.append(self._check(column, entry.get("id"), kind, ctx, value))
        return self._store(found, ctx)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        return self._store([self._check(column, part, "person", ctx, text) for part in parts], ctx)

    def _check(self, column: Column, raw: Any, kind: Any, ctx: ColumnContext, value: Any) -> dict[str, Any]:
        entity_id = _as_int(raw)
        if entity_id is None or kind not in ("person", "team"):
            raise self.error(column, value)
        exists = ctx.user(entity_id) if kind == "person" else ctx.team(entity_id)
        if exists is None:
            raise self.error(column, value, f"The {kind} with id {entity_id} does not exist")
        return {"id": entity_id, "kind": kind}

    def _store(self, entries: list[dict[str, Any]], ctx: ColumnContext) -> Any:
        unique = list({(e["id"], e["kind"]): e for e in entries}.values())
        return {"personsAndTeams": unique, "changed_at": _changed_at(ctx)} if unique else None

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        names = []
        for entry in stored.get("personsAndTeams", ()):
            found = ctx.user(entry["id"]) if entry["kind"] == "person" else ctx.team(entry["id"])
            if found is not None:
                names.append(found.name)
        return ", ".join(names)

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        entries = stored.get("personsAndTeams", []) if isinstance(stored, dict) else []
        return {
            "persons_and_teams": [{"id": str(e["id"]), "kind": e["kind"]} for e in entries],
            "updated_at": _updated_at(stored),
        }


class TeamCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "team", "team", "TeamValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        return self._check(column, _dict_value(self, column, value).get("team_id"), ctx, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        return self._check(column, text, ctx, text)

    def _check(self, column: Column, raw: Any, ctx: ColumnContext, value: Any) -> Any:
        team_id = _as_int(raw)
        if team_id is None or ctx.team(team_id) is None:
            raise self.error(column, value, f"The team with id {raw} does not exist")
        return {"team_id": team_id, "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        team = ctx.team(stored["team_id"])
        return team.name if team else ""

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        team_id = stored.get("team_id") if isinstance(stored, dict) else None
        return {"team_id": team_id, "updated_at": _updated_at(stored)}


class TagsCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "tags", "tag", "TagsValue"
    accepts_simple = False

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        raw_ids = _dict_value(self, column, value).get("tag_ids")
        if not isinstance(raw_ids, list):
            raise self.error(column, value)
        ids = []
        for raw in raw_ids:
            tag_id = _as_int(raw)
            if tag_id is None or ctx.tag(tag_id) is None:
                raise self.error(column, value, f"The tag with id {raw} does not exist")
            ids.append(tag_id)
        unique = list(dict.fromkeys(ids))
        return {"tag_ids": unique} if unique else None

    def _tags(self, stored: Any, ctx: ColumnContext) -> list[Tag]:
        ids = stored.get("tag_ids", []) if isinstance(stored, dict) else []
        return [tag for tag in (ctx.tag(i) for i in ids) if tag is not None]

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return ", ".join(tag.name for tag in self._tags(stored, ctx))

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        tags = self._tags(stored, ctx)
        return {"tag_ids": [tag.id for tag in tags], "tags": tags}


# ---------------------------------------------------------------------------------------------
# Dates and times


class DateCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "date", "date", "DateValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        if not body.get("date"):
            return None
        return self._store(column, body.get("date"), body.get("time"), ctx, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        day, _, clock = text.strip().partition(" ")
        return self._store(column, day, clock or None, ctx, text)

    def _store(self, column: Column, day: Any, clock: Any, ctx: ColumnContext, value: Any) -> Any:
        if _parse_date(day) is None:
            raise self.error(column, value)
        stored: dict[str, Any] = {"date": day}
        if clock not in (None, ""):
            normal = _parse_time(clock)
            if normal is None:
                raise self.error(column, value)
            stored["time"] = normal
        stored["changed_at"] = _changed_at(ctx)
        return stored

    def local(self, stored: Any, ctx: ColumnContext) -> tuple[str | None, str | None]:
        """The date and time as the caller sees them (stored values are UTC)."""
        if not isinstance(stored, dict) or not stored.get("date"):
            return None, None
        clock = stored.get("time")
        if not clock:
            return stored["date"], None
        moment = datetime.fromisoformat(f"{stored['date']}T{clock}+00:00")
        seen = moment.astimezone(_zone(ctx.user_timezone()))
        return seen.strftime("%Y-%m-%d"), seen.strftime("%H:%M:%S")

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        day, clock = self.local(stored, ctx)
        if day is None:
            return ""
        return day if clock is None else f"{day} {clock[:5]}"

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        day, clock = self.local(stored, ctx)
        icon = stored.get("icon") if isinstance(stored, dict) else None
        return {"date": day, "time": clock, "icon": icon, "updated_at": _updated_at(stored)}

    def webhook(self, column: Column, stored: Any, ctx: ColumnContext, item: Item | None) -> Any:
        if stored is None:
            return None
        return {
            "date": stored["date"],
            "icon": stored.get("icon"),
            "time": stored.get("time"),
            "changed_at": stored.get("changed_at"),
        }


class TimelineCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "timeline", "timerange", "TimelineValue"
    accepts_simple = False

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        start, end = _parse_date(body.get("from")), _parse_date(body.get("to"))
        if start is None or end is None or end < start:
            raise self.error(column, value)
        stored: dict[str, Any] = {"from": body["from"], "to": body["to"]}
        if body.get("visualization_type") in ("milestone", "timeline"):
            stored["visualization_type"] = body["visualization_type"]
        stored["changed_at"] = _changed_at(ctx)
        return stored

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return f"{stored['from']} - {stored['to']}"

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        body = stored if isinstance(stored, dict) else {}
        return {
            "from": body.get("from"),
            "to": body.get("to"),
            "visualization_type": body.get("visualization_type"),
            "updated_at": _updated_at(stored),
        }


class WeekCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "week", "week", "WeekValue"
    accepts_simple = False

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        week = _dict_value(self, column, value).get("week")
        if week in (None, "", {}):
            return None
        if not isinstance(week, dict):
            raise self.error(column, value)
        start, end = _parse_date(week.get("startDate")), _parse_date(week.get("endDate"))
        # exactly one week starting on a Sunday or a Monday (the account's first day of week)
        if start is None or end is None or end - start != timedelta(days=6) or start.weekday() not in (0, 6):
            raise self.error(column, value)
        return {
            "week": {"startDate": week["startDate"], "endDate": week["endDate"]},
            "changed_at": _changed_at(ctx),
        }

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return f"{stored['week']['startDate']} - {stored['week']['endDate']}"

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        week = stored.get("week", {}) if isinstance(stored, dict) else {}
        return {"start_date": week.get("startDate"), "end_date": week.get("endDate")}


class HourCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "hour", "hour", "HourValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        hour, minute = _as_int(body.get("hour")), _as_int(body.get("minute", 0))
        if hour is None or minute is None or not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise self.error(column, value)
        return {"hour": hour, "minute": minute, "changed_at": _changed_at(ctx)}

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        normal = _parse_time(text)
        if normal is None:
            raise self.error(column, text)
        return {"hour": int(normal[:2]), "minute": int(normal[3:5]), "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return f"{stored['hour']:02d}:{stored['minute']:02d}"

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        body = stored if isinstance(stored, dict) else {}
        return {"hour": body.get("hour"), "minute": body.get("minute"), "updated_at": _updated_at(stored)}


class WorldClockCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "world_clock", "timezone", "WorldClockValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        return self.from_simple(column, _dict_value(self, column, value).get("timezone"), ctx, False)

    def from_simple(self, column: Column, text: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        if not isinstance(text, str) or text not in _known_timezones():
            raise self.error(column, text)
        return {"timezone": text, "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored["timezone"])

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        zone = stored.get("timezone") if isinstance(stored, dict) else None
        return {"timezone": zone, "updated_at": _updated_at(stored)}


class TimeTrackingCodec(ColumnCodec):
    """Read-only through the API; stored as monday does: duration seconds, running flag, history."""

    api_type, legacy_type, graphql_type = "time_tracking", "duration", "TimeTrackingValue"
    is_writable = False

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        seconds = int(stored.get("duration", 0))
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        body = stored if isinstance(stored, dict) else {}
        started = body.get("startDate")
        history = []
        for entry in body.get("additional_value", ()):
            history.append(
                {
                    "id": str(entry["id"]),
                    "status": entry.get("status", "active"),
                    "started_at": _epoch_iso(entry.get("started_at")),
                    "ended_at": _epoch_iso(entry.get("ended_at")),
                    "started_user_id": _str_or_none(entry.get("started_user_id")),
                    "ended_user_id": _str_or_none(entry.get("ended_user_id")),
                    "created_at": _epoch_iso(entry.get("created_at") or entry.get("started_at")),
                    "updated_at": _epoch_iso(entry.get("updated_at") or entry.get("ended_at")),
                    "manually_entered_start_date": bool(entry.get("manually_entered_start_date", False)),
                    "manually_entered_start_time": bool(entry.get("manually_entered_start_time", False)),
                    "manually_entered_end_date": bool(entry.get("manually_entered_end_date", False)),
                    "manually_entered_end_time": bool(entry.get("manually_entered_end_time", False)),
                }
            )
        return {
            "duration": body.get("duration") if body else None,
            "running": body.get("running") in (True, "true") if body else None,
            "started_at": _epoch_iso(started),
            "history": history,
            "updated_at": _updated_at(stored),
        }


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _epoch_iso(seconds: Any) -> str | None:
    if seconds is None:
        return None
    return iso_utc(datetime.fromtimestamp(int(seconds), UTC))


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# Simple objects: checkbox, email, phone, link, location, country, rating, color_picker


class CheckboxCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "checkbox", "boolean", "CheckboxValue"
    accepts_simple = False

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        checked = _dict_value(self, column, value).get("checked")
        if checked in ("true", True):
            return {"checked": "true", "changed_at": _changed_at(ctx)}
        if checked in ("false", False, None):
            return None
        raise self.error(column, value)

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return "v"

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {"checked": stored is not None, "updated_at": _updated_at(stored)}

    def webhook(self, column: Column, stored: Any, ctx: ColumnContext, item: Item | None) -> Any:
        return None if stored is None else {"checked": True, "changed_at": stored.get("changed_at")}


class EmailCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "email", "email", "EmailValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        if "email" not in body or "text" not in body:  # monday needs both keys
            raise self.error(column, value)
        if body["email"] in (None, ""):
            return None
        return self._store(column, body["email"], body["text"], ctx, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        address, _, label = text.strip().partition(" ")
        return self._store(column, address, label.strip() or address, ctx, text)

    def _store(self, column: Column, address: Any, label: Any, ctx: ColumnContext, value: Any) -> Any:
        if not isinstance(address, str) or not _EMAIL_RE.match(address) or not isinstance(label, str | None):
            raise self.error(column, value)
        return {"email": address, "text": label or address, "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored["email"])

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        body = stored if isinstance(stored, dict) else {}
        return {"email": body.get("email"), "label": body.get("text"), "updated_at": _updated_at(stored)}


class PhoneCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "phone", "phone", "PhoneValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        if body.get("phone") in (None, ""):
            return None
        return self._store(column, body.get("phone"), body.get("countryShortName"), ctx, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        number, _, country = text.strip().rpartition(" ")
        if not number:
            raise self.error(column, text)
        return self._store(column, number, country, ctx, text)

    def _store(self, column: Column, number: Any, country: Any, ctx: ColumnContext, value: Any) -> Any:
        if not isinstance(number, str) or not _PHONE_RE.match(number.replace(" ", "").replace("-", "")):
            raise self.error(column, value)
        if not isinstance(country, str) or country not in COUNTRIES:  # upper-case ISO-2 only
            raise self.error(column, value)
        return {"phone": number, "countryShortName": country, "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored["phone"])

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        body = stored if isinstance(stored, dict) else {}
        return {
            "phone": body.get("phone"),
            "country_short_name": body.get("countryShortName"),
            "updated_at": _updated_at(stored),
        }


class LinkCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "link", "link", "LinkValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        if body.get("url") in (None, ""):
            return None
        return self._store(column, body.get("url"), body.get("text"), ctx, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        url, _, label = text.strip().partition(" ")
        return self._store(column, url, label.strip(), ctx, text)

    def _store(self, column: Column, url: Any, label: Any, ctx: ColumnContext, value: Any) -> Any:
        if not isinstance(url, str) or not isinstance(label, str | None):
            raise self.error(column, value)
        return {"url": url, "text": label or url, "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return f"{stored['url']} - {stored['text']}"

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        body = stored if isinstance(stored, dict) else {}
        return {"url": body.get("url"), "url_text": body.get("text"), "updated_at": _updated_at(stored)}


_LOCATION_PARTS = ("city", "city_short", "country", "country_short", "street", "street_number")
_LOCATION_PARTS_SHORT = ("street_short", "street_number_short", "place_id")


class LocationCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "location", "location", "LocationValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        if body.get("lat") in (None, "") and body.get("lng") in (None, ""):
            return None
        return self._store(column, body.get("lat"), body.get("lng"), body.get("address"), ctx, value, body)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        parts = text.strip().split(" ", 2)
        if len(parts) < 2:
            raise self.error(column, text)
        address = parts[2] if len(parts) == 3 else None
        return self._store(column, parts[0], parts[1], address, ctx, text, {})

    def _store(
        self,
        column: Column,
        lat: Any,
        lng: Any,
        address: Any,
        ctx: ColumnContext,
        value: Any,
        extra: dict[str, Any],
    ) -> Any:
        try:
            lat_f, lng_f = float(lat), float(lng)
        except (TypeError, ValueError):
            raise self.error(column, value) from None
        if not (-90 < lat_f < 90) or not (-180 <= lng_f <= 180):
            raise self.error(column, value, "Latitude must be in (-90, 90) and longitude in [-180, 180]")
        stored: dict[str, Any] = {"lat": str(lat), "lng": str(lng), "address": address or "unknown"}
        if extra.get("placeId"):
            stored["placeId"] = str(extra["placeId"])
        for key in ("city", "country", "street", "streetNumber"):
            if isinstance(extra.get(key), dict):
                stored[key] = extra[key]
        stored["changed_at"] = _changed_at(ctx)
        return stored

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored.get("address", ""))

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        body = stored if isinstance(stored, dict) else {}
        fields: dict[str, Any] = dict.fromkeys(_LOCATION_PARTS + _LOCATION_PARTS_SHORT)
        fields.update(
            lat=float(body["lat"]) if "lat" in body else None,
            lng=float(body["lng"]) if "lng" in body else None,
            address=body.get("address"),
            place_id=body.get("placeId"),
            updated_at=_updated_at(stored),
        )
        for key, long_key, short_key in (
            ("city", "city", "city_short"),
            ("country", "country", "country_short"),
            ("street", "street", "street_short"),
            ("streetNumber", "street_number", "street_number_short"),
        ):
            part = body.get(key)
            if isinstance(part, dict):
                fields[long_key], fields[short_key] = part.get("long_name"), part.get("short_name")
        return fields


class CountryCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "country", "country", "CountryValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        code, name = body.get("countryCode"), body.get("countryName")
        if code in (None, "") and name in (None, ""):
            return None
        known = COUNTRIES.get(code) if isinstance(code, str) else None
        if known is None or not isinstance(name, str) or name.casefold() != known.casefold():
            raise self.error(column, value, "Country code and name don't match a known country")
        return {"countryCode": code, "countryName": known, "changed_at": _changed_at(ctx)}

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        code = text.strip()
        if code not in COUNTRIES:
            raise self.error(column, text)
        return {"countryCode": code, "countryName": COUNTRIES[code], "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored["countryName"])

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        country = None
        if isinstance(stored, dict):
            country = {"code": stored["countryCode"], "name": stored["countryName"]}
        return {"country": country, "updated_at": _updated_at(stored)}


class RatingCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "rating", "rating", "RatingValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        return self._store(column, _dict_value(self, column, value).get("rating"), ctx, value)

    def from_simple(self, column: Column, text: str, ctx: ColumnContext, create_labels: bool) -> Any:
        return self._store(column, text, ctx, text)

    def _store(self, column: Column, raw: Any, ctx: ColumnContext, value: Any) -> Any:
        rating = _as_int(raw)
        top = int(column.settings.get("max_rating", 5))
        if rating is None or not 0 <= rating <= top:
            raise self.error(column, value)
        return {"rating": rating, "changed_at": _changed_at(ctx)} if rating else None

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored["rating"])

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        rating = stored.get("rating") if isinstance(stored, dict) else None
        return {"rating": rating, "updated_at": _updated_at(stored)}


class ColorPickerCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "color_picker", "color-picker", "ColorPickerValue"
    empty_text = None

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        colour = _dict_value(self, column, value).get("color")
        hex_value = colour.get("hex") if isinstance(colour, dict) else colour
        return self.from_simple(column, hex_value, ctx, False)

    def from_simple(self, column: Column, text: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        if not isinstance(text, str) or not _HEX_RE.match(text.strip()):
            raise self.error(column, text)
        return {"color": {"hex": text.strip().upper()}, "changed_at": _changed_at(ctx)}

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(stored["color"]["hex"])

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        colour = stored["color"]["hex"] if isinstance(stored, dict) else None
        return {"color": colour, "updated_at": _updated_at(stored)}


# ---------------------------------------------------------------------------------------------
# Links between items: board_relation, dependency, mirror, subtasks


class BoardRelationCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "board_relation", "board-relation", "BoardRelationValue"
    accepts_simple = False
    empty_text = None
    value_is_always_null = True

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        body = _dict_value(self, column, value)
        raw_ids = body.get("item_ids")
        if "linkedPulseIds" in body or not isinstance(raw_ids, list):
            raise self.error(column, value)
        allowed = {int(b) for b in column.settings.get("boardIds", ())}
        ids = []
        for raw in raw_ids:
            item_id = _as_int(raw)
            linked = ctx.item(item_id) if item_id is not None else None
            if linked is None or linked.state == "deleted":
                raise self.error(column, value, f"Item {raw} does not exist")
            if linked.board_id not in allowed:
                raise self.error(column, value, f"Item {raw} is not on a board connected to this column")
            ids.append(linked.id)
        unique = list(dict.fromkeys(ids))
        if not unique:
            return None
        if not column.settings.get("allowMultipleItems", True) and len(unique) > 1:
            raise self.error(column, value, "This column allows linking a single item")
        return {"linkedPulseIds": [{"linkedPulseId": i} for i in unique], "changed_at": _changed_at(ctx)}

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return None

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        linked = _live_items(ctx, _ids_of(stored))
        return {
            "linked_item_ids": [str(i.id) for i in linked],
            "linked_items": linked,
            "display_value": ", ".join(i.name for i in linked),
            "updated_at": _updated_at(stored),
        }


class DependencyCodec(BoardRelationCodec):
    api_type, legacy_type, graphql_type = "dependency", "dependency", "DependencyValue"

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        if not column.settings.get("boardIds"):
            column = Column(column.id, column.title, column.type, {"boardIds": [_board_of(ctx, value)]})
        return super().from_json(column, value, ctx, create_labels)

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        fields = super().typed(column, stored, ctx, item)
        fields["dependency_links"] = [
            {"linked_item_id": i, "dependency_type": 0, "lag": 0} for i in fields["linked_item_ids"]
        ]
        return fields


def _board_of(ctx: ColumnContext, value: Any) -> int:
    """Without settings a dependency links within one board: the board of the first target."""
    ids = value.get("item_ids") if isinstance(value, dict) else None
    first = ctx.item(_as_int(ids[0]) or 0) if isinstance(ids, list) and ids else None
    return first.board_id if first else 0


class MirrorCodec(ColumnCodec):
    """Shows, through a board_relation column, another column of the linked items.

    settings: {"relation_column": {"<relation column id>": true},
               "displayed_linked_columns": {"<linked board id>": ["<column id>", ...]}}
    """

    api_type, legacy_type, graphql_type = "mirror", "lookup", "MirrorValue"
    is_writable = False
    empty_text = None
    value_is_always_null = True

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return None

    def mirrored(
        self, column: Column, ctx: ColumnContext, item: Item
    ) -> list[tuple[Item, Board, list[Column]]]:
        shown = column.settings.get("displayed_linked_columns") or {}
        found = []
        for relation_id in column.settings.get("relation_column") or {}:
            for linked in _live_items(ctx, _ids_of(item.values.get(relation_id))):
                board = ctx.board(linked.board_id)
                if board is None:
                    continue
                columns = [
                    board.columns[c]
                    for c in shown.get(str(board.id), ())
                    if c in board.columns and not board.columns[c].archived
                ]
                found.append((linked, board, columns))
        return found

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        shown, mirrored_items = [], []
        for linked, board, columns in self.mirrored(column, ctx, item):
            for other in columns:
                text = render_text(other, linked.values.get(other.id), ctx, linked)
                if text:
                    shown.append(text)
            mirrored_items.append(
                {
                    "linked_item": linked,
                    "linked_board_id": str(board.id),
                    "linked_board": board,
                    "mirrored_value": None,
                }
            )
        return {"display_value": ", ".join(shown), "mirrored_items": mirrored_items}


class SubtasksCodec(ColumnCodec):
    """Derived from `Item.subitem_ids`; settings {"boardIds": [<subitems board id>]}."""

    api_type, legacy_type, graphql_type = "subtasks", "subtasks", "SubtasksValue"
    is_writable = False

    def value(self, column: Column, stored: Any, item: Item | None) -> str | None:
        derived = self.item_value(item) if item is not None else None
        return None if derived is None else _dumps(derived)

    def item_value(self, item: Item) -> Any:
        if not item.subitem_ids:
            return None
        return {"linkedPulseIds": [{"linkedPulseId": i} for i in item.subitem_ids]}

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return ", ".join(sub.name for sub in _live_items(ctx, item.subitem_ids))

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        subs = [sub for sub in _live_items(ctx, item.subitem_ids) if sub.state == "active"]
        return {
            "subitems_ids": [str(sub.id) for sub in subs],
            "subitems": subs,
            "display_value": ", ".join(sub.name for sub in subs),
        }

    def webhook(self, column: Column, stored: Any, ctx: ColumnContext, item: Item | None) -> Any:
        if item is None or not item.subitem_ids:
            return None
        value = self.item_value(item)
        value["changed_at"] = _changed_at(ctx)
        return value


# ---------------------------------------------------------------------------------------------
# Read-only types derived from the item


class CreationLogCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "creation_log", "pulse-log", "CreationLogValue"
    is_writable = False

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return _utc_text(item.created_at)

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {
            "created_at": iso_utc(item.created_at),
            "creator_id": str(item.creator_id),
            "creator": ctx.user(item.creator_id),
        }


class LastUpdatedCodec(ColumnCodec):
    """The updater is `item.updater_id` when the model keeps one, else the creator."""

    api_type, legacy_type, graphql_type = "last_updated", "pulse-updated", "LastUpdatedValue"
    is_writable = False

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return _utc_text(item.updated_at)

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        updater_id = getattr(item, "updater_id", None) or item.creator_id
        return {
            "updated_at": iso_utc(item.updated_at),
            "updater_id": str(updater_id),
            "updater": ctx.user(updater_id),
        }


class ItemIdCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "item_id", "pulse-id", "ItemIdValue"
    is_writable = False

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(item.id)

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {"item_id": str(item.id)}


class AutoNumberCodec(ColumnCodec):
    """The item's 1-based creation position on its board."""

    api_type, legacy_type, graphql_type = "auto_number", "autonumber", "UnsupportedValue"
    is_writable = False

    def __init__(self) -> None:
        self._positions: dict[int, tuple[int, dict[int, int]]] = {}

    def position(self, ctx: ColumnContext, item: Item) -> int | None:
        board = ctx.board(item.board_id)
        if board is None:
            return None
        cached = self._positions.get(board.id)
        if cached is None or cached[0] != len(board.item_ids):  # item_ids only grows
            cached = (len(board.item_ids), {i: n for n, i in enumerate(board.item_ids, 1)})
            self._positions[board.id] = cached
        return cached[1].get(item.id)

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        number = self.position(ctx, item)
        return "" if number is None else str(number)


class FormulaCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "formula", "formula", "FormulaValue"
    is_writable = False
    value_is_always_null = True

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {"display_value": formula_display(column, item)}


class ButtonCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "button", "button", "ButtonValue"
    is_writable = False

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {
            "label": column.settings.get("label", "Click me"),
            "color": column.settings.get("color", "#579bfc"),
        }


class ProgressCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "progress", "progress", "ProgressValue"
    is_writable = False


class VoteCodec(ColumnCodec):
    api_type, legacy_type, graphql_type = "vote", "votes", "VoteValue"
    is_writable = False
    empty_text = "0"

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return str(len(stored.get("votersIds", ())))

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        ids = [int(i) for i in stored.get("votersIds", ())] if isinstance(stored, dict) else []
        voters = [user for user in (ctx.user(i) for i in ids) if user is not None]
        return {
            "vote_count": len(ids),
            "voter_ids": [str(i) for i in ids],
            "voters": voters,
            "updated_at": _updated_at(stored),
        }


class FileCodec(ColumnCodec):
    """Files arrive through /v2/file; the only JSON write is `{"clear_all": true}`.

    stored: {"files": [{"name", "assetId", "isImage": "true"|"false", "fileType": "ASSET",
             "createdAt": epoch ms, "createdBy": "user id"}, ...]}; a `{"fileType": "LINK",
             "linkToFile", "name"}` entry is an external link.
    """

    api_type, legacy_type, graphql_type = "file", "file", "FileValue"
    accepts_simple = False

    def from_json(self, column: Column, value: Any, ctx: ColumnContext, create_labels: bool) -> Any:
        if isinstance(value, dict) and value.get("clear_all") in (True, "true"):
            return None
        raise self.error(column, value, "Files can only be added with add_file_to_column")

    def present_text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return ", ".join(_file_url(entry) for entry in stored.get("files", ()))

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        files = stored.get("files", []) if isinstance(stored, dict) else []
        return {"files": [_file_item(entry, ctx) for entry in files]}


def _file_url(entry: dict[str, Any]) -> str:
    if entry.get("fileType") == "ASSET":
        return asset_url(entry["assetId"], entry["name"])
    return str(entry.get("linkToFile", ""))


def _file_item(entry: dict[str, Any], ctx: ColumnContext) -> dict[str, Any]:
    created_ms = int(entry.get("createdAt", 0))
    created = iso_utc(datetime.fromtimestamp(created_ms / 1000, UTC))
    creator_id = _as_int(entry.get("createdBy"))
    creator = ctx.user(creator_id) if creator_id is not None else None
    if entry.get("fileType") != "ASSET":
        return {
            "__typename": "FileLinkValue",
            "file_id": str(entry.get("fileId", entry.get("linkToFile", ""))),
            "kind": str(entry.get("fileType", "LINK")).lower(),
            "name": entry.get("name", ""),
            "url": entry.get("linkToFile"),
            "created_at": created,
            "creator_id": _str_or_none(creator_id),
            "creator": creator,
        }
    name = str(entry["name"])
    url = asset_url(entry["assetId"], name)
    return {
        "__typename": "FileAssetValue",
        "asset_id": str(entry["assetId"]),
        "name": name,
        "is_image": entry.get("isImage") in (True, "true"),
        "created_at": created,
        "creator_id": _str_or_none(creator_id),
        "creator": creator,
        "asset": {
            "id": str(entry["assetId"]),
            "name": name,
            "url": url,
            "public_url": url,
            "url_thumbnail": url if entry.get("isImage") in (True, "true") else None,
            "file_extension": "." + name.rsplit(".", 1)[-1] if "." in name else "",
            "file_size": int(entry.get("fileSize", 0)),
            "created_at": created,
            "uploaded_by": creator,
            "original_geometry": None,
        },
    }


class DocCodec(ColumnCodec):
    """Docs are created with create_doc; the value lists them, `text` is always ""."""

    api_type, legacy_type, graphql_type = "doc", "doc", "DocValue"
    is_writable = False

    def text(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
        return ""

    def typed(self, column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
        return {"file": None}


class DirectDocCodec(DocCodec):
    api_type, legacy_type, graphql_type = "direct_doc", "direct-doc", "DirectDocValue"


class UnsupportedCodec(ColumnCodec):
    is_writable = False


# ---------------------------------------------------------------------------------------------
# Formula evaluation: numbers, {column_id} references, + - * / and parentheses

_FORMULA_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|\{([^}]+)\}|(.))")


def formula_display(column: Column, item: Item) -> str:
    """The formula's display value for one item; "" when it has no formula or can't compute."""
    formula = column.settings.get("formula")
    if not isinstance(formula, str) or not formula.strip():
        return str(column.settings.get("display_value", ""))
    tokens: list[tuple[str, Any]] = []
    for number, ref, symbol in _FORMULA_TOKEN.findall(formula):
        if number:
            tokens.append(("num", float(number)))
        elif ref:
            tokens.append(("num", _ref_number(item.values.get(ref))))
        elif symbol.strip():
            tokens.append(("op", symbol))
    try:
        result, rest = _sum(tokens)
    except (IndexError, ZeroDivisionError, ValueError):
        return ""
    if rest:
        return ""
    if result.is_integer() and abs(result) < 1e15:
        return str(int(result))
    return f"{result:.10g}"


def _ref_number(stored: Any) -> float:
    raw: Any = stored.get("rating") if isinstance(stored, dict) else stored
    try:
        return float(raw)
    except (TypeError, ValueError):
        return 0.0


_Tokens = list[tuple[str, Any]]


def _sum(tokens: _Tokens) -> tuple[float, _Tokens]:
    value, tokens = _product(tokens)
    while tokens and tokens[0] in (("op", "+"), ("op", "-")):
        sign = tokens[0][1]
        right, tokens = _product(tokens[1:])
        value = value + right if sign == "+" else value - right
    return value, tokens


def _product(tokens: _Tokens) -> tuple[float, _Tokens]:
    value, tokens = _atom(tokens)
    while tokens and tokens[0] in (("op", "*"), ("op", "/")):
        sign = tokens[0][1]
        right, tokens = _atom(tokens[1:])
        value = value * right if sign == "*" else value / right
    return value, tokens


def _atom(tokens: _Tokens) -> tuple[float, _Tokens]:
    kind, symbol = tokens[0]
    if kind == "num":
        return float(symbol), tokens[1:]
    if symbol == "-":
        value, rest = _atom(tokens[1:])
        return -value, rest
    if symbol == "(":
        value, rest = _sum(tokens[1:])
        if not rest or rest[0] != ("op", ")"):
            raise ValueError("unbalanced parentheses")
        return value, rest[1:]
    raise ValueError(f"unexpected {symbol!r}")


# ---------------------------------------------------------------------------------------------
# The registry and the public functions

_CODEC_LIST: tuple[ColumnCodec, ...] = (
    TextCodec(),
    LongTextCodec(),
    NumbersCodec(),
    StatusCodec(),
    DropdownCodec(),
    PeopleCodec(),
    TeamCodec(),
    TagsCodec(),
    DateCodec(),
    TimelineCodec(),
    WeekCodec(),
    HourCodec(),
    WorldClockCodec(),
    TimeTrackingCodec(),
    CheckboxCodec(),
    EmailCodec(),
    PhoneCodec(),
    LinkCodec(),
    LocationCodec(),
    CountryCodec(),
    RatingCodec(),
    ColorPickerCodec(),
    BoardRelationCodec(),
    DependencyCodec(),
    MirrorCodec(),
    SubtasksCodec(),
    CreationLogCodec(),
    LastUpdatedCodec(),
    ItemIdCodec(),
    AutoNumberCodec(),
    FormulaCodec(),
    ButtonCodec(),
    ProgressCodec(),
    VoteCodec(),
    FileCodec(),
    DocCodec(),
    DirectDocCodec(),
)
_CODECS: dict[str, ColumnCodec] = {codec.api_type: codec for codec in _CODEC_LIST}
_UNSUPPORTED = UnsupportedCodec()

SUPPORTED_TYPES: tuple[str, ...] = tuple(_CODECS)
"""Every API column type the sandbox models."""

_OTHER_GRAPHQL_TYPES = {"person": "PersonValue", "group": "GroupValue", "integration": "IntegrationValue"}
_LEGACY_NAMES: dict[str, str] = {codec.api_type: codec.legacy_type for codec in _CODEC_LIST} | {
    "person": "person",
    "name": "name",
    "group": "group",
}
_API_NAMES: dict[str, str] = {legacy: api for api, legacy in _LEGACY_NAMES.items()}


def codec_for(column_type: str) -> ColumnCodec:
    """The codec of an API type name; unknown types get a read-only codec with empty values."""
    return _CODECS.get(column_type, _UNSUPPORTED)


def legacy_type_name(api_type: str) -> str:
    """The name webhooks use for an API column type ("status" -> "color")."""
    return _LEGACY_NAMES.get(api_type, api_type)


def api_type_name(legacy_or_api: str) -> str:
    """The API column type for a legacy or current name ("multiple-person" -> "people")."""
    if legacy_or_api in _CODECS:
        return legacy_or_api
    return _API_NAMES.get(legacy_or_api, legacy_or_api)


def graphql_type_name(column_type: str) -> str:
    """The ColumnValue implementation for a column type ("status" -> "StatusValue")."""
    codec = _CODECS.get(column_type)
    if codec is not None:
        return codec.graphql_type
    return _OTHER_GRAPHQL_TYPES.get(column_type, "UnsupportedValue")


def is_writable(column_type: str) -> bool:
    """Whether the API accepts values for this column type (read-only types refuse writes)."""
    return codec_for(column_type).is_writable


def write_json(
    column: Column,
    value: Any,
    ctx: ColumnContext,
    *,
    create_labels_if_missing: bool = False,
    via_change_column_value: bool = False,
) -> Any:
    """Validate one column's value from a JSON write and return what to store (None = empty).

    `value` is this column's entry of the decoded `column_values` object (change_multiple,
    create_item, create_subitem) or the decoded `value` of change_column_value (then pass
    `via_change_column_value=True`: board_relation refuses it, as on monday). Status and dropdown
    may add labels to `column.settings` when `create_labels_if_missing` is set.
    """
    codec = _CODECS.get(column.type, _UNSUPPORTED)
    if not codec.is_writable:
        _check_writable(codec, column, value)
    if via_change_column_value and codec.api_type == "board_relation":
        raise codec.error(
            column, value, "board_relation values can only be set with change_multiple_column_values"
        )
    if value is None or value == "" or value == {}:
        return None
    if value.__class__ is str:
        if not codec.accepts_simple:
            raise codec.error(column, value)
        return codec.from_simple(column, value, ctx, create_labels_if_missing)
    return codec.from_json(column, value, ctx, create_labels_if_missing)


def write_simple(
    column: Column, value: str | None, ctx: ColumnContext, *, create_labels_if_missing: bool = False
) -> Any:
    """Validate a change_simple_column_value string and return what to store (None = empty)."""
    codec = codec_for(column.type)
    _check_writable(codec, column, value)
    if not codec.accepts_simple:
        raise codec.error(column, value, f"{codec.api_type} columns can't be updated with a simple string")
    if value is None or value == "":
        return None
    return codec.from_simple(column, value, ctx, create_labels_if_missing)


def _check_writable(codec: ColumnCodec, column: Column, value: Any) -> None:
    if not codec.is_writable:
        raise codec.error(column, value, f"This column type ({codec.api_type}) is read-only through the API")


def render_value(column: Column, stored: Any, item: Item | None = None) -> str | None:
    """ColumnValue.value: a JSON string, or None when empty (always None for some types).

    Pass the item for subtasks, whose value is derived from `item.subitem_ids`.
    """
    if stored is None:
        return _CODECS.get(column.type, _UNSUPPORTED).value(column, None, item)
    cached = _VALUE_CACHE.get(id(stored))
    if cached is not None and cached[0] is stored:
        return cached[1]
    rendered = _CODECS.get(column.type, _UNSUPPORTED).value(column, stored, item)
    if len(_VALUE_CACHE) >= _VALUE_CACHE_SIZE:
        _VALUE_CACHE.clear()
    _VALUE_CACHE[id(stored)] = (stored, rendered)
    return rendered


# Stored values are replaced on every write, never changed in place, so a rendered `value` can be
# remembered by the identity of the stored object (kept alive by the entry itself).
_VALUE_CACHE: dict[int, tuple[Any, str | None]] = {}
_VALUE_CACHE_SIZE = 400_000


def forget_rendered(stored: Any) -> None:
    """Drop the remembered `value` of a stored object, for when it moves to a column of another
    type (a column type change)."""
    _VALUE_CACHE.pop(id(stored), None)


def render_text(column: Column, stored: Any, ctx: ColumnContext, item: Item) -> str | None:
    """ColumnValue.text with monday's null-vs-"" rules for the type."""
    return _CODECS.get(column.type, _UNSUPPORTED).text(column, stored, ctx, item)


def typed_fields(column: Column, stored: Any, ctx: ColumnContext, item: Item) -> dict[str, Any]:
    """The fields specific to the type's ColumnValue implementation, keyed by schema field name."""
    return _CODECS.get(column.type, _UNSUPPORTED).typed(column, stored, ctx, item)


def webhook_value(column: Column, stored: Any, ctx: ColumnContext, item: Item | None = None) -> Any:
    """The `value`/`previousValue` object of an update_column_value webhook payload (None = empty)."""
    return codec_for(column.type).webhook(column, stored, ctx, item)


_DEFAULT_SETTINGS: dict[str, Callable[[], dict[str, Any]]] = {
    "status": lambda: {
        "labels": [
            {"id": 0, "label": "Working on it", "color": "working_orange", "index": 0, "is_done": False},
            {"id": 1, "label": "Done", "color": "done_green", "index": 1, "is_done": True},
            {"id": 2, "label": "Stuck", "color": "stuck_red", "index": 2, "is_done": False},
            {"id": _STATUS_EMPTY_ID, "label": "", "color": "explosive", "index": 3, "is_done": False},
        ]
    },
    "dropdown": lambda: {"labels": []},
    "board_relation": lambda: {
        "boardIds": [],
        "allowMultipleItems": True,
        "allowCreateReflectionColumn": False,
    },
    "dependency": lambda: {"boardIds": []},
    "subtasks": lambda: {"boardIds": []},
    "mirror": lambda: {"relation_column": {}, "displayed_linked_columns": {}},
    "numbers": lambda: {"unit": None},
    "rating": lambda: {"max_rating": 5},
    "formula": lambda: {"formula": ""},
    "button": lambda: {"label": "Click me", "color": "#579bfc"},
}


def default_settings(column_type: str) -> dict[str, Any]:
    """Fresh settings for a new column of this type (status gets monday's default labels)."""
    factory = _DEFAULT_SETTINGS.get(column_type)
    return factory() if factory else {}
