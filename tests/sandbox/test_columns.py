"""Column codecs: monday's write formats in, `value`/`text`/typed fields out (API-FACTS section 5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest
from graphql import GraphQLObjectType, build_schema

from monday_sandbox import columns
from monday_sandbox.columns import ColumnNotFoundError, ColumnValueError
from monday_sandbox.model import Board, Column, Item, Tag, Team, User

NOW = datetime(2026, 3, 21, 9, 3, 56, 17000, tzinfo=UTC)


class FakeContext:
    """The look-ups a Sandbox gives the codecs, over plain dicts."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.users = {
            48202303: User(48202303, 1, "Zoë Åberg", "zoe@example.com"),
            123: User(123, 1, "李雷", "li@example.com"),
            456: User(456, 1, "José Núñez", "jose@example.com"),
        }
        self.teams = {5: Team(5, "Data Team", [123])}
        self.tags = {295026: Tag(295026, "urgent"), 295064: Tag(295064, "customer")}
        self.boards: dict[int, Board] = {}
        self.items: dict[int, Item] = {}
        self.timezone = timezone

    def user(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    def team(self, team_id: int) -> Team | None:
        return self.teams.get(team_id)

    def tag(self, tag_id: int) -> Tag | None:
        return self.tags.get(tag_id)

    def item(self, item_id: int) -> Item | None:
        return self.items.get(item_id)

    def board(self, board_id: int) -> Board | None:
        return self.boards.get(board_id)

    def user_timezone(self) -> str:
        return self.timezone

    def now(self) -> datetime:
        return NOW

    def add_item(self, board: Board, item_id: int, name: str, **values: Any) -> Item:
        item = Item(item_id, board.id, "topics", name, 123, NOW, NOW, values=dict(values))
        self.items[item_id] = item
        board.item_ids.append(item_id)
        return item


@pytest.fixture
def ctx() -> FakeContext:
    return FakeContext()


def column(column_type: str, settings: dict[str, Any] | None = None, column_id: str | None = None) -> Column:
    return Column(
        column_id or column_type,
        column_type.title(),
        column_type,
        settings or columns.default_settings(column_type),
    )


def an_item(**values: Any) -> Item:
    return Item(1, 10, "topics", "Item one", 123, NOW, NOW, values=dict(values))


def read(
    col: Column, stored: Any, ctx: FakeContext, item: Item | None = None
) -> tuple[Any, Any, dict[str, Any]]:
    item = item or an_item()
    value = columns.render_value(col, stored, item)
    return (
        None if value is None else json.loads(value),
        columns.render_text(col, stored, ctx, item),
        columns.typed_fields(col, stored, ctx, item),
    )


# -- text, long_text, numbers -------------------------------------------------------------------


def test_text_stores_the_bare_string_and_value_is_a_json_string(ctx: FakeContext) -> None:
    col = column("text")
    stored = columns.write_json(col, 'Hello, "world"\nline 2', ctx)
    assert columns.render_value(col, stored) == '"Hello, \\"world\\"\\nline 2"'
    assert columns.render_text(col, stored, ctx, an_item()) == 'Hello, "world"\nline 2'
    assert columns.write_simple(col, "Hello", ctx) == "Hello"


def test_text_refuses_an_object(ctx: FakeContext) -> None:
    with pytest.raises(ColumnValueError) as caught:
        columns.write_json(column("text"), {"text": "The best!"}, ctx)
    assert caught.value.error_data["column_type"] == "text"
    assert caught.value.code == "ColumnValueException"


def test_long_text_round_trips_and_enforces_2000_characters(ctx: FakeContext) -> None:
    col = column("long_text")
    stored = columns.write_json(col, {"text": "Line one\nLine two"}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value == {"text": "Line one\nLine two", "changed_at": "2026-03-21T09:03:56.017Z"}
    assert text == "Line one\nLine two"
    assert typed == {"updated_at": "2026-03-21T09:03:56Z"}
    assert columns.write_json(col, "x" * 2000, ctx)["text"] == "x" * 2000
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"text": "x" * 2001}, ctx)


