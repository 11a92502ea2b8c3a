"""Column codecs on the column value shapes monday sends (../shared/monday/API-FACTS.md section 5)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import graphql
import pytest

from monday_snowflake.model.board import ColumnSpec
from monday_snowflake.monday.codecs import (
    COLUMN_VALUE_SELECTION,
    ColumnCodec,
    RowDecoder,
    codec_for,
    decode_item_metadata,
    normalise_type,
)

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "src" / "monday_sandbox" / "schema-2026-10.graphql"


def cv(column_id: str, text: str | None, value: Any = None, **typed: Any) -> dict[str, Any]:
    """A ColumnValue as the API returns it: `value` is a JSON string (pass a dict to have it encoded)."""
    raw = value if value is None or isinstance(value, str) else json.dumps(value)
    return {"id": column_id, "type": "x", "text": text, "value": raw, **typed}


def codec(column_type: str, settings: dict[str, Any] | None = None, **options: Any) -> ColumnCodec:
    found = codec_for(ColumnSpec("c", "C", column_type, settings or {}), **options)
    assert found is not None
    return found


def decode(column_type: str, text: str | None, value: Any = None, **typed: Any) -> Any:
    warnings: Counter[str] = Counter()
    result = codec(column_type).decode(cv("c", text, value, **typed), warnings)
    assert not warnings, f"unexpected warning decoding {column_type}"
    return result


def decode_with_warning(column_type: str, text: str | None, value: Any = None, **kw: Any) -> Any:
    warnings: Counter[str] = Counter()
    result = codec(column_type, kw.pop("settings", None)).decode(cv("c", text, value, **kw), warnings)
    assert warnings == Counter({"c": 1})
    return result


# ------------------------------------------------------------------------------------ selection


def test_column_value_selection_validates_against_the_2026_10_schema() -> None:
    schema = graphql.build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    query = (
        "query($b:[ID!]) { boards(ids:$b){ items_page { items { column_values { "
        + COLUMN_VALUE_SELECTION
        + " } } } } }"
    )
    assert graphql.validate(schema, graphql.parse(query)) == []
    assert graphql.validate(schema, graphql.parse(query.replace("linked_item_ids", "linked_ids", 1))) != []


def test_selection_asks_for_typed_fields_only_where_value_and_text_are_null() -> None:
    for fragment in ("BoardRelationValue", "DependencyValue", "MirrorValue", "FormulaValue"):
        assert f"... on {fragment}" in COLUMN_VALUE_SELECTION
    for lean in ("StatusValue", "DropdownValue", "PeopleValue", "DateValue", "linked_items", "FileValue"):
        assert lean not in COLUMN_VALUE_SELECTION


# ------------------------------------------------------------------------------------ type names


@pytest.mark.parametrize(
    ("legacy", "current"),
    [
        ("color", "status"),
        ("multiple-person", "people"),
        ("boolean", "checkbox"),
        ("numeric", "numbers"),
        ("numbers", "numbers"),
        ("timerange", "timeline"),
        ("long-text", "long_text"),
        ("pulse-log", "creation_log"),
        ("pulse-updated", "last_updated"),
        ("pulse-id", "item_id"),
        ("tag", "tags"),
        ("board-relation", "board_relation"),
        ("lookup", "mirror"),
        ("duration", "time_tracking"),
        ("timezone", "world_clock"),
        ("autonumber", "auto_number"),
        ("subtasks", "subtasks"),
        ("date", "date"),
        ("text", "text"),
        ("Color-Picker", "color_picker"),
    ],
)
def test_normalise_type_maps_legacy_names(legacy: str, current: str) -> None:
    assert normalise_type(legacy) == current


def test_legacy_type_names_get_the_current_codec() -> None:
    assert codec("color").sql_type == "VARCHAR"
    assert codec("multiple-person").sql_type == "VARIANT"
    assert codec("boolean").sql_type == "BOOLEAN"
    assert codec("numeric").sql_type == "NUMBER(38,9)"
    assert codec("pulse-log").sql_type == "TIMESTAMP_NTZ"
    status = codec("color").decode(cv("c", "Done", {"index": 1}))
    assert status == "Done"
    assert codec("boolean").decode(cv("c", "v", {"checked": "true"})) is True


# ------------------------------------------------------------------------------------ text-like


def test_text_keeps_the_text_and_empties_become_null() -> None:
    assert decode("text", "hello", '"hello"') == "hello"
    assert decode("text", "", None) is None
    assert decode("text", None, None) is None
    assert decode("text", None, '"from value"') == "from value"
    assert codec("text").sql_type == "VARCHAR"


def test_long_text_reads_the_text() -> None:
    assert (
        decode("long_text", "line 1\nline 2", {"text": "line 1\nline 2", "changed_at": "x"})
        == "line 1\nline 2"
    )
    assert decode("long_text", None, {"text": "only in value"}) == "only in value"
    assert decode("long_text", "", None) is None


def test_email_keeps_the_address_not_the_label() -> None:
    assert decode("email", "Label", {"email": "a@b.com", "text": "Label"}) == "a@b.com"
    assert decode("email", "", None) is None


def test_phone_keeps_the_number() -> None:
    assert (
        decode("phone", "+12025550169", {"phone": "+12025550169", "countryShortName": "US"}) == "+12025550169"
    )


def test_email_and_link_keep_their_labels_in_a_variant_when_asked() -> None:
    email = codec("email", keep_labels=True)
    link = codec("link", keep_labels=True)
    assert email.sql_type == link.sql_type == "VARIANT"
    email_value = json.dumps({"email": "a@b.com", "text": "Sales, EMEA"})
    assert email.decode(cv("c", "Sales, EMEA", email_value)) == {"email": "a@b.com", "label": "Sales, EMEA"}
    link_value = json.dumps({"url": "https://x.example", "text": ""})
    assert link.decode(cv("c", "https://x.example", link_value)) == {
        "url": "https://x.example",
        "label": None,
    }
    assert email.decode(cv("c", "", None)) is None
    assert codec("text", keep_labels=True).sql_type == "VARCHAR"


def test_link_keeps_the_url() -> None:
    assert decode("link", "go - https://monday.com", {"url": "https://monday.com", "text": "go"}) == (
        "https://monday.com"
    )
    assert decode("link", "", {}) is None


# ------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("42", '"42"', Decimal("42")),
        ("-3.5", '"-3.5"', Decimal("-3.5")),
        ("12345678901234.5678", '"12345678901234.5678"', Decimal("12345678901234.5678")),
        ("", None, None),
        ("", '""', None),
        (None, None, None),
        ("7", "7", Decimal("7")),  # a bare JSON number
        ("0.1", "0.1", Decimal("0.1")),  # a bare JSON float keeps its shortest decimal form
        ("1e5", '"1e5"', Decimal("100000")),
    ],
)
def test_numbers_decode_exactly(text: str | None, value: str | None, expected: Decimal | None) -> None:
    result = decode("numbers", text, value)
    assert result == expected
    if expected is not None:
        assert isinstance(result, Decimal)
        assert str(result) == str(expected)


def test_numbers_round_past_the_scale_half_away_from_zero() -> None:
    assert codec("numbers").sql_type == "NUMBER(38,9)"
    assert decode("numbers", None, '"1.0000000005"') == Decimal("1.000000001")
    assert decode("numbers", None, '"-1.0000000005"') == Decimal("-1.000000001")
    assert decode("numbers", None, '"0.12345678949"') == Decimal("0.123456789")


def test_numbers_beyond_the_range_become_null_with_a_warning() -> None:
    # NUMBER(38,9) holds 29 integer digits
    assert decode_with_warning("numbers", None, '"' + "1" + "0" * 29 + '"') is None
    assert decode_with_warning("numbers", None, '"-' + "9" * 30 + '.5"') is None
    assert decode("numbers", None, '"' + "9" * 29 + '.123456789"') == Decimal("9" * 29 + ".123456789")
    assert decode("numbers", None, '"-' + "9" * 29 + '"') == Decimal("-" + "9" * 29)
    assert decode_with_warning("numbers", "abc", '"abc"') is None
    assert decode_with_warning("numbers", "NaN", '"NaN"') is None


def test_progress_reads_a_percentage() -> None:
    assert decode("progress", "50%", None) == Decimal("50")


@pytest.mark.parametrize(
    ("column_type", "text", "value", "expected"),
    [
        ("rating", "4", {"rating": 4}, 4),
        ("rating", "", None, None),
        ("item_id", "1234567890", None, 1234567890),
        ("item_id", None, {"item_id": "55"}, 55),
        ("auto_number", "17", None, 17),
        ("vote", "2", {"votersIds": [1, 2], "changed_at": "x"}, 2),
        ("vote", "0", None, 0),
    ],
)
def test_integer_columns(column_type: str, text: str | None, value: Any, expected: int | None) -> None:
    assert codec(column_type).sql_type == "NUMBER(38,0)"
    assert decode(column_type, text, value) == expected


# ------------------------------------------------------------------------------------ labels

STATUS_SETTINGS = {"labels": [{"id": 1, "label": "Done", "index": 0}, {"id": 0, "label": "Working on it"}]}
DROPDOWN_SETTINGS = {"labels": [{"id": 1, "label": "A"}, {"id": 2, "label": "C"}, {"id": 3, "label": "B"}]}


def test_status_is_the_label() -> None:
    assert decode("status", "Done", {"index": 1}) == "Done"
    assert decode("status", None, None) is None
    assert codec("status").sql_type == "VARCHAR"


def test_status_label_from_settings_when_text_is_missing() -> None:
    assert codec("status", STATUS_SETTINGS).decode(cv("c", None, {"index": 1})) == "Done"
    assert codec("status", {"labels": {"0": "Working on it", "1": "Done"}}).decode(
        cv("c", None, '{"index":0}')
    ) == ("Working on it")


def test_status_with_an_unknown_index_and_no_text_keeps_the_raw_json() -> None:
    assert decode_with_warning("status", None, '{"index":9}') == '{"index":9}'


def test_dropdown_is_the_comma_joined_labels() -> None:
    assert decode("dropdown", "A, B", {"ids": [1, 3]}) == "A, B"
    assert decode("dropdown", None, None) is None
    assert codec("dropdown", DROPDOWN_SETTINGS).decode(cv("c", None, {"ids": [1, 3]})) == "A, B"


def test_dropdown_keeps_ids_when_asked() -> None:
    keep = codec("dropdown", DROPDOWN_SETTINGS, keep_dropdown_ids=True)
    assert keep.sql_type == "VARIANT"
    assert keep.decode(cv("c", "A, B", {"ids": [1, 3]})) == {"ids": [1, 3], "labels": ["A", "B"]}
    assert keep.decode(cv("c", None, None)) is None
    no_settings = codec("dropdown", keep_dropdown_ids=True)
    assert no_settings.decode(cv("c", "A, B", {"ids": [1, 3]})) == {"ids": [1, 3], "labels": ["A", "B"]}


# ------------------------------------------------------------------------------------ dates


def test_date_without_time_is_a_date() -> None:
    assert codec("date").sql_type == "DATE"
    assert decode("date", "2021-10-11", {"date": "2021-10-11", "icon": None, "time": None}) == date(
        2021, 10, 11
    )
    assert decode("date", "", None) is None
    assert decode("date", "", {"date": None, "changed_at": "2024-01-01T00:00:00Z"}) is None


def test_date_column_with_time_setting_is_a_utc_timestamp() -> None:
    with_time = codec("date", {"include_time": True})
    assert with_time.sql_type == "TIMESTAMP_NTZ"
    # `time` in the raw value is UTC; `text` is in the caller's time zone and must not be used
    value = cv("c", "2021-10-11 21:00", {"date": "2021-10-11", "time": "18:00:00"})
    assert with_time.decode(value) == datetime(2021, 10, 11, 18, 0, 0)
    assert with_time.decode(cv("c", "2021-10-11", {"date": "2021-10-11"})) == datetime(2021, 10, 11)


def test_date_value_carrying_a_time_keeps_it_as_a_utc_datetime() -> None:
    # the column's SQL type is settled by the sync once it has seen the values; the time is never lost
    value = decode("date", "2021-10-11 21:00", {"date": "2021-10-11", "time": "18:00:00"})
    assert value == datetime(2021, 10, 11, 18, 0, 0)


def test_creation_log_and_last_updated_are_naive_utc_timestamps() -> None:
    assert codec("creation_log").sql_type == "TIMESTAMP_NTZ"
    assert decode(
        "creation_log", "2024-01-02 10:00:00 UTC", None, created_at="2024-01-02T10:00:00Z"
    ) == datetime(2024, 1, 2, 10)
    assert decode("creation_log", "2024-01-02 10:00:00 UTC", None) == datetime(2024, 1, 2, 10)
    assert decode("last_updated", "", None, updated_at="2024-01-02T12:30:00.123+02:00") == datetime(
        2024, 1, 2, 10, 30, 0, 123000
    )
    assert decode("last_updated", None, {"updated_at": "2024-01-02T10:00:00Z"}) == datetime(2024, 1, 2, 10)
    assert decode("last_updated", "", None) is None


def test_timeline_and_week_are_from_to_objects() -> None:
    assert decode("timeline", "2019-06-03 - 2019-06-07", {"from": "2019-06-03", "to": "2019-06-07"}) == {
        "from": "2019-06-03",
        "to": "2019-06-07",
    }
    week = {"week": {"startDate": "2024-01-01", "endDate": "2024-01-07"}}
    assert decode("week", "2024-01-01 - 2024-01-07", week) == {"from": "2024-01-01", "to": "2024-01-07"}
    assert decode("timeline", "", None) is None
    assert codec("week").sql_type == "VARIANT"


# ------------------------------------------------------------------------------------ checkbox


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"checked": "true"}, True),
        ({"checked": "true", "changed_at": "2024-01-01T00:00:00Z"}, True),
        ({"checked": True}, True),
        ({"checked": "false"}, False),
        (None, False),
    ],
)
def test_checkbox_is_boolean(value: Any, expected: bool) -> None:
    assert codec("checkbox").sql_type == "BOOLEAN"
    assert decode("checkbox", "v" if expected else "", value) is expected


def test_checkbox_in_an_unknown_shape_is_null_with_a_warning() -> None:
    assert decode_with_warning("checkbox", "v", {"checked": "maybe"}) is None


# ------------------------------------------------------------------------------------ VARIANT columns


def test_people_are_ids_and_kinds() -> None:
    value = {
        "changed_at": "2026-03-21T09:03:56.017Z",
        "personsAndTeams": [{"id": 48202303, "kind": "person"}, {"id": 5, "kind": "team"}],
    }
    assert decode("people", "Ann, Team", value) == [
        {"id": 48202303, "kind": "person"},
        {"id": 5, "kind": "team"},
    ]
    assert decode("people", "", {"personsAndTeams": []}) is None
    assert decode("people", "", None) is None
    assert decode("person", "Ann", {"id": 7}) == [{"id": 7, "kind": "person"}]


def test_board_relation_reads_the_typed_ids_because_value_is_null() -> None:
    assert decode("board_relation", None, None, linked_item_ids=["11", "12"]) == [11, 12]
    assert decode("board_relation", None, None, linked_item_ids=[]) is None
    old = {"linkedPulseIds": [{"linkedPulseId": 123}, {"linkedPulseId": 124}]}
    assert decode("board_relation", None, old) == [123, 124]


def test_dependency_reads_the_typed_ids() -> None:
    assert decode("dependency", None, None, linked_item_ids=["99"], display_value="Task") == [99]


def test_subtasks_are_subitem_ids() -> None:
    value = {"linkedPulseIds": [{"linkedPulseId": 5}, {"linkedPulseId": 6}], "changed_at": "x"}
    assert decode("subtasks", "a, b", value) == [5, 6]


def test_mirror_is_the_display_value() -> None:
    assert decode("mirror", None, None, display_value="Done, Stuck") == "Done, Stuck"
    assert decode("mirror", None, None, display_value="") is None
    assert codec("mirror").sql_type == "VARIANT"


def test_formula_is_the_display_value_as_varchar() -> None:
    assert codec("formula").sql_type == "VARCHAR"
    assert decode("formula", None, None, display_value="42.5") == "42.5"


def test_tags_are_ids() -> None:
    assert decode("tags", "urgent, q1", {"tag_ids": [295026, 295064]}) == [295026, 295064]
    assert decode("tags", "", None) is None


def test_location_keeps_coordinates_as_numbers() -> None:
    value = {"lat": "29.97", "lng": "31.13", "address": "Giza", "changed_at": "x"}
    assert decode("location", "Giza", value) == {"lat": 29.97, "lng": 31.13, "address": "Giza"}
    assert decode("location", "", None) is None


def test_time_tracking() -> None:
    value = {"running": "false", "duration": 3600, "startDate": 1700000000, "changed_at": "x"}
    assert decode("time_tracking", "01:00:00", value) == {
        "duration_seconds": 3600,
        "running": False,
        "started_at": "2023-11-14T22:13:20Z",
    }
    running = decode("time_tracking", "00:00:05", {"running": "true", "startDate": 1700000000})
    assert running == {"duration_seconds": 0, "running": True, "started_at": "2023-11-14T22:13:20Z"}


def test_file_lists_name_and_url() -> None:
    value = {
        "files": [
            {"name": "a.pdf", "assetId": 123, "isImage": "false", "fileType": "ASSET"},
            {"name": "Doc", "fileType": "GOOGLE_DRIVE", "linkToFile": "https://drive/x"},
        ]
    }
    text = "https://acme.monday.com/protected_static/1/resources/123/a.pdf, https://drive/x"
    assert decode("file", text, value) == [
        {
            "name": "a.pdf",
            "url": "https://acme.monday.com/protected_static/1/resources/123/a.pdf",
            "asset_id": 123,
        },
        {"name": "Doc", "url": "https://drive/x", "asset_id": None},
    ]
    assert decode("file", "", None) is None
    assert decode("file", "", {"files": []}) is None


def test_country_hour_world_clock_color() -> None:
    assert decode("country", "United States", {"countryCode": "US", "countryName": "United States"}) == "US"
    assert decode("hour", "14:30", {"hour": 14, "minute": 30}) == "14:30"
    assert decode("hour", "09:05", {"hour": 9, "minute": 5, "changed_at": "x"}) == "09:05"
    assert decode("world_clock", "Europe/London", {"timezone": "Europe/London"}) == "Europe/London"
    assert decode("color_picker", "#ff0000", {"color": {"hex": "#ff0000"}}) == "#ff0000"
    assert decode("color_picker", None, {"color": {"hex": "#00ff00"}}) == "#00ff00"
    assert decode_with_warning("hour", "25:00", {"hour": 25, "minute": 0}) == "25:00"


def test_button_is_skipped_and_unknown_types_keep_the_raw_value() -> None:
    assert codec_for(ColumnSpec("b", "Button", "button")) is None
    assert codec("doc").sql_type == "VARIANT"
    assert decode("doc", "x", {"files": [{"objectId": 1}]}) == {"files": [{"objectId": 1}]}
    assert decode("some_future_type", "shown", None) == "shown"


# ------------------------------------------------------------------------------------ unexpected shapes


@pytest.mark.parametrize(
    ("column_type", "text", "value", "fallback"),
    [
        ("email", "weird", '["a@b.com"]', "weird"),  # VARCHAR: the raw text
        ("email", None, '{"mail":"x"}', '{"mail":"x"}'),  # VARCHAR without text: the raw value string
        ("people", "Ann", '{"who":[1]}', {"who": [1]}),  # VARIANT: the raw parsed JSON
        ("tags", "x", "{not json", "{not json"),  # VARIANT, unparsable: the raw string
        ("date", "soon", '{"date":"not-a-date"}', None),  # typed: NULL
        ("date", "2024-01-01", None, None),  # a text but no value: NULL, not silently empty
        ("numbers", "12,5", '"12,5"', None),
        ("timeline", "x", '{"from":"2019-13-45","to":null}', {"from": "2019-13-45", "to": None}),
        ("creation_log", "yesterday", None, None),
        ("rating", "x", "[4]", None),
        ("board_relation", None, '{"something":1}', {"something": 1}),
    ],
)
def test_unexpected_shapes_never_raise_and_count_a_warning(
    column_type: str, text: str | None, value: str | None, fallback: Any
) -> None:
    assert decode_with_warning(column_type, text, value) == fallback


def test_decode_without_a_counter_still_never_raises() -> None:
    assert codec("people").decode(cv("c", None, "[1, 2]")) == [1, 2]
    assert codec("numbers").decode(cv("c", None, '{"n": true}')) is None


# ------------------------------------------------------------------------------------ RowDecoder

BOARD = [
    ColumnSpec("status", "Status", "status"),
    ColumnSpec("button", "Go", "button"),
    ColumnSpec("numbers", "Budget", "numbers"),
    ColumnSpec("date4", "Due", "date"),
    ColumnSpec("people", "Owner", "people"),
    ColumnSpec("check", "Done?", "checkbox"),
    ColumnSpec("rel", "Linked", "board_relation"),
    ColumnSpec("tags", "Tags", "tags"),
]


def item_values(**overrides: dict[str, Any]) -> list[dict[str, Any]]:
    values = [
        cv("status", "Done", {"index": 1}),
        cv("button", "", None),
        cv("numbers", "42", '"42"'),
        cv("date4", "2021-10-11", {"date": "2021-10-11"}),
        cv("people", "Ann", {"personsAndTeams": [{"id": 1, "kind": "person"}]}),
        cv("check", "v", {"checked": "true"}),
        cv("rel", None, None, linked_item_ids=["7"]),
        cv("tags", "x", {"tag_ids": [3]}),
    ]
    return [overrides.get(v["id"], v) for v in values]


def test_row_decoder_skips_buttons_and_orders_columns_like_the_board() -> None:
    decoder = RowDecoder(BOARD)
    assert [(c.id, t) for c, t in decoder.warehouse_columns] == [
        ("status", "VARCHAR"),
        ("numbers", "NUMBER(38,9)"),
        ("date4", "DATE"),
        ("people", "VARIANT"),
        ("check", "BOOLEAN"),
        ("rel", "VARIANT"),
        ("tags", "VARIANT"),
    ]
    row = decoder.decode(list(reversed(item_values())))
    assert row == ["Done", Decimal("42"), date(2021, 10, 11), [{"id": 1, "kind": "person"}], True, [7], [3]]
    assert not decoder.warnings


def test_row_decoder_leaves_missing_columns_null_and_ignores_unknown_ones() -> None:
    decoder = RowDecoder(BOARD)
    row = decoder.decode([cv("numbers", "1", '"1"'), cv("not_on_board", "x", '"x"')])
    assert row == [None, Decimal("1"), None, None, None, None, None]


def test_row_decoder_counts_bad_values_per_column_and_keeps_the_row() -> None:
    decoder = RowDecoder(BOARD)
    bad = item_values(people=cv("people", "Ann", "{broken"), date4=cv("date4", "x", {"date": "2021-02-30"}))
    row = decoder.decode(bad)
    assert row == ["Done", Decimal("42"), None, "{broken", True, [7], [3]]
    assert decoder.last_unparsed == {
        "people": {"text": "Ann", "value": "{broken"},
        "date4": {"text": "x", "value": json.dumps({"date": "2021-02-30"})},
    }
    decoder.decode(bad)
    assert decoder.warnings == Counter({"people": 2, "date4": 2})
    decoder.decode(item_values())
    assert decoder.last_unparsed is None


def test_row_decoder_matches_single_codec_decoding() -> None:
    decoder = RowDecoder(BOARD, keep_dropdown_ids=True)
    values = item_values()
    expected = [
        c.decode(v) for c, v in zip(decoder.codecs, [v for v in values if v["id"] != "button"], strict=True)
    ]
    assert decoder.decode(values) == expected


def test_row_decoder_accepts_already_parsed_values() -> None:
    decoder = RowDecoder(BOARD)
    values = item_values()
    for v in values:
        if isinstance(v["value"], str):
            v["value"] = json.loads(v["value"])
    assert decoder.decode(values)[3:] == [[{"id": 1, "kind": "person"}], True, [7], [3]]


# ------------------------------------------------------------------------------------ item metadata


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-01-02T10:00:00Z",
        "2024-01-02T10:00:00.000Z",
        "2024-01-02T10:00:00+00:00",
        "2024-01-02T12:00:00+02:00",
    ],
)
def test_item_metadata_timestamps_are_naive_utc(stamp: str) -> None:
    item = {
        "id": "1234567890",
        "name": "Launch",
        "group": {"id": "topics", "title": "Group Title"},
        "created_at": stamp,
        "updated_at": "2024-02-03T04:05:06Z",
    }
    meta = decode_item_metadata(item)
    assert meta.created_at is not None and meta.created_at.tzinfo is None
    assert meta == (
        1234567890,
        "Launch",
        "topics",
        "Group Title",
        datetime(2024, 1, 2, 10),
        datetime(2024, 2, 3, 4, 5, 6),
    )


def test_item_metadata_tolerates_missing_group_and_timestamps() -> None:
    meta = decode_item_metadata(
        {"id": 5, "name": "x", "group": None, "created_at": None, "updated_at": "garbage"}
    )
    assert meta == (5, "x", None, None, None, None)


def test_row_decoder_ignores_a_column_value_without_an_id() -> None:
    decoder = RowDecoder(BOARD)
    assert decoder.decode([{"text": "x", "value": None}, cv("numbers", "2", '"2"')])[1] == Decimal("2")


def test_id_lists_reject_non_integer_ids_instead_of_truncating() -> None:
    assert decode_with_warning("tags", "x", {"tag_ids": [1.5]}) == {"tag_ids": [1.5]}
    assert decode("tags", "x", {"tag_ids": [1.0, "2"]}) == [1, 2]
