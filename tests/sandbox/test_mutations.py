"""Mutations over HTTP: monday's write formats in, value/text/typed fields out, and monday's errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.state import Sandbox

from .conftest import data, errors

CREATE = """mutation($b: ID!, $name: String!, $cv: JSON, $labels: Boolean) {
  create_item(board_id: $b, item_name: $name, column_values: $cv, create_labels_if_missing: $labels) {
    id
  }
}"""
READ = """query($ids: [ID!]) { items(ids: $ids) { id name updated_at column_values {
  id type text value
  ... on StatusValue { index label is_done }
  ... on DropdownValue { values { id label } }
  ... on NumbersValue { number }
  ... on DateValue { date time }
  ... on TimelineValue { from to }
  ... on CheckboxValue { checked }
  ... on PeopleValue { persons_and_teams { id kind } }
  ... on EmailValue { email label }
  ... on PhoneValue { phone country_short_name }
  ... on LinkValue { url url_text }
  ... on LocationValue { lat lng address }
  ... on TagsValue { tag_ids tags { id name } }
  ... on CountryValue { country { code name } }
  ... on RatingValue { rating }
  ... on HourValue { hour minute }
  ... on WeekValue { start_date end_date }
  ... on WorldClockValue { timezone }
  ... on LongTextValue { text }
  ... on BoardRelationValue { linked_item_ids display_value }
} } }"""


@pytest.fixture
def wide_board(sandbox: Sandbox) -> Board:
    owner = next(iter(sandbox.data.users.values()))
    other = sandbox.create_board("Customers", owner.id)
    board = sandbox.create_board("Everything", owner.id)
    settings: dict[str, Any] = {
        "dropdown": {"labels": [{"id": 1, "label": "Red"}, {"id": 2, "label": "Blue"}]},
        "board_relation": {"boardIds": [other.id]},
    }
    for column_type in (
        "text",
        "long_text",
        "numbers",
        "status",
        "dropdown",
        "date",
        "timeline",
        "checkbox",
        "people",
        "email",
        "phone",
        "link",
        "location",
        "tags",
        "country",
        "rating",
        "hour",
        "week",
        "world_clock",
        "board_relation",
    ):
        sandbox.create_column(
            board.id, column_type.title(), column_type, settings.get(column_type), column_type
        )
    return board


def cells(client: httpx.Client, item_id: Any) -> dict[str, dict[str, Any]]:
    (item,) = data(client, READ, {"ids": [item_id]})["items"]
    return {c["id"]: c for c in item["column_values"]}


def test_every_column_type_round_trips_through_create_item(
    sandbox: Sandbox, wide_board: Board, client: httpx.Client
) -> None:
    user = next(iter(sandbox.data.users.values()))
    other_board = next(b for b in sandbox.data.boards.values() if b.name == "Customers")
    linked = sandbox.create_item(other_board.id, "ACME")
    tag = data(client, 'mutation { create_or_get_tag(tag_name: "hot lead") { id name } }')[
        "create_or_get_tag"
    ]
    assert tag["name"] == "hotlead"  # monday strips the spaces
    values = {
        "text": 'Hello, "world"\nsecond line',
        "long_text": {"text": "long ✓ text"},
        "numbers": "-12.5",
        "status": {"label": "Done"},
        "dropdown": {"labels": ["Red", "Blue"]},
        "date": {"date": "2026-11-30", "time": "08:15:00"},
        "timeline": {"from": "2026-01-01", "to": "2026-01-31"},
        "checkbox": {"checked": "true"},
        "people": {"personsAndTeams": [{"id": user.id, "kind": "person"}]},
        "email": {"email": "ann@example.com", "text": "Ann"},
        "phone": {"phone": "+12025550169", "countryShortName": "US"},
        "link": {"url": "https://monday.com", "text": "monday"},
        "location": {"lat": "29.97", "lng": "31.13", "address": "Giza"},
        "tags": {"tag_ids": [int(tag["id"])]},
        "country": {"countryCode": "FR", "countryName": "France"},
        "rating": {"rating": 4},
        "hour": {"hour": 14, "minute": 30},
        "week": {"week": {"startDate": "2026-11-29", "endDate": "2026-12-05"}},
        "world_clock": {"timezone": "Europe/London"},
        "board_relation": {"item_ids": [linked.id]},
    }
    created = data(client, CREATE, {"b": wide_board.id, "name": "Row", "cv": json.dumps(values)})
    got = cells(client, created["create_item"]["id"])
    assert got["text"]["text"] == 'Hello, "world"\nsecond line'
    assert json.loads(got["text"]["value"]) == 'Hello, "world"\nsecond line'
    assert got["long_text"]["text"] == "long ✓ text"
    assert got["numbers"]["number"] == -12.5 and json.loads(got["numbers"]["value"]) == "-12.5"
    assert (got["status"]["index"], got["status"]["label"], got["status"]["is_done"]) == (1, "Done", True)
    assert json.loads(got["status"]["value"])["index"] == 1
    assert got["dropdown"]["values"] == [{"id": "1", "label": "Red"}, {"id": "2", "label": "Blue"}]
    assert json.loads(got["dropdown"]["value"])["ids"] == [1, 2]
    assert got["date"]["date"] == "2026-11-30" and got["date"]["time"] == "08:15:00"
    assert (got["timeline"]["from"], got["timeline"]["to"]) == ("2026-01-01", "2026-01-31")
    assert got["checkbox"]["checked"] is True and got["checkbox"]["text"] == "v"
    assert got["people"]["persons_and_teams"] == [{"id": str(user.id), "kind": "person"}]
    assert got["people"]["text"] == user.name
    assert (got["email"]["email"], got["email"]["label"]) == ("ann@example.com", "Ann")
    assert (got["phone"]["phone"], got["phone"]["country_short_name"]) == ("+12025550169", "US")
    assert (got["link"]["url"], got["link"]["url_text"]) == ("https://monday.com", "monday")
    assert (got["location"]["lat"], got["location"]["address"]) == (29.97, "Giza")
    assert got["tags"]["tag_ids"] == [int(tag["id"])] and got["tags"]["tags"][0]["name"] == "hotlead"
    assert got["country"]["country"] == {"code": "FR", "name": "France"}
    assert got["rating"]["rating"] == 4
    assert (got["hour"]["hour"], got["hour"]["minute"]) == (14, 30)
    assert (got["week"]["start_date"], got["week"]["end_date"]) == ("2026-11-29", "2026-12-05")
    assert got["world_clock"]["timezone"] == "Europe/London"
    relation = got["board_relation"]
    assert relation["linked_item_ids"] == [str(linked.id)] and relation["display_value"] == "ACME"
    assert relation["value"] is None and relation["text"] is None  # monday 2026: always null


def test_empty_cells_follow_monday_null_rules(wide_board: Board, client: httpx.Client) -> None:
    created = data(client, CREATE, {"b": wide_board.id, "name": "Empty", "cv": None})
    got = cells(client, created["create_item"]["id"])
    assert got["status"]["text"] is None and got["dropdown"]["text"] is None
    assert got["text"]["text"] == "" and got["numbers"]["text"] == ""
    assert all(c["value"] is None for c in got.values())


def test_change_multiple_column_values_renames_and_bumps_updated_at(
    sandbox: Sandbox, board: Board, client: httpx.Client, clock: Clock
) -> None:
    item = sandbox.create_item(board.id, "Before")
    clock.advance(3600)
    result = data(
        client,
        "mutation($b: ID!, $i: ID, $cv: JSON!) { change_multiple_column_values(board_id: $b, item_id: $i, "
        'column_values: $cv) { name updated_at column_values(ids: ["text", "status"]) { id text } } }',
        {"b": board.id, "i": item.id, "cv": json.dumps({"name": "After", "text": "x", "status": "Stuck"})},
    )["change_multiple_column_values"]
    assert result["name"] == "After"
    assert result["updated_at"] == "2026-12-03T11:00:00Z"
    assert {c["id"]: c["text"] for c in result["column_values"]} == {"text": "x", "status": "Stuck"}


def test_change_column_value_and_simple_value(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    item = sandbox.create_item(board.id, "Row")
    data(
        client,
        "mutation($b:ID!, $i:ID, $v:JSON!) { change_column_value(board_id:$b, item_id:$i, "
        'column_id: "status", value:$v) { id } }',
        {"b": board.id, "i": item.id, "v": '{"index": 2}'},
    )
    data(
        client,
        "mutation($b:ID!, $i:ID) { change_simple_column_value(board_id:$b, item_id:$i, "
        'column_id: "numbers", value: "42") { id } }',
        {"b": board.id, "i": item.id},
    )
    got = cells(client, item.id)
    assert got["status"]["label"] == "Stuck"
    assert got["numbers"]["number"] == 42
    data(
        client,
        "mutation($b:ID!, $i:ID) { change_simple_column_value(board_id:$b, item_id:$i, "
        'column_id: "numbers", value: "") { id } }',
        {"b": board.id, "i": item.id},
    )
    assert cells(client, item.id)["numbers"]["value"] is None


def test_create_labels_if_missing(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    (error,) = errors(
        client, CREATE, {"b": board.id, "name": "x", "cv": json.dumps({"status": {"label": "Blocked"}})}
    )
    assert error["extensions"]["code"] == "ColumnValueException"
    assert error["extensions"]["error_data"]["column_id"] == "status"
    created = data(
        client,
        CREATE,
        {"b": board.id, "name": "x", "cv": json.dumps({"status": {"label": "Blocked"}}), "labels": True},
    )
    assert cells(client, created["create_item"]["id"])["status"]["label"] == "Blocked"
    settings = data(
        client,
        'query($b:[ID!]) { boards(ids:$b) { columns(ids:["status"]) { settings } } }',
        {"b": [board.id]},
    )["boards"][0]["columns"][0]["settings"]
    assert "Blocked" in [label["label"] for label in settings["labels"]]


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"nope": "x"}, "InvalidColumnIdException"),
        ({"numbers": "twelve"}, "ColumnValueException"),
        ({"date": {"date": "31/12/2026"}}, "ColumnValueException"),
        ({"people": {"personsAndTeams": [{"id": 1, "kind": "person"}]}}, "ColumnValueException"),
    ],
)
def test_bad_values_are_refused_with_monday_codes_and_nothing_is_created(
    sandbox: Sandbox, board: Board, client: httpx.Client, values: dict[str, Any], code: str
) -> None:
    response = client.post(
        "/v2", json={"query": CREATE, "variables": {"b": board.id, "name": "x", "cv": json.dumps(values)}}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {"create_item": None}
    assert body["errors"][0]["extensions"]["code"] == code
    assert body["errors"][0]["path"] == ["create_item"]
    assert not board.item_ids


def test_name_length_board_and_item_errors(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    assert errors(client, CREATE, {"b": board.id, "name": "x" * 256})[0]["extensions"]["code"] == (
        "ItemNameTooLongException"
    )
    assert (
        errors(client, CREATE, {"b": 42, "name": "x"})[0]["extensions"]["code"] == "InvalidBoardIdException"
    )
    change = (
        "mutation($b:ID!) { change_simple_column_value(board_id:$b, item_id: 1, "
        'column_id:"text", value:"v") { id } }'
    )
    assert errors(client, change, {"b": board.id})[0]["extensions"]["code"] == "InvalidItemIdException"
    (bad_json,) = errors(client, CREATE, {"b": board.id, "name": "x", "cv": "{not json"})
    assert bad_json["extensions"]["code"] == "JsonParseException"


def test_archive_and_delete_item(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    a = sandbox.create_item(board.id, "a")
    b = sandbox.create_item(board.id, "b")
    assert data(client, f"mutation {{ archive_item(item_id: {a.id}) {{ id state }} }}")["archive_item"][
        "state"
    ] == ("archived")
    assert (
        data(client, f"mutation {{ delete_item(item_id: {b.id}) {{ state }} }}")["delete_item"]["state"]
        == "deleted"
    )
    assert errors(client, "mutation { delete_item(item_id: 5) { id } }")[0]["extensions"]["code"] == (
        "InvalidItemIdException"
    )


def test_create_board_group_column_then_use_them(client: httpx.Client) -> None:
    board = data(
        client,
        'mutation { create_board(board_name: "New", board_kind: public) { id type state groups { id } } }',
    )["create_board"]
    assert board["type"] == "board" and board["groups"]
    group = data(
        client, f'mutation {{ create_group(board_id: {board["id"]}, group_name: "Q4") {{ id title }} }}'
    )
    column = data(
        client,
        f'mutation {{ create_column(board_id: {board["id"]}, title: "Stage", column_type: status, '
        'id: "stage") { id type settings } }',
    )["create_column"]
    assert column["id"] == "stage" and column["settings"]["labels"]
    group_id = group["create_group"]["id"]
    item = data(
        client,
        'mutation($b:ID!, $g:String) { create_item(board_id:$b, group_id:$g, item_name:"i", '
        'column_values: "{\\"stage\\": \\"Done\\"}") { group { id } column_values { text } } }',
        {"b": board["id"], "g": group_id},
    )["create_item"]
    assert item == {"group": {"id": group_id}, "column_values": [{"text": "Done"}]}


def test_subitems_live_on_a_linked_subitems_board(
    sandbox: Sandbox, board: Board, client: httpx.Client
) -> None:
    parent = sandbox.create_item(board.id, "Parent")
    sub = data(
        client,
        f'mutation {{ create_subitem(parent_item_id: {parent.id}, item_name: "Child") '
        "{ id board { id type } parent_item { id } } }",
    )["create_subitem"]
    assert sub["parent_item"] == {"id": str(parent.id)}
    assert sub["board"]["type"] == "sub_items_board"
    result = data(
        client,
        "query($b:[ID!]) { boards(ids:$b) { columns(types:[subtasks]) { id settings } items_page { items { "
        "subitems { id name } column_values(types:[subtasks]) { "
        "... on SubtasksValue { subitems_ids } } } } } }",
        {"b": [board.id]},
    )["boards"][0]
    assert result["columns"][0]["settings"]["boardIds"] == [int(sub["board"]["id"])]
    (item,) = result["items_page"]["items"]
    assert item["subitems"] == [{"id": sub["id"], "name": "Child"}]
    assert item["column_values"][0]["subitems_ids"] == [sub["id"]]


def test_a_deleted_subitem_leaves_its_parents_subitems_column_and_a_restore_brings_it_back(
    sandbox: Sandbox, board: Board, client: httpx.Client
) -> None:
    parent = sandbox.create_item(board.id, "Parent")
    kept, gone = (sandbox.create_subitem(parent.id, name) for name in ("kept", "gone"))
    query = "query($i: [ID!]) { items(ids: $i) { column_values(types: [subtasks]) { value } } }"

    def listed() -> list[int]:
        (item,) = data(client, query, {"i": [str(parent.id)]})["items"]
        value = json.loads(item["column_values"][0]["value"] or "null") or {"linkedPulseIds": []}
        return [link["linkedPulseId"] for link in value["linkedPulseIds"]]

    assert listed() == [kept.id, gone.id]
    data(client, "mutation($i: ID!) { delete_item(item_id: $i) { id } }", {"i": str(gone.id)})
    assert listed() == [kept.id]
    sandbox.restore_item(gone.id)
    assert listed() == [kept.id, gone.id]