@pytest.mark.parametrize(
    ("written", "number"),
    [("42", 42.0), ("-3.5", -3.5), ("12345678901234.5678", 12345678901234.5678), (7, 7.0), ("0", 0.0)],
)
def test_numbers_are_stored_as_strings(ctx: FakeContext, written: Any, number: float) -> None:
    col = column("numbers", {"unit": {"symbol": "$", "direction": "left"}})
    stored = columns.write_json(col, written, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value == str(written) and text == str(written)
    assert typed == {"number": number, "symbol": "$", "direction": "left"}


@pytest.mark.parametrize("bad", ["abc", "nan", "1,5", {"number": 3}, True])
def test_numbers_refuse_what_is_not_a_number(ctx: FakeContext, bad: Any) -> None:
    with pytest.raises(ColumnValueError) as caught:
        columns.write_json(column("numbers"), bad, ctx)
    assert caught.value.error_data["column_type"] == "numbers"


# -- status ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("written", [{"label": "Done"}, {"index": 1}, "Done", "1", {"label": "1"}])
def test_status_accepts_label_or_label_id(ctx: FakeContext, written: Any) -> None:
    col = column("status")
    stored = columns.write_json(col, written, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value == {"index": 1, "post_id": None, "changed_at": "2026-03-21T09:03:56.017Z"}
    assert text == "Done"
    assert typed == {
        "index": 1,
        "label": "Done",
        "is_done": True,
        "label_style": {"color": "#00c875", "border": "#00b461"},
        "update_id": None,
        "updated_at": "2026-03-21T09:03:56Z",
    }


def test_status_simple_write_by_label_and_by_id(ctx: FakeContext) -> None:
    col = column("status")
    assert columns.write_simple(col, "Stuck", ctx)["index"] == 2
    assert columns.write_simple(col, "0", ctx)["index"] == 0


def test_status_unknown_label_is_a_column_value_error_listing_labels(ctx: FakeContext) -> None:
    with pytest.raises(ColumnValueError) as caught:
        columns.write_json(column("status"), {"label": "Shipped"}, ctx)
    assert caught.value.error_data["column_type"] == "status"
    assert "Working on it" in caught.value.message


def test_status_numeric_label_text_is_read_as_an_id(ctx: FakeContext) -> None:
    col = column("status")
    col.settings["labels"].append({"id": 7, "label": "2023", "color": "purple", "index": 4, "is_done": False})
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"label": "2023"}, ctx)
    assert columns.write_json(col, {"index": 7}, ctx)["index"] == 7


def test_status_create_labels_if_missing_adds_the_next_free_id(ctx: FakeContext) -> None:
    col = column("status")
    stored = columns.write_json(col, {"label": "Shipped"}, ctx, create_labels_if_missing=True)
    assert stored["index"] == 3
    assert [lb["label"] for lb in col.settings["labels"]][-1] == "Shipped"
    assert columns.render_text(col, stored, ctx, an_item()) == "Shipped"
    again = columns.write_simple(col, "Shipped", ctx, create_labels_if_missing=True)
    assert again["index"] == 3 and len(col.settings["labels"]) == 5
    assert columns.write_simple(col, "Later", ctx, create_labels_if_missing=True)["index"] == 4
    assert columns.write_simple(col, "Even later", ctx, create_labels_if_missing=True)["index"] == 6


def test_status_label_limits(ctx: FakeContext) -> None:
    col = column("status")
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"label": "x" * 31}, ctx, create_labels_if_missing=True)
    for n in range(37):
        columns.write_json(col, {"label": f"L{n}"}, ctx, create_labels_if_missing=True)
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"label": "one too many"}, ctx, create_labels_if_missing=True)


@pytest.mark.parametrize("clear", [None, "", {}, {"index": 5}, {"label": ""}])
def test_status_clears_to_null_text(ctx: FakeContext, clear: Any) -> None:
    col = column("status")
    stored = columns.write_json(col, clear, ctx)
    assert stored is None
    assert read(col, stored, ctx)[:2] == (None, None)


