"""Schema evolution over HTTP: change_column_title and delete_column mutations, and the admin
endpoints that create, rename, delete and retype columns. Item `updated_at` never moves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

from .conftest import data, errors

BOARD = """query($b: [ID!]) { boards(ids: $b) {
  updated_at
  columns { id title type archived settings }
  items_page(limit: 500) { items { id name updated_at column_values { id type text value
    column { title }
    ... on NumbersValue { number }
    ... on StatusValue { index label }
  } } }
} }"""
TITLE = """mutation($b: ID!, $c: String!, $t: String!) {
  change_column_title(board_id: $b, column_id: $c, title: $t) { id title type archived }
}"""
DELETE = (
    """mutation($b: ID!, $c: String!) { delete_column(board_id: $b, column_id: $c) { id title archived } }"""
)
LATER = "2026-12-05T08:30:00Z"


def read_board(client: httpx.Client, board: Board) -> dict[str, Any]:
    boards = data(client, BOARD, {"b": [board.id]})["boards"]
    assert len(boards) == 1
    return dict(boards[0])


def cells(board_data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """item name -> column id -> column value."""
    return {
        item["name"]: {cv["id"]: cv for cv in item["column_values"]}
        for item in board_data["items_page"]["items"]
    }


def item_times(board_data: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["updated_at"] for item in board_data["items_page"]["items"]}


def columns_of(board_data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in board_data["columns"]}


def admin(server: SandboxServer, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/sandbox{path}", json=body if body is not None else {})


@pytest.fixture
def filled(sandbox: Sandbox, board: Board) -> Board:
    sandbox.create_item(board.id, "a", column_values={"text": "12.5", "numbers": "3", "status": "Done"})
    sandbox.create_item(board.id, "b", column_values={"text": "not a number", "numbers": "-4"})
    sandbox.create_item(board.id, "c", column_values={"text": " 7 "})
    sandbox.create_item(board.id, "d")
    return board


# ----------------------------------------------------------------------------- GraphQL mutations
def test_change_column_title_moves_board_updated_at_but_not_items(
    client: httpx.Client, filled: Board, clock: Clock
) -> None:
    before = read_board(client, filled)
    clock.set(clock.now().replace(day=5, hour=8, minute=30))
    renamed = data(client, TITLE, {"b": filled.id, "c": "text", "t": "Notes"})["change_column_title"]
    assert renamed == {"id": "text", "title": "Notes", "type": "text", "archived": False}
    after = read_board(client, filled)
    assert columns_of(after)["text"]["title"] == "Notes"
    assert cells(after)["a"]["text"]["column"] == {"title": "Notes"}
    assert cells(after)["a"]["text"]["text"] == "12.5"
    assert after["updated_at"] == LATER != before["updated_at"]
    assert item_times(after) == item_times(before)


def test_change_column_title_errors(client: httpx.Client, board: Board) -> None:
    (missing,) = errors(client, TITLE, {"b": board.id, "c": "nope", "t": "X"})
    assert missing["extensions"]["code"] == "InvalidColumnIdException"
    (blank,) = errors(client, TITLE, {"b": board.id, "c": "text", "t": "  "})
    assert blank["extensions"]["code"] == "InvalidArgumentException"
    (no_board,) = errors(client, TITLE, {"b": 42, "c": "text", "t": "X"})
    assert no_board["extensions"]["code"] == "InvalidBoardIdException"


def test_delete_column_removes_it_from_columns_values_filters_and_writes(
    client: httpx.Client, filled: Board, clock: Clock
) -> None:
    before = read_board(client, filled)
    clock.set(clock.now().replace(day=5, hour=8, minute=30))
    deleted = data(client, DELETE, {"b": filled.id, "c": "numbers"})["delete_column"]
    assert deleted == {"id": "numbers", "title": "Amount", "archived": True}
    after = read_board(client, filled)
    assert "numbers" not in columns_of(after)
    assert all("numbers" not in values for values in cells(after).values())
    assert after["updated_at"] == LATER
    assert item_times(after) == item_times(before)
    only = data(
        client,
        'query($b:[ID!]) { boards(ids:$b) { columns(ids: ["numbers"]) { id } items_page { items {'
        ' column_values(ids: ["numbers", "text"]) { id } } } } }',
        {"b": [filled.id]},
    )["boards"][0]
    assert only["columns"] == []
    assert {cv["id"] for i in only["items_page"]["items"] for cv in i["column_values"]} == {"text"}
    item_id = filled.item_ids[0]
    (write,) = errors(
        client,
        "mutation($b:ID!,$i:ID!) { change_simple_column_value(board_id:$b, item_id:$i, "
        'column_id:"numbers", value:"5") { id } }',
        {"b": filled.id, "i": item_id},
    )
    assert write["extensions"]["code"] == "InvalidColumnIdException"
    (rule,) = errors(
        client,
        'query($b:[ID!]) { boards(ids:$b) { items_page(query_params: {rules: [{column_id: "numbers",'
        " compare_value: [0], operator: greater_than}]}) { items { id } } } }",
        {"b": [filled.id]},
    )
    assert rule["extensions"]["code"] == "InvalidArgumentException"
    (again,) = errors(client, DELETE, {"b": filled.id, "c": "numbers"})
    assert again["extensions"]["code"] == "InvalidColumnIdException"
    (renamed,) = errors(client, TITLE, {"b": filled.id, "c": "numbers", "t": "Back"})
    assert renamed["extensions"]["code"] == "InvalidColumnIdException"


def test_delete_column_refuses_the_name_and_subitems_columns(
    sandbox: Sandbox, client: httpx.Client, board: Board
) -> None:
    sandbox.ensure_subitems_board(board.id)
    for column_id in ("name", "subitems"):
        (error,) = errors(client, DELETE, {"b": board.id, "c": column_id})
        assert error["extensions"]["code"] == "InvalidArgumentException"
    ids = {c["id"] for c in read_board(client, board)["columns"]}
    assert {"name", "subitems"} <= ids


def test_deleted_column_id_stays_taken(client: httpx.Client, board: Board) -> None:
    data(client, DELETE, {"b": board.id, "c": "text"})
    (error,) = errors(
        client,
        'mutation($b:ID!) { create_column(board_id:$b, title:"Text", column_type:text, id:"text") { id } }',
        {"b": board.id},
    )
    assert error["extensions"]["code"] == "InvalidColumnIdException"


# ----------------------------------------------------------------------------- admin endpoints
def test_admin_rename_delete_and_create_columns(
    server: SandboxServer, client: httpx.Client, filled: Board, clock: Clock
) -> None:
    before = read_board(client, filled)
    clock.set(clock.now().replace(day=5, hour=8, minute=30))
    renamed = admin(server, f"/boards/{filled.id}/columns/status/rename", {"title": "Stage"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Stage"
    gone = admin(server, f"/boards/{filled.id}/columns/date/delete")
    assert gone.status_code == 200 and gone.json()["archived"] is True
    made = admin(
        server,
        f"/boards/{filled.id}/columns",
        {"title": "Priority", "type": "status", "id": "priority"},
    )
    assert made.status_code == 200, made.text
    assert made.json()["type"] == "status" and made.json()["settings"]["labels"]
    after = read_board(client, filled)
    columns = columns_of(after)
    assert columns["status"]["title"] == "Stage"
    assert "date" not in columns
    assert columns["priority"]["type"] == "status"
    assert after["updated_at"] == LATER
    assert item_times(after) == item_times(before)
    listing = {b["id"]: b for b in httpx.get(f"{server.url}/sandbox/boards").json()}
    assert "date" not in {c["id"] for c in listing[filled.id]["columns"]}
    # errors are 400 with monday's code
    duplicate = admin(
        server, f"/boards/{filled.id}/columns", {"title": "P", "type": "text", "id": "priority"}
    )
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "InvalidColumnIdException"
    assert admin(server, f"/boards/{filled.id}/columns", {"title": "P", "type": "bogus"}).status_code == 400
    assert admin(server, f"/boards/{filled.id}/columns", {"type": "text"}).status_code == 400
    missing = admin(server, f"/boards/{filled.id}/columns/nope/rename", {"title": "X"})
    assert missing.status_code == 400 and missing.json()["code"] == "InvalidColumnIdException"
    assert admin(server, f"/boards/{filled.id}/columns/name/delete").status_code == 400
    assert admin(server, "/boards/42/columns/text/delete").json()["code"] == "InvalidBoardIdException"


def test_retype_text_to_numbers_keeps_numbers_and_drops_the_rest(
    server: SandboxServer, client: httpx.Client, filled: Board, clock: Clock
) -> None:
    before = read_board(client, filled)
    clock.set(clock.now().replace(day=5, hour=8, minute=30))
    answer = admin(
        server,
        f"/boards/{filled.id}/columns/text/retype",
        {"type": "numbers", "settings": {"unit": {"symbol": "$", "direction": "left"}}},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["type"], body["kept"], body["dropped"]) == ("numbers", 2, 1)
    assert body["settings"]["unit"]["symbol"] == "$"
    after = read_board(client, filled)
    column = columns_of(after)["text"]
    assert (column["type"], column["title"]) == ("numbers", "Text")
    values = cells(after)
    assert values["a"]["text"]["type"] == "numbers"
    assert values["a"]["text"]["number"] == 12.5
    assert values["c"]["text"]["number"] == 7
    assert values["b"]["text"]["number"] is None and values["b"]["text"]["value"] is None
    assert values["d"]["text"]["number"] is None
    assert after["updated_at"] == LATER
    assert item_times(after) == item_times(before)
    bigger = data(
        client,
        'query($b:[ID!]) { boards(ids:$b) { items_page(query_params: {rules: [{column_id: "text",'
        " compare_value: [10], operator: greater_than}]}) { items { name } } } }",
        {"b": [filled.id]},
    )
    assert bigger["boards"][0]["items_page"]["items"] == [{"name": "a"}]


def test_retype_to_text_keeps_the_text_and_to_status_creates_labels(
    sandbox: Sandbox, server: SandboxServer, client: httpx.Client, filled: Board
) -> None:
    assert admin(server, f"/boards/{filled.id}/columns/numbers/retype", {"type": "text"}).json()["kept"] == 2
    assert admin(server, f"/boards/{filled.id}/columns/status/retype", {"type": "text"}).json()["kept"] == 1
    values = cells(read_board(client, filled))
    assert (values["a"]["numbers"]["type"], values["a"]["numbers"]["text"]) == ("text", "3")
    assert values["b"]["numbers"]["value"] == '"-4"'
    assert values["a"]["status"]["text"] == "Done"
    to_status = admin(server, f"/boards/{filled.id}/columns/numbers/retype", {"type": "status"}).json()
    # "3" and "-4": a numeric status text is a label id, so "3" (unknown id) is dropped, "-4" becomes a label
    assert (to_status["kept"], to_status["dropped"]) == (1, 1)
    back = cells(read_board(client, filled))
    assert back["b"]["numbers"]["label"] == "-4"
    assert back["a"]["numbers"]["text"] is None
    labels = [label["label"] for label in to_status["settings"]["labels"]]
    assert "-4" in labels and "Done" in labels  # the default labels, plus the new one
    dropped = admin(server, f"/boards/{filled.id}/columns/text/retype", {"type": "checkbox"}).json()
    assert (dropped["kept"], dropped["dropped"]) == (0, 3)
    assert all(item.values.get("text") is None for item in sandbox.data.items.values())


def test_retype_to_the_same_type_only_changes_settings(
    server: SandboxServer, client: httpx.Client, filled: Board
) -> None:
    answer = admin(
        server, f"/boards/{filled.id}/columns/numbers/retype", {"type": "numbers", "settings": {"unit": None}}
    ).json()
    assert (answer["kept"], answer["dropped"]) == (0, 0)
    assert cells(read_board(client, filled))["a"]["numbers"]["number"] == 3


def test_retype_refuses_what_it_cannot_do(server: SandboxServer, sandbox: Sandbox, board: Board) -> None:
    sandbox.ensure_subitems_board(board.id)
    cases = [
        ("text", {"type": "unheard_of"}, "InvalidArgumentException"),
        ("text", {"type": "subtasks"}, "InvalidArgumentException"),
        ("name", {"type": "text"}, "InvalidArgumentException"),
        ("subitems", {"type": "text"}, "InvalidArgumentException"),
        ("nope", {"type": "text"}, "InvalidColumnIdException"),
    ]
    for column_id, body, code in cases:
        answer = admin(server, f"/boards/{board.id}/columns/{column_id}/retype", body)
        assert answer.status_code == 400 and answer.json()["code"] == code, (column_id, answer.text)
    assert admin(server, f"/boards/{board.id}/columns/text/retype", {}).status_code == 400
    assert (
        admin(server, f"/boards/{board.id}/columns/text/retype", {"type": "text", "settings": []}).status_code
        == 400
    )
