"""Snowflake values -> monday write values, and board cells read back into the same normal form."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import ColumnSpec
from monday_snowflake.reverse.values import (
    READ_ONLY_TYPES,
    WRITABLE_TYPES,
    ConversionError,
    WriteContext,
    check_writable,
    from_board,
    to_monday,
)

STATUS_LABELS = [
    {"id": 0, "label": "Working on it"},
    {"id": 1, "label": "Done"},
    {"id": 2, "label": "Stuck"},
    {"id": 5, "label": ""},
    {"id": 7, "label": "2023"},
]
DROPDOWN_LABELS = [
    {"id": 1, "label": "Marketing"},
    {"id": 2, "label": "R&D, Europe"},
    {"id": 3, "label": "Sales"},
]
SETTINGS: dict[str, dict[str, Any]] = {
    "status": {"labels": STATUS_LABELS},
    "dropdown": {"labels": DROPDOWN_LABELS},
    "rating": {"max_rating": 5},
}
CTX = WriteContext(users_by_email={"ann@example.com": 11, "bob@example.com": 12})


def column(kind: str, **settings: Any) -> ColumnSpec:
    return ColumnSpec(
        id=f"{kind}_col", title=f"My {kind}", type=kind, settings=settings or SETTINGS.get(kind, {})
    )


def write(kind: str, value: Any, ctx: WriteContext = CTX) -> Any:
    return to_monday(column(kind), value, ctx)[0]


def cell(value: Any, text: str | None = "", **typed: Any) -> dict[str, Any]:
    return {"id": "c", "text": text, "value": None if value is None else json.dumps(value), **typed}


# ---------------------------------------------------------------------------------------------
# Accepted shapes, per type

CASES: list[tuple[str, Any, Any]] = [
    ("text", "hello", "hello"),
    ("text", 42, "42"),
    ("text", Decimal("1.50"), "1.5"),
    ("text", True, "true"),
    ("text", date(2024, 1, 2), "2024-01-02"),
    ("text", '{"a": 1}', '{"a": 1}'),  # VARIANT text is kept as written
    ("text", {"a": [1, "é"]}, '{"a":[1,"é"]}'),
    ("long_text", "Line 1\nLine 2", {"text": "Line 1\nLine 2"}),
    ("numbers", 42, "42"),
    ("numbers", 42.0, "42"),
    ("numbers", "42.000", "42"),
    ("numbers", Decimal("12345678901234567890.123456789000"), "12345678901234567890.123456789"),
    ("numbers", -0.5, "-0.5"),
    ("numbers", "-0.0", "0"),
    ("numbers", 1e20, "100000000000000000000"),
    ("numbers", " 3.140 ", "3.14"),
    ("status", "Done", {"label": "Done"}),
    ("status", "  Stuck ", {"label": "Stuck"}),
    ("status", "Brand new", {"label": "Brand new"}),  # created on write (create_labels_if_missing)
    ("status", 2023, {"index": 7}),  # numeric labels go by id: monday reads "2023" as an id
    ("status", {"label": "Done"}, {"label": "Done"}),
    ("dropdown", "Marketing, Sales", {"labels": ["Marketing", "Sales"]}),
    ("dropdown", "Sales,Marketing,Sales", {"labels": ["Marketing", "Sales"]}),
    ("dropdown", "R&D, Europe, Sales", {"labels": ["R&D, Europe", "Sales"]}),
    ("dropdown", '["Sales", "New one"]', {"labels": ["New one", "Sales"]}),
    ("dropdown", ["Sales"], {"labels": ["Sales"]}),
    ("dropdown", {"ids": [2, 1]}, {"labels": ["Marketing", "R&D, Europe"]}),
    ("dropdown", {"ids": [1], "labels": ["Marketing"]}, {"labels": ["Marketing"]}),
    ("people", 12, {"personsAndTeams": [{"id": 12, "kind": "person"}]}),
    ("people", Decimal("12"), {"personsAndTeams": [{"id": 12, "kind": "person"}]}),
    ("people", "13, 12", {"personsAndTeams": [{"id": 12, "kind": "person"}, {"id": 13, "kind": "person"}]}),
    ("people", "Ann@Example.com", {"personsAndTeams": [{"id": 11, "kind": "person"}]}),
    (
        "people",
        '["bob@example.com", 11, {"id": 3, "kind": "team"}]',
        {
            "personsAndTeams": [
                {"id": 11, "kind": "person"},
                {"id": 12, "kind": "person"},
                {"id": 3, "kind": "team"},
            ]
        },
    ),
    ("team", "7", {"team_id": 7}),
    ("tags", 5, {"tag_ids": [5]}),
    ("tags", "5, 2", {"tag_ids": [2, 5]}),
    ("tags", "[5, 2, 5]", {"tag_ids": [2, 5]}),
    ("board_relation", 3, {"item_ids": [3]}),
    ("board_relation", "3,1, 2", {"item_ids": [1, 2, 3]}),
    ("board_relation", ["3", 1], {"item_ids": [1, 3]}),
    ("dependency", "[9]", {"item_ids": [9]}),
    ("date", date(2024, 1, 2), {"date": "2024-01-02"}),
    ("date", datetime(2024, 1, 2, 10, 30, 5, 999), {"date": "2024-01-02", "time": "10:30:05"}),
    (
        "date",
        datetime(2024, 1, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))),
        {"date": "2024-01-01", "time": "23:00:00"},
    ),
    ("date", datetime(2024, 1, 2), {"date": "2024-01-02"}),  # midnight UTC counts as no time
    ("date", "2024-01-02", {"date": "2024-01-02"}),
    ("date", "2024-01-02 10:30", {"date": "2024-01-02", "time": "10:30:00"}),
    ("date", "2024-01-02T10:30:00Z", {"date": "2024-01-02", "time": "10:30:00"}),
    ("date", '{"date": "2024-01-02", "time": "10:30"}', {"date": "2024-01-02", "time": "10:30:00"}),
    ("timeline", '{"from": "2024-01-01", "to": "2024-01-05"}', {"from": "2024-01-01", "to": "2024-01-05"}),
    ("timeline", {"from": date(2024, 1, 1), "to": "2024-01-05"}, {"from": "2024-01-01", "to": "2024-01-05"}),
    ("timeline", "2024-01-01 - 2024-01-05", {"from": "2024-01-01", "to": "2024-01-05"}),
    ("timeline", [date(2024, 1, 1), date(2024, 1, 1)], {"from": "2024-01-01", "to": "2024-01-01"}),
    ("timeline", date(2024, 3, 1), {"from": "2024-03-01", "to": "2024-03-01"}),
    ("week", date(2024, 1, 3), {"week": {"startDate": "2024-01-01", "endDate": "2024-01-07"}}),
    ("week", datetime(2024, 1, 7, 23, 0), {"week": {"startDate": "2024-01-01", "endDate": "2024-01-07"}}),
    ("week", "2024-W05", {"week": {"startDate": "2024-01-29", "endDate": "2024-02-04"}}),
    (
        "week",
        {"from": "2024-01-01", "to": "2024-01-07"},
        {"week": {"startDate": "2024-01-01", "endDate": "2024-01-07"}},
    ),
    (
        "week",
        '{"week": {"startDate": "2023-12-31", "endDate": "2024-01-06"}}',
        {"week": {"startDate": "2023-12-31", "endDate": "2024-01-06"}},
    ),
    ("hour", "14:30", {"hour": 14, "minute": 30}),
    ("hour", "9:05:00", {"hour": 9, "minute": 5}),
    ("hour", time(23, 59), {"hour": 23, "minute": 59}),
    ("hour", {"hour": 8}, {"hour": 8, "minute": 0}),
    ("world_clock", "Europe/London", {"timezone": "Europe/London"}),
    ("world_clock", {"timezone": "Asia/Tokyo"}, {"timezone": "Asia/Tokyo"}),
    ("checkbox", True, {"checked": "true"}),
    ("checkbox", False, None),
    ("checkbox", 1, {"checked": "true"}),
    ("checkbox", "Yes", {"checked": "true"}),
    ("checkbox", "false", None),
    ("email", "ann@example.com", {"email": "ann@example.com", "text": "ann@example.com"}),
    ("email", "ann@example.com Ann Lee", {"email": "ann@example.com", "text": "Ann Lee"}),
    ("email", {"email": "ann@example.com", "label": "Work"}, {"email": "ann@example.com", "text": "Work"}),
    ("phone", "+12025550169 US", {"phone": "+12025550169", "countryShortName": "US"}),
    ("phone", "+1 (202) 555-0169 us", {"phone": "+12025550169", "countryShortName": "US"}),
    (
        "phone",
        {"phone": "+442071838750", "countryShortName": "GB"},
        {"phone": "+442071838750", "countryShortName": "GB"},
    ),
    ("link", "https://example.com", {"url": "https://example.com", "text": "https://example.com"}),
    ("link", "https://example.com the docs", {"url": "https://example.com", "text": "the docs"}),
    ("link", '{"url": "https://x.io", "label": "X"}', {"url": "https://x.io", "text": "X"}),
    ("location", "29.9772962 31.1324955 Giza", {"lat": "29.9772962", "lng": "31.1324955", "address": "Giza"}),
    ("location", "29.97, 31.13", {"lat": "29.97", "lng": "31.13", "address": "unknown"}),
    (
        "location",
        {"lat": 29.970, "lng": "31.13", "address": " Giza "},
        {"lat": "29.97", "lng": "31.13", "address": "Giza"},
    ),
    ("location", [-33.85, 151.21], {"lat": "-33.85", "lng": "151.21", "address": "unknown"}),
    ("country", "us", {"countryCode": "US", "countryName": "United States"}),
    ("country", "Côte d'Ivoire", {"countryCode": "CI", "countryName": "Côte d'Ivoire"}),
    (
        "country",
        '{"countryCode": "FR", "countryName": "france"}',
        {"countryCode": "FR", "countryName": "France"},
    ),
    ("country", {"code": "JP", "name": "Japan"}, {"countryCode": "JP", "countryName": "Japan"}),
    ("rating", 4, {"rating": 4}),
    ("rating", "4", {"rating": 4}),
    ("rating", Decimal("4.000"), {"rating": 4}),
    ("rating", 0, None),
    ("color_picker", "#00c875", {"color": {"hex": "#00C875"}}),
    ("color_picker", "ff5ac4", {"color": {"hex": "#FF5AC4"}}),
]


@pytest.mark.parametrize(("kind", "value", "expected"), CASES)
def test_snowflake_values_become_monday_write_values(kind: str, value: Any, expected: Any) -> None:
    assert write(kind, value) == expected


@pytest.mark.parametrize("kind", sorted(WRITABLE_TYPES))
@pytest.mark.parametrize("empty", [None, "", "   ", [], {}, "[]", "null"])
def test_empty_values_clear_the_cell(kind: str, empty: Any) -> None:
    if kind in ("text", "long_text") and empty in ("[]", "null"):
        return  # text columns keep such text as written
    assert to_monday(column(kind), empty, CTX) == (None, [])


def test_written_values_are_plain_json() -> None:
    for kind, value, _ in CASES:
        result = write(kind, value)
        assert json.loads(json.dumps(result)) == result


# ---------------------------------------------------------------------------------------------
# Errors


ERRORS: list[tuple[str, Any, str]] = [
    ("numbers", "abc", "not a number"),
    ("numbers", "1,234", "not a number"),
    ("numbers", float("nan"), "finite"),
    ("numbers", "1e400", "finite"),
    ("numbers", True, "boolean"),
    ("status", "42", "numeric status label"),
    ("status", ["Done", "Stuck"], "one label"),
    ("dropdown", {"ids": [99]}, "99"),
    ("people", "nobody@example.com", "nobody@example.com"),
    ("people", "Ann", "not an id"),
    ("people", [{"id": 3, "kind": "agent"}], "agent"),
    ("tags", "urgent", "tag id"),
    ("board_relation", "abc", "not an id"),
    ("board_relation", -4, "not an id"),
    ("date", "2024-13-01", "not a date"),
    ("date", "tomorrow", "not a date"),
    ("date", 20240102, "not a date"),
    ("timeline", {"from": "2024-02-01", "to": "2024-01-01"}, "ends before"),
    ("timeline", {"start_day": "2024-02-01"}, '"from"'),
    ("week", {"startDate": "2024-01-02", "endDate": "2024-01-08"}, "Monday or a Sunday"),
    ("week", {"startDate": "2024-01-01", "endDate": "2024-01-14"}, "seven days"),
    ("hour", "25:00", "time of day"),
    ("hour", "2pm", "time of day"),
    ("world_clock", "Mars/Olympus", "time zone"),
    ("checkbox", "maybe", "yes/no"),
    ("checkbox", 2, "yes/no"),
    ("email", "not-an-email", "email address"),
    ("phone", "call me", "phone number"),
    ("phone", "+1202", "5 to 16 digits"),
    ("phone", "+12025550169", "country"),
    ("phone", "+12025550169 ZZ", "country"),
    ("location", {"lat": 95, "lng": 10}, "latitude"),
    ("location", {"lat": 90, "lng": 10}, "latitude"),
    ("location", {"lat": 10, "lng": 181}, "longitude"),
    ("location", {"address": "Giza"}, "lat and lng"),
    ("location", "somewhere nice", "lat"),
    ("country", "ZZ", "ISO-2"),
    ("country", "Atlantis", "country name"),
    ("rating", 6, "0 to 5"),
    ("rating", 2.5, "whole number"),
    ("color_picker", "green", "colour"),
]


@pytest.mark.parametrize(("kind", "value", "problem"), ERRORS)
def test_values_that_cannot_convert_raise_conversion_error(kind: str, value: Any, problem: str) -> None:
    with pytest.raises(ConversionError) as caught:
        to_monday(column(kind), value, CTX)
    message = str(caught.value)
    assert problem in message
    assert f'"My {kind}"' in message and f"{kind}_col" in message
    assert caught.value.column_id == f"{kind}_col"


def test_conversion_error_shows_at_most_sixty_characters_of_the_value() -> None:
    with pytest.raises(ConversionError) as caught:
        to_monday(column("numbers"), "z" * 500, CTX)
    assert "z" * 50 in str(caught.value)
    assert "z" * 70 not in str(caught.value)


def test_unknown_labels_are_not_errors_since_monday_creates_them() -> None:
    assert write("status", "Never seen") == {"label": "Never seen"}
    assert write("dropdown", "Never seen") == {"labels": ["Never seen"]}


def test_phone_without_a_country_uses_the_context_default() -> None:
    ctx = WriteContext(default_phone_country="de")
    assert write("phone", "+493012345678", ctx) == {"phone": "+493012345678", "countryShortName": "DE"}


def test_week_from_a_date_follows_the_accounts_first_day() -> None:
    ctx = WriteContext(week_starts_on_sunday=True)
    assert write("week", date(2024, 1, 3), ctx) == {
        "week": {"startDate": "2023-12-31", "endDate": "2024-01-06"}
    }
    assert write("week", date(2023, 12, 31), ctx) == {
        "week": {"startDate": "2023-12-31", "endDate": "2024-01-06"}
    }


# ---------------------------------------------------------------------------------------------
# Truncation warns rather than fails


def test_long_text_is_cut_to_monday_limit_with_a_warning() -> None:
    value, warnings = to_monday(column("long_text"), "é" * 2500, CTX)
    assert value == {"text": "é" * 2000}
    assert len(warnings) == 1 and "2000" in warnings[0] and "long_text_col" in warnings[0]


def test_new_status_label_is_cut_to_thirty_characters_with_a_warning() -> None:
    value, warnings = to_monday(column("status"), "A label that is much too long for monday", CTX)
    assert value == {"label": "A label that is much too long"}
    assert len(warnings) == 1


def test_hour_seconds_are_dropped_with_a_warning() -> None:
    value, warnings = to_monday(column("hour"), time(9, 5, 7), CTX)
    assert value == {"hour": 9, "minute": 5}
    assert warnings


def test_plain_values_carry_no_warnings() -> None:
    assert to_monday(column("text"), "x" * 5000, CTX) == ("x" * 5000, [])


# ---------------------------------------------------------------------------------------------
# Reading the board: the same normal form, with the keys monday adds ignored


BOARD_CELLS: list[tuple[str, dict[str, Any], Any]] = [
    ("text", cell("hello", "hello"), "hello"),
    ("long_text", cell({"text": "hi", "changed_at": "2026-01-01T00:00:00.000Z"}, "hi"), {"text": "hi"}),
    ("numbers", cell("42.50", "42.50"), "42.5"),
    ("numbers", cell(42, "42"), "42"),
    ("status", cell({"index": 1, "post_id": None, "changed_at": "x"}, "Done"), {"label": "Done"}),
    ("status", cell({"index": 2}, None), {"label": "Stuck"}),
    ("status", cell({"index": 7}, "2023"), {"index": 7}),
    ("status", cell(None, None), None),
    (
        "dropdown",
        cell({"ids": [3, 1], "changed_at": "x"}, "Sales, Marketing"),
        {"labels": ["Marketing", "Sales"]},
    ),
    ("dropdown", cell({"ids": [2, 9]}, "R&D, Europe, Brand new"), {"labels": ["Brand new", "R&D, Europe"]}),
    (
        "people",
        cell(
            {"changed_at": "x", "personsAndTeams": [{"id": 3, "kind": "team"}, {"id": 12, "kind": "person"}]}
        ),
        {"personsAndTeams": [{"id": 12, "kind": "person"}, {"id": 3, "kind": "team"}]},
    ),
    ("team", cell({"team_id": 7, "changed_at": "x"}), {"team_id": 7}),
    ("tags", cell({"tag_ids": [5, 2]}), {"tag_ids": [2, 5]}),
    ("board_relation", cell(None, None, linked_item_ids=["30", "10"]), {"item_ids": [10, 30]}),
    ("board_relation", cell(None, None, linked_item_ids=[]), None),
    ("dependency", cell({"linkedPulseIds": [{"linkedPulseId": 4}]}, None), {"item_ids": [4]}),
    (
        "date",
        cell({"date": "2024-01-02", "time": "18:00", "icon": None, "changed_at": "x"}),
        {"date": "2024-01-02", "time": "18:00:00"},
    ),
    ("date", cell({"date": "2024-01-02", "time": None}), {"date": "2024-01-02"}),
    ("date", cell({"date": "2024-01-02", "time": "00:00:00"}), {"date": "2024-01-02"}),
    ("date", cell({"date": "", "changed_at": "x"}), None),
    (
        "timeline",
        cell({"from": "2024-01-01", "to": "2024-01-05", "visualization_type": "timeline", "changed_at": "x"}),
        {"from": "2024-01-01", "to": "2024-01-05"},
    ),
    (
        "week",
        cell({"week": {"startDate": "2024-01-01", "endDate": "2024-01-07"}, "changed_at": "x"}),
        {"week": {"startDate": "2024-01-01", "endDate": "2024-01-07"}},
    ),
    ("hour", cell({"hour": 14, "minute": 30, "changed_at": "x"}), {"hour": 14, "minute": 30}),
    ("world_clock", cell({"timezone": "Asia/Tokyo", "changed_at": "x"}), {"timezone": "Asia/Tokyo"}),
    ("checkbox", cell({"checked": "true", "changed_at": "x"}), {"checked": "true"}),
    ("checkbox", cell({"checked": "false"}), None),
    ("checkbox", cell(None), None),
    (
        "email",
        cell({"email": "a@b.co", "text": "", "changed_at": "x"}),
        {"email": "a@b.co", "text": "a@b.co"},
    ),
    (
        "phone",
        cell({"phone": "+1 202-555-0169", "countryShortName": "US", "changed_at": "x"}),
        {"phone": "+12025550169", "countryShortName": "US"},
    ),
    (
        "link",
        cell({"url": "https://x.io", "text": "X", "changed_at": "x"}),
        {"url": "https://x.io", "text": "X"},
    ),
    (
        "location",
        cell(
            {
                "lat": "29.9700",
                "lng": "31.13",
                "address": "Giza",
                "placeId": "p1",
                "city": {"long_name": "Giza"},
            }
        ),
        {"lat": "29.97", "lng": "31.13", "address": "Giza"},
    ),
    (
        "country",
        cell({"countryCode": "US", "countryName": "United States", "changed_at": "x"}),
        {"countryCode": "US", "countryName": "United States"},
    ),
    ("rating", cell({"rating": 3, "changed_at": "x"}), {"rating": 3}),
    ("color_picker", cell({"color": {"hex": "#00c875"}, "changed_at": "x"}), {"color": {"hex": "#00C875"}}),
]


@pytest.mark.parametrize(("kind", "board_cell", "expected"), BOARD_CELLS)
def test_board_cells_read_back_in_normal_form(kind: str, board_cell: dict[str, Any], expected: Any) -> None:
    assert from_board(column(kind), board_cell) == expected


@pytest.mark.parametrize("kind", sorted(WRITABLE_TYPES))
def test_a_missing_or_empty_cell_reads_as_none(kind: str) -> None:
    assert from_board(column(kind), None) is None
    assert from_board(column(kind), cell(None, "" if kind != "status" else None)) is None


def test_a_cell_in_an_unknown_shape_never_equals_a_write_value() -> None:
    odd = {"id": "c", "text": "?", "value": '{"surprise": true}'}
    read = from_board(column("timeline"), odd)
    assert read == {"unreadable": '{"surprise": true}'}
    assert read != write("timeline", "2024-01-01")


# ---------------------------------------------------------------------------------------------
# Equality in the normal form: equal things are equal, different things are not


@pytest.mark.parametrize(
    ("kind", "snowflake", "board"),
    [
        ("numbers", 42, cell("42.000", "42.000")),
        ("numbers", Decimal("42.000000000"), cell("42", "42")),
        ("numbers", "0.10", cell("0.1", "0.1")),
        ("checkbox", False, cell(None)),
        ("checkbox", None, cell({"checked": "false"})),
        ("text", "", cell(None)),
        ("dropdown", "Sales, Marketing", cell({"ids": [1, 3]}, "Marketing, Sales")),
        ("dropdown", [], cell({"ids": []}, None)),
        (
            "people",
            "bob@example.com, 11",
            cell({"personsAndTeams": [{"id": 12, "kind": "person"}, {"id": 11, "kind": "person"}]}),
        ),
        ("tags", "[2, 5]", cell({"tag_ids": [5, 2]})),
        ("board_relation", "2,1", cell(None, None, linked_item_ids=["1", "2"])),
        ("board_relation", [], cell(None, None, linked_item_ids=[])),
        ("status", "Done", cell({"index": 1}, "Done")),
        (
            "date",
            datetime(2024, 1, 2, 18, 0, tzinfo=UTC),
            cell({"date": "2024-01-02", "time": "18:00:00", "icon": None}),
        ),
        ("date", datetime(2024, 1, 2), cell({"date": "2024-01-02"})),
        (
            "location",
            {"lat": 29.97, "lng": 31.13},
            cell({"lat": "29.970", "lng": "31.130", "address": "unknown"}),
        ),
        ("email", "a@b.co", cell({"email": "a@b.co", "text": "a@b.co"})),
        ("rating", 0, cell(None)),
        ("country", "FR", cell({"countryCode": "FR", "countryName": "France"})),
        ("phone", "+12025550169 US", cell({"phone": "+1 202 555 0169", "countryShortName": "US"})),
    ],
)
def test_equal_values_compare_equal(kind: str, snowflake: Any, board: dict[str, Any]) -> None:
    assert write(kind, snowflake) == from_board(column(kind), board)


@pytest.mark.parametrize(
    ("kind", "snowflake", "board"),
    [
        ("numbers", 42.5, cell("42", "42")),
        ("text", "Hello", cell("hello", "hello")),
        ("status", "Stuck", cell({"index": 1}, "Done")),
        ("dropdown", "Sales", cell({"ids": [1, 3]}, "Marketing, Sales")),
        ("people", 11, cell({"personsAndTeams": [{"id": 11, "kind": "team"}]})),
        ("checkbox", True, cell(None)),
        ("date", datetime(2024, 1, 2, 18, 0), cell({"date": "2024-01-02"})),
        ("date", date(2024, 1, 3), cell({"date": "2024-01-02"})),
        ("email", "a@b.co Work", cell({"email": "a@b.co", "text": "a@b.co"})),
        ("board_relation", "1", cell(None, None, linked_item_ids=["1", "2"])),
        ("location", "29.97 31.13 Giza", cell({"lat": "29.97", "lng": "31.13", "address": "unknown"})),
    ],
)
def test_different_values_compare_unequal(kind: str, snowflake: Any, board: dict[str, Any]) -> None:
    assert write(kind, snowflake) != from_board(column(kind), board)


@pytest.mark.parametrize(("kind", "value", "expected"), CASES)
def test_normal_form_is_stable_when_converted_again(kind: str, value: Any, expected: Any) -> None:
    """Converting a write value again gives it back: the normal form is a fixed point."""
    if expected is not None:
        assert write(kind, expected) == expected


# ---------------------------------------------------------------------------------------------
# Which columns can be written


@pytest.mark.parametrize("kind", sorted(READ_ONLY_TYPES))
def test_read_only_types_are_refused_as_configuration_errors(kind: str) -> None:
    with pytest.raises(ConfigurationError, match=f"My {kind}"):
        check_writable(column(kind))
    with pytest.raises(ConfigurationError):
        to_monday(column(kind), "x", CTX)


@pytest.mark.parametrize("legacy", ["pulse-log", "lookup", "votes", "duration", "files"])
def test_legacy_type_names_of_read_only_columns_are_refused(legacy: str) -> None:
    with pytest.raises(ConfigurationError):
        check_writable(ColumnSpec(id="x", title="Old", type=legacy))


@pytest.mark.parametrize("kind", ["name", "something_new"])
def test_the_item_name_and_unknown_types_are_not_written_as_column_values(kind: str) -> None:
    with pytest.raises(ConfigurationError, match="x_col"):
        check_writable(ColumnSpec(id="x_col", title="X", type=kind))


@pytest.mark.parametrize("kind", sorted(WRITABLE_TYPES))
def test_writable_types_pass_the_check(kind: str) -> None:
    check_writable(column(kind))


def test_legacy_type_names_of_writable_columns_convert() -> None:
    assert to_monday(ColumnSpec(id="s", title="S", type="color"), "Done", CTX)[0] == {"label": "Done"}
    assert to_monday(ColumnSpec(id="p", title="P", type="multiple-person"), 12, CTX)[0] == {
        "personsAndTeams": [{"id": 12, "kind": "person"}]
    }


def test_labels_in_the_older_settings_map_and_odd_entries_are_understood() -> None:
    old_style = ColumnSpec(
        id="s", title="S", type="status", settings={"labels": {"0": "Working", "1": "Done"}}
    )
    assert from_board(old_style, cell({"index": 1}, None)) == {"label": "Done"}
    odd = ColumnSpec(
        id="d",
        title="D",
        type="dropdown",
        settings={"labels": [{"id": "x"}, "junk", {"id": 2, "label": "B"}]},
    )
    assert to_monday(odd, {"ids": [2]}, CTX)[0] == {"labels": ["B"]}