def test_status_webhook_value_has_monday_shape(ctx: FakeContext) -> None:
    col = column("status")
    stored = columns.write_json(col, {"label": "Working on it"}, ctx)
    assert columns.webhook_value(col, stored, ctx) == {
        "label": {
            "index": 0,
            "text": "Working on it",
            "style": {"color": "#fdab3d", "border": "#e99729", "var_name": "orange"},
            "is_done": False,
        },
        "post_id": None,
    }
    assert columns.webhook_value(col, None, ctx) is None


# -- dropdown ------------------------------------------------------------------------------------

DROPDOWN = {
    "labels": [
        {"id": 1, "label": "Marketing", "is_deactivated": False},
        {"id": 2, "label": "Sales", "is_deactivated": False},
        {"id": 3, "label": "R&D, Europe", "is_deactivated": False},
    ]
}


@pytest.mark.parametrize(
    "written",
    [{"labels": ["Marketing", "Sales"]}, {"ids": [1, 2]}, "Marketing, Sales", "1,2", {"ids": ["1", "2"]}],
)
def test_dropdown_accepts_labels_or_ids(ctx: FakeContext, written: Any) -> None:
    col = column("dropdown", json.loads(json.dumps(DROPDOWN)))
    stored = columns.write_json(col, written, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value["ids"] == [1, 2]
    assert text == "Marketing, Sales"
    assert typed == {"values": [{"id": "1", "label": "Marketing"}, {"id": "2", "label": "Sales"}]}


def test_dropdown_is_case_sensitive_and_can_create_labels(ctx: FakeContext) -> None:
    col = column("dropdown", json.loads(json.dumps(DROPDOWN)))
    with pytest.raises(ColumnValueError) as caught:
        columns.write_json(col, {"labels": ["marketing"]}, ctx)
    assert caught.value.error_data["column_type"] == "dropdown"
    assert "Marketing" in caught.value.message
    stored = columns.write_json(col, {"labels": ["marketing"]}, ctx, create_labels_if_missing=True)
    assert stored["ids"] == [4]
    assert col.settings["labels"][-1] == {"id": 4, "label": "marketing", "is_deactivated": False}


@pytest.mark.parametrize("clear", [None, {"labels": []}, {"ids": []}, ""])
def test_dropdown_clears_to_null_text(ctx: FakeContext, clear: Any) -> None:
    col = column("dropdown", DROPDOWN)
    stored = columns.write_json(col, clear, ctx)
    assert stored is None and columns.render_text(col, stored, ctx, an_item()) is None


def test_dropdown_unknown_id_is_refused(ctx: FakeContext) -> None:
    with pytest.raises(ColumnValueError):
        columns.write_json(column("dropdown", DROPDOWN), {"ids": [9]}, ctx)


# -- people, team, tags --------------------------------------------------------------------------


def test_people_replaces_the_list_and_renders_names(ctx: FakeContext) -> None:
    col = column("people")
    stored = columns.write_json(
        col, {"personsAndTeams": [{"id": 48202303, "kind": "person"}, {"id": 5, "kind": "team"}]}, ctx
    )
    value, text, typed = read(col, stored, ctx)
    assert value == {
        "personsAndTeams": [{"id": 48202303, "kind": "person"}, {"id": 5, "kind": "team"}],
        "changed_at": "2026-03-21T09:03:56.017Z",
    }
    assert text == "Zoë Åberg, Data Team"
    assert typed["persons_and_teams"] == [{"id": "48202303", "kind": "person"}, {"id": "5", "kind": "team"}]
    simple = columns.write_simple(col, "123,456", ctx)
    assert columns.render_text(col, simple, ctx, an_item()) == "李雷, José Núñez"
    assert columns.webhook_value(col, simple, ctx)["personsAndTeams"][0] == {"id": 123, "kind": "person"}


def test_people_refuses_unknown_persons(ctx: FakeContext) -> None:
    with pytest.raises(ColumnValueError) as caught:
        columns.write_json(column("people"), {"personsAndTeams": [{"id": 999, "kind": "person"}]}, ctx)
    assert caught.value.error_data["column_type"] == "people"


def test_people_empty_text_is_empty_string(ctx: FakeContext) -> None:
    col = column("people")
    assert columns.write_json(col, {"personsAndTeams": []}, ctx) is None
    assert columns.render_text(col, None, ctx, an_item()) == ""


def test_tags_must_exist_and_have_no_simple_form(ctx: FakeContext) -> None:
    col = column("tags")
    stored = columns.write_json(col, {"tag_ids": [295026, 295064]}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value == {"tag_ids": [295026, 295064]}
    assert text == "urgent, customer"
    assert typed["tag_ids"] == [295026, 295064] and [t.name for t in typed["tags"]] == ["urgent", "customer"]
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"tag_ids": [1]}, ctx)
    with pytest.raises(ColumnValueError):
        columns.write_simple(col, "295026", ctx)


def test_team_round_trip(ctx: FakeContext) -> None:
    col = column("team")
    stored = columns.write_json(col, {"team_id": 5}, ctx)
    assert read(col, stored, ctx)[1:] == ("Data Team", {"team_id": 5, "updated_at": "2026-03-21T09:03:56Z"})


# -- dates and times -----------------------------------------------------------------------------


def test_date_with_time_is_stored_utc_and_read_in_the_callers_timezone() -> None:
    ctx = FakeContext(timezone="America/New_York")
    col = column("date")
    stored = columns.write_json(col, {"date": "2021-10-11", "time": "18:00:00"}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value == {"date": "2021-10-11", "time": "18:00:00", "changed_at": "2026-03-21T09:03:56.017Z"}
    assert text == "2021-10-11 14:00"
    assert typed == {
        "date": "2021-10-11",
        "time": "14:00:00",
        "icon": None,
        "updated_at": "2026-03-21T09:03:56Z",
    }
    webhook = columns.webhook_value(col, stored, ctx)
    assert webhook == {
        "date": "2021-10-11",
        "icon": None,
        "time": "18:00:00",
        "changed_at": value["changed_at"],
    }


def test_date_time_can_move_the_local_day() -> None:
    ctx = FakeContext(timezone="Asia/Tokyo")
    col = column("date")
    stored = columns.write_simple(col, "2021-10-11 18:00:00", ctx)
    assert columns.typed_fields(col, stored, ctx, an_item())["date"] == "2021-10-12"


def test_date_without_time(ctx: FakeContext) -> None:
    col = column("date")
    stored = columns.write_json(col, {"date": "2024-02-29"}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert "time" not in value and text == "2024-02-29" and typed["time"] is None


@pytest.mark.parametrize(
    "bad", [{"date": "2021-13-40"}, {"date": "11/10/2021"}, {"date": "2021-10-11", "time": "25:00"}]
)
def test_date_refuses_malformed_values(ctx: FakeContext, bad: Any) -> None:
    with pytest.raises(ColumnValueError) as caught:
        columns.write_json(column("date"), bad, ctx)
    assert caught.value.error_data["column_type"] == "date"


def test_timeline_round_trip_and_no_simple_form(ctx: FakeContext) -> None:
    col = column("timeline")
    stored = columns.write_json(col, {"from": "2019-06-03", "to": "2019-06-07"}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value["from"] == "2019-06-03" and value["to"] == "2019-06-07"
    assert text == "2019-06-03 - 2019-06-07"
    assert (
        typed["from"] == "2019-06-03" and typed["to"] == "2019-06-07" and typed["visualization_type"] is None
    )
    with pytest.raises(ColumnValueError):
        columns.write_simple(col, "2019-06-03 - 2019-06-07", ctx)
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"from": "2019-06-08", "to": "2019-06-07"}, ctx)


def test_week_must_be_exactly_one_week(ctx: FakeContext) -> None:
    col = column("week")
    stored = columns.write_json(col, {"week": {"startDate": "2024-01-01", "endDate": "2024-01-07"}}, ctx)
    assert read(col, stored, ctx)[1:] == (
        "2024-01-01 - 2024-01-07",
        {"start_date": "2024-01-01", "end_date": "2024-01-07"},
    )
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"week": {"startDate": "2024-01-01", "endDate": "2024-01-09"}}, ctx)


def test_hour_and_world_clock(ctx: FakeContext) -> None:
    hour = column("hour")
    stored = columns.write_json(hour, {"hour": 14, "minute": 30}, ctx)
    assert read(hour, stored, ctx)[1] == "14:30"
    assert columns.typed_fields(hour, stored, ctx, an_item())["minute"] == 30
    with pytest.raises(ColumnValueError):
        columns.write_json(hour, {"hour": 24, "minute": 0}, ctx)
    clock = column("world_clock")
    stored = columns.write_json(clock, {"timezone": "Europe/London"}, ctx)
    assert read(clock, stored, ctx)[1:] == (
        "Europe/London",
        {"timezone": "Europe/London", "updated_at": "2026-03-21T09:03:56Z"},
    )
    with pytest.raises(ColumnValueError):
        columns.write_json(clock, {"timezone": "Mars/Olympus"}, ctx)


# -- simple objects -----------------------------------------------------------------------------


def test_checkbox_checks_with_a_string_and_unchecks_with_null(ctx: FakeContext) -> None:
    col = column("checkbox")
    stored = columns.write_json(col, {"checked": "true"}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value["checked"] == "true" and text == "v" and typed["checked"] is True
    assert columns.write_json(col, None, ctx) is None
    assert columns.write_json(col, {"checked": "false"}, ctx) is None
    assert read(col, None, ctx)[1:] == ("", {"checked": False, "updated_at": None})
    with pytest.raises(ColumnValueError):
        columns.write_simple(col, "true", ctx)


def test_email_needs_both_keys(ctx: FakeContext) -> None:
    col = column("email")
    stored = columns.write_json(col, {"email": "a@b.com", "text": "Label"}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value["email"] == "a@b.com" and value["text"] == "Label"
    assert text == "a@b.com"
    assert typed == {"email": "a@b.com", "label": "Label", "updated_at": "2026-03-21T09:03:56Z"}
    with pytest.raises(ColumnValueError) as caught:
        columns.write_json(col, {"email": "a@b.com"}, ctx)
    assert caught.value.error_data["column_type"] == "email"
    simple = columns.write_simple(col, "a@b.com Label text", ctx)
    assert (simple["email"], simple["text"]) == ("a@b.com", "Label text")


def test_phone_needs_an_upper_case_iso_country(ctx: FakeContext) -> None:
    col = column("phone")
    stored = columns.write_json(col, {"phone": "+12025550169", "countryShortName": "US"}, ctx)
    assert read(col, stored, ctx)[1:] == (
        "+12025550169",
        {"phone": "+12025550169", "country_short_name": "US", "updated_at": "2026-03-21T09:03:56Z"},
    )
    assert columns.write_simple(col, "+19175998722 US", ctx)["countryShortName"] == "US"
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"phone": "+12025550169", "countryShortName": "us"}, ctx)
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"phone": "call me", "countryShortName": "US"}, ctx)


def test_link_round_trip(ctx: FakeContext) -> None:
    col = column("link")
    stored = columns.write_json(col, {"url": "https://monday.com", "text": "go to monday!"}, ctx)
    _value, text, typed = read(col, stored, ctx)
    assert text == "https://monday.com - go to monday!"
    assert typed["url"] == "https://monday.com" and typed["url_text"] == "go to monday!"
    simple = columns.write_simple(col, "https://monday.com go to monday!", ctx)
    assert (simple["url"], simple["text"]) == ("https://monday.com", "go to monday!")


def test_location_validates_coordinates(ctx: FakeContext) -> None:
    col = column("location")
    stored = columns.write_json(col, {"lat": "29.97", "lng": "31.13", "address": "Giza"}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert (value["lat"], value["lng"], text) == ("29.97", "31.13", "Giza")
    assert typed["lat"] == 29.97 and typed["lng"] == 31.13 and typed["address"] == "Giza"
    assert typed["city"] is None and "street_number_short" in typed
    simple = columns.write_simple(col, "29.9772962 31.1324955 Giza Pyramid Complex", ctx)
    assert simple["address"] == "Giza Pyramid Complex"
    assert columns.write_json(col, {"lat": "0", "lng": "180"}, ctx)["address"] == "unknown"
    for lat, lng in (("90", "0"), ("-90", "0"), ("0", "180.5")):
        with pytest.raises(ColumnValueError):
            columns.write_json(col, {"lat": lat, "lng": lng, "address": "x"}, ctx)


def test_country_name_is_strictly_validated(ctx: FakeContext) -> None:
    col = column("country")
    stored = columns.write_json(col, {"countryCode": "US", "countryName": "United States"}, ctx)
    assert read(col, stored, ctx)[1:] == (
        "United States",
        {"country": {"code": "US", "name": "United States"}, "updated_at": "2026-03-21T09:03:56Z"},
    )
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"countryCode": "US", "countryName": "Canada"}, ctx)


def test_rating_round_trip(ctx: FakeContext) -> None:
    col = column("rating")
    stored = columns.write_json(col, {"rating": 4}, ctx)
    assert read(col, stored, ctx)[1:] == ("4", {"rating": 4, "updated_at": "2026-03-21T09:03:56Z"})
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"rating": 6}, ctx)


def test_color_picker_empty_text_is_null(ctx: FakeContext) -> None:
    col = column("color_picker")
    stored = columns.write_json(col, {"color": {"hex": "#ff00aa"}}, ctx)
    assert read(col, stored, ctx)[1] == "#FF00AA"
    assert columns.render_text(col, None, ctx, an_item()) is None


# -- links between items ------------------------------------------------------------------------


@pytest.fixture
def linked(ctx: FakeContext) -> tuple[Board, Board]:
    target = Board(20, "Customers", None, 123)
    other = Board(30, "Elsewhere", None, 123)
    ctx.boards.update({20: target, 30: other})
    ctx.add_item(target, 201, "Acme, Inc.", status={"index": 1})
    ctx.add_item(target, 202, "Globex")
    ctx.add_item(other, 301, "Stray")
    return target, other


def test_board_relation_links_items_with_null_value_and_text(ctx: FakeContext, linked: Any) -> None:
    col = column("board_relation", {"boardIds": [20]})
    stored = columns.write_json(col, {"item_ids": [201, "202"]}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value is None and text is None
    assert typed["linked_item_ids"] == ["201", "202"]
    assert [i.name for i in typed["linked_items"]] == ["Acme, Inc.", "Globex"]
    assert typed["display_value"] == "Acme, Inc., Globex"
    assert columns.webhook_value(col, stored, ctx)["linkedPulseIds"] == [
        {"linkedPulseId": 201},
        {"linkedPulseId": 202},
    ]


def test_board_relation_refusals(ctx: FakeContext, linked: Any) -> None:
    col = column("board_relation", {"boardIds": [20]})
    for bad in ({"item_ids": [301]}, {"item_ids": [999]}, {"linkedPulseIds": [{"linkedPulseId": 201}]}):
        with pytest.raises(ColumnValueError) as caught:
            columns.write_json(col, bad, ctx)
        assert caught.value.error_data["column_type"] == "board_relation"
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"item_ids": [201]}, ctx, via_change_column_value=True)
    with pytest.raises(ColumnValueError):
        columns.write_simple(col, "201", ctx)


def test_dependency_links_items_on_the_connected_board(ctx: FakeContext, linked: Any) -> None:
    col = column("dependency", {"boardIds": [20]})
    stored = columns.write_json(col, {"item_ids": ["201"]}, ctx)
    value, text, typed = read(col, stored, ctx)
    assert value is None and text is None
    assert typed["dependency_links"] == [{"linked_item_id": "201", "dependency_type": 0, "lag": 0}]
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"item_ids": ["301"]}, ctx)


def test_mirror_shows_the_linked_items_column_text(ctx: FakeContext, linked: Any) -> None:
    target, _ = linked
    target.columns["status"] = column("status")
    relation = column("board_relation", {"boardIds": [20]}, "connect")
    mirror = column(
        "mirror", {"relation_column": {"connect": True}, "displayed_linked_columns": {"20": ["status"]}}
    )
    item = an_item(connect=columns.write_json(relation, {"item_ids": [201, 202]}, ctx))
    value, text, typed = read(mirror, None, ctx, item)
    assert value is None and text is None
    assert typed["display_value"] == "Done"
    assert [m["linked_item"].id for m in typed["mirrored_items"]] == [201, 202]


def test_subtasks_derive_from_the_items_subitems(ctx: FakeContext) -> None:
    sub_board = Board(40, "Subitems of X", None, 123, type="sub_items_board")
    ctx.boards[40] = sub_board
    ctx.add_item(sub_board, 401, "Sub one")
    ctx.add_item(sub_board, 402, "Sub two")
    col = column("subtasks", {"boardIds": [40]})
    item = an_item()
    item.subitem_ids = [401, 402]
    value, text, typed = read(col, None, ctx, item)
    assert value == {"linkedPulseIds": [{"linkedPulseId": 401}, {"linkedPulseId": 402}]}
    assert text == "Sub one, Sub two"
    assert typed["subitems_ids"] == ["401", "402"] and typed["display_value"] == "Sub one, Sub two"


# -- derived read-only types --------------------------------------------------------------------


def test_item_derived_columns(ctx: FakeContext) -> None:
    board = Board(10, "Main", None, 123)
    ctx.boards[10] = board
    first = ctx.add_item(board, 1, "first")
    second = ctx.add_item(board, 2, "second")
    second.updated_at = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert read(column("creation_log"), None, ctx, first)[1:] == (
        "2026-03-21 09:03:56 UTC",
        {"created_at": "2026-03-21T09:03:56Z", "creator_id": "123", "creator": ctx.users[123]},
    )
    assert columns.render_text(column("last_updated"), None, ctx, second) == "2026-04-01 08:00:00 UTC"
    assert (
        columns.typed_fields(column("last_updated"), None, ctx, second)["updated_at"]
        == "2026-04-01T08:00:00Z"
    )
    assert read(column("item_id"), None, ctx, second)[1:] == ("2", {"item_id": "2"})
    assert columns.render_text(column("auto_number"), None, ctx, second) == "2"
    assert columns.typed_fields(column("button"), None, ctx, first) == {
        "label": "Click me",
        "color": "#579bfc",
    }


@pytest.mark.parametrize(
    ("formula", "shown"),
    [("{a} + {b}", "5.5"), ("({a} + {b}) * 2", "11"), ("{a} / 0", ""), ("{a} - {missing}", "2"), ("", "")],
)
def test_formula_display_value(ctx: FakeContext, formula: str, shown: str) -> None:
    col = column("formula", {"formula": formula})
    item = an_item(a="2", b="3.5")
    value, text, typed = read(col, None, ctx, item)
    assert value is None and text == ""
    assert typed == {"display_value": shown}


READ_ONLY = [
    "mirror",
    "formula",
    "creation_log",
    "last_updated",
    "item_id",
    "auto_number",
    "subtasks",
    "button",
    "progress",
]


@pytest.mark.parametrize("column_type", READ_ONLY)
def test_read_only_types_refuse_writes(ctx: FakeContext, column_type: str) -> None:
    col = column(column_type)
    assert not columns.is_writable(column_type)
    with pytest.raises(ColumnValueError) as caught:
        columns.write_json(col, {"text": "x"}, ctx)
    assert caught.value.error_data["column_type"] == column_type
    with pytest.raises(ColumnValueError):
        columns.write_simple(col, "x", ctx)


def test_file_column_only_clears(ctx: FakeContext) -> None:
    col = column("file")
    assert columns.write_json(col, {"clear_all": True}, ctx) is None
    with pytest.raises(ColumnValueError):
        columns.write_json(col, {"files": []}, ctx)
    stored = {"files": [{"name": "spec v2.pdf", "assetId": 77, "isImage": "false", "fileType": "ASSET",
                         "createdAt": 1700000000000, "createdBy": "123"}]}  # fmt: skip
    _value, text, typed = read(col, stored, ctx)
    assert text == "https://files.sandbox.monday.local/resources/77/spec%20v2.pdf"
    (entry,) = typed["files"]
    assert entry["__typename"] == "FileAssetValue" and entry["asset"]["file_extension"] == ".pdf"


# -- empty values and the schema ----------------------------------------------------------------

EMPTY_TEXT: dict[str, str | None] = {
    "status": None,
    "dropdown": None,
    "color_picker": None,
    "mirror": None,
    "board_relation": None,
    "dependency": None,
    "doc": "",
    "vote": "0",
}
DERIVED = {"creation_log", "last_updated", "item_id", "auto_number"}


@pytest.mark.parametrize("column_type", sorted(set(columns.SUPPORTED_TYPES) - DERIVED))
def test_empty_values_follow_mondays_null_rules(ctx: FakeContext, column_type: str) -> None:
    col = column(column_type)
    item = an_item()
    assert columns.render_value(col, None, item) is None
    assert columns.render_text(col, None, ctx, item) == EMPTY_TEXT.get(column_type, "")


@pytest.fixture(scope="module")
def schema() -> Any:
    source = resources.files("monday_sandbox").joinpath("schema-2026-10.graphql").read_text()
    return build_schema(source)


@pytest.mark.parametrize("column_type", columns.SUPPORTED_TYPES)
def test_typed_fields_are_fields_of_the_schema_type(ctx: FakeContext, schema: Any, column_type: str) -> None:
    graphql_type = schema.type_map[columns.graphql_type_name(column_type)]
    assert isinstance(graphql_type, GraphQLObjectType)
    assert "ColumnValue" in [i.name for i in graphql_type.interfaces]
    typed = columns.typed_fields(column(column_type), None, ctx, an_item())
    assert set(typed) <= set(graphql_type.fields)
    assert columns.api_type_name(columns.legacy_type_name(column_type)) == column_type
    assert column_type in schema.type_map["ColumnType"].values


def test_graphql_type_names() -> None:
    assert columns.graphql_type_name("status") == "StatusValue"
    assert columns.graphql_type_name("board_relation") == "BoardRelationValue"
    assert columns.graphql_type_name("no_such_type") == "UnsupportedValue"


LEGACY = {
    "status": "color", "people": "multiple-person", "subtasks": "subtasks", "dropdown": "dropdown",
    "checkbox": "boolean", "numbers": "numeric", "timeline": "timerange", "long_text": "long-text",
    "date": "date", "text": "text", "email": "email", "phone": "phone", "link": "link",
    "location": "location", "tags": "tag", "country": "country", "rating": "rating", "hour": "hour",
    "world_clock": "timezone", "week": "week", "board_relation": "board-relation",
    "dependency": "dependency", "mirror": "lookup", "formula": "formula", "file": "file",
    "time_tracking": "duration", "creation_log": "pulse-log", "last_updated": "pulse-updated",
    "item_id": "pulse-id", "button": "button", "auto_number": "autonumber",
}  # fmt: skip


@pytest.mark.parametrize(("api", "legacy"), LEGACY.items())
def test_legacy_type_names_both_ways(api: str, legacy: str) -> None:
    assert columns.legacy_type_name(api) == legacy
    assert columns.api_type_name(legacy) == api
    assert columns.api_type_name(api) == api


def test_error_classes_carry_mondays_codes() -> None:
    error = ColumnValueError("bad", "status", "status", column_value={"label": "x"})
    assert error.code == "ColumnValueException"
    assert error.error_data == {
        "column_id": "status",
        "column_type": "status",
        "column_value": '{"label":"x"}',
    }
    missing = ColumnNotFoundError("nope", board_id=10)
    assert missing.code == "InvalidColumnIdException" and missing.error_data == {
        "column_id": "nope",
        "board_id": 10,
    }


def test_default_settings_are_fresh_copies() -> None:
    first = columns.default_settings("status")
    first["labels"].clear()
    assert [lb["id"] for lb in columns.default_settings("status")["labels"]] == [0, 1, 2, 5]
