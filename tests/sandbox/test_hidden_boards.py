"""The `hidden_boards` fault knob: boards the token's user can't access, subitems boards included,
and `items_page` with an updated_at filter straight on a subitems board."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board, Item
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

from .conftest import APP_TOKEN, TOKEN, data, errors, gql

ITEMS = """query($ids: [ID!]) { items(ids: $ids, limit: 100) {
  id board { id } parent_item { id } subitems { id } } }"""
PAGE = """query($b: [ID!], $l: Int!) { boards(ids: $b) { id items_page(limit: $l) {
  cursor items { id subitems { id } } } } }"""
NEXT = """query($c: String!, $l: Int!) { next_items_page(cursor: $c, limit: $l) { cursor items { id } } }"""
SUB_PAGE = """query($b: [ID!], $l: Int!, $day: CompareValue!) { boards(ids: $b) {
  items_page(limit: $l, query_params: {rules: [{column_id: "__last_updated__", compare_value: $day,
    operator: greater_than_or_equals, compare_attribute: "UPDATED_AT"}]}) {
    cursor items { id name updated_at parent_item { id } } } } }"""


class Family:
    def __init__(self, board: Board, sub_board: Board, parents: list[Item], subitems: list[Item]) -> None:
        self.board = board
        self.sub_board = sub_board
        self.parents = parents
        self.subitems = subitems


@pytest.fixture
def family(sandbox: Sandbox, board: Board) -> Family:
    """`board` with three parents (two subitems each, on its subitems board)."""
    parents = [sandbox.create_item(board.id, f"parent {n}") for n in range(3)]
    subitems = [sandbox.create_subitem(p.id, f"{p.name} / sub {k}") for p in parents for k in range(2)]
    sub_board = sandbox.subitems_board(board)
    assert sub_board is not None
    return Family(board, sub_board, parents, subitems)


def hide(server: SandboxServer, boards: list[int], token: str | None = TOKEN) -> dict[str, Any]:
    body: dict[str, Any] = {"hidden_boards": boards}
    if token is not None:
        body["token"] = token
    answer = httpx.post(f"{server.url}/sandbox/faults", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [int(row["id"]) for row in rows]


def as_app(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": APP_TOKEN}, timeout=30)


def test_knob_is_set_per_token_and_listed(server: SandboxServer, family: Family) -> None:
    knobs = hide(server, [family.sub_board.id, str(family.board.id)])
    assert knobs[TOKEN]["hidden_boards"] == sorted([family.board.id, family.sub_board.id])
    assert httpx.get(f"{server.url}/sandbox/faults").json()[TOKEN]["hidden_boards"] == sorted(
        [family.board.id, family.sub_board.id]
    )
    assert hide(server, [])[TOKEN]["hidden_boards"] == []
    for bad in ("123", 123, ["x"]):
        answer = httpx.post(f"{server.url}/sandbox/faults", json={"token": TOKEN, "hidden_boards": bad})
        assert answer.status_code == 400, bad


def test_hidden_subitems_board_is_invisible_to_that_token_only(
    server: SandboxServer, client: httpx.Client, family: Family
) -> None:
    hide(server, [family.sub_board.id])
    assert data(client, "query($b:[ID!]) { boards(ids:$b) { id } }", {"b": [family.sub_board.id]}) == {
        "boards": []
    }
    # the parent board is still there, but its items have no (visible) subitems
    page = data(client, PAGE, {"b": [family.board.id], "l": 500})["boards"][0]["items_page"]
    assert ids(page["items"]) == [p.id for p in family.parents]
    assert all(item["subitems"] == [] for item in page["items"])
    # items(ids:) leaves the subitems out
    asked = [family.parents[0].id, *(s.id for s in family.subitems)]
    found = data(client, ITEMS, {"ids": asked})["items"]
    assert ids(found) == [family.parents[0].id]
    assert found[0]["subitems"] == []
    # the parent's subtasks column still lists the subitem ids
    cell = data(
        client,
        'query($i:[ID!]) { items(ids:$i) { column_values(ids: ["subitems"]) { value } } }',
        {"i": [family.parents[0].id]},
    )["items"][0]["column_values"][0]
    assert str(family.subitems[0].id) in cell["value"]
    # another token sees everything
    with as_app(server) as other:
        assert len(data(other, ITEMS, {"ids": asked})["items"]) == len(asked)
        visible = data(other, "query($b:[ID!]) { boards(ids:$b) { id } }", {"b": [family.sub_board.id]})
        assert ids(visible["boards"]) == [family.sub_board.id]


def test_hidden_parent_board_hides_boards_items_and_parent_item(
    server: SandboxServer, client: httpx.Client, family: Family
) -> None:
    hide(server, [family.board.id])
    assert data(client, "{ boards(limit: 100) { id } }")["boards"] == []
    assert data(client, "query($b:[ID!]) { boards(ids:$b) { id } }", {"b": [family.board.id]}) == {
        "boards": []
    }
    found = data(client, ITEMS, {"ids": [family.parents[0].id, family.subitems[0].id]})["items"]
    assert found == [
        {
            "id": str(family.subitems[0].id),
            "board": {"id": str(family.sub_board.id)},
            "parent_item": None,
            "subitems": [],
        }
    ]
    # the subitems board itself stays readable
    page = data(client, PAGE, {"b": [family.sub_board.id], "l": 500})["boards"][0]["items_page"]
    assert ids(page["items"]) == [s.id for s in family.subitems]


def test_next_items_page_on_a_hidden_board_is_a_permission_error(
    server: SandboxServer, client: httpx.Client, family: Family
) -> None:
    first = data(client, PAGE, {"b": [family.sub_board.id], "l": 2})["boards"][0]["items_page"]
    assert first["cursor"]
    hide(server, [family.sub_board.id])
    response = gql(client, NEXT, {"c": first["cursor"], "l": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == "User unauthorized to perform action"
    assert error["path"] == ["next_items_page"]
    assert error["extensions"] == {
        "code": "UserUnauthorizedException",
        "error_data": {"board_id": family.sub_board.id},
        "status_code": 403,
    }
    hide(server, [])
    resumed = data(client, NEXT, {"c": first["cursor"], "l": 2})["next_items_page"]
    assert ids(resumed["items"]) == [s.id for s in family.subitems[2:4]]


def test_mutations_on_a_hidden_board_are_refused(
    server: SandboxServer, sandbox: Sandbox, client: httpx.Client, family: Family
) -> None:
    hide(server, [family.sub_board.id])
    count = len(sandbox.data.items)
    (sub,) = errors(
        client,
        'mutation($p:ID!) { create_subitem(parent_item_id:$p, item_name:"x") { id } }',
        {"p": family.parents[0].id},
    )
    assert sub["extensions"]["code"] == "UserUnauthorizedException"
    (edit,) = errors(
        client,
        'mutation($b:ID!,$i:ID!) { change_multiple_column_values(board_id:$b, item_id:$i, column_values:"{}")'
        " { id } }",
        {"b": family.sub_board.id, "i": family.subitems[0].id},
    )
    assert edit["extensions"]["code"] == "UserUnauthorizedException"
    (delete,) = errors(
        client, "mutation($i:ID!) { delete_item(item_id:$i) { id } }", {"i": family.subitems[0].id}
    )
    assert delete["extensions"]["code"] == "UserUnauthorizedException"
    assert len(sandbox.data.items) == count
    assert family.subitems[0].state == "active"
    made = data(
        client,
        'mutation($b:ID!) { create_item(board_id:$b, item_name:"still fine") { id } }',
        {"b": family.board.id},
    )
    assert made["create_item"]["id"]


def test_global_knob_applies_to_every_token_and_clear_removes_it(
    server: SandboxServer, client: httpx.Client, family: Family
) -> None:
    hide(server, [family.board.id], token=None)
    query = "query($b:[ID!]) { boards(ids:$b) { id } }"
    assert data(client, query, {"b": [family.board.id]})["boards"] == []
    with as_app(server) as other:
        assert data(other, query, {"b": [family.board.id]})["boards"] == []
    httpx.post(f"{server.url}/sandbox/faults", json={"clear": True})
    assert ids(data(client, query, {"b": [family.board.id]})["boards"]) == [family.board.id]


def test_items_page_on_a_subitems_board_filters_on_updated_at(
    sandbox: Sandbox, client: httpx.Client, family: Family, clock: Clock
) -> None:
    """monday may refuse this (API-FACTS §7: unconfirmed); the sandbox serves it like any board."""
    clock.advance(2 * 86400)  # 2026-12-05
    edited = family.subitems[1]
    sandbox.change_column_values(family.sub_board.id, edited.id, {"name": "renamed sub"})
    fresh = sandbox.create_subitem(family.parents[2].id, "new sub")
    day = ["EXACT", "2026-12-05"]
    page = data(client, SUB_PAGE, {"b": [family.sub_board.id], "l": 500, "day": day})["boards"][0]
    items = page["items_page"]["items"]
    assert ids(items) == [edited.id, fresh.id]
    assert page["items_page"]["cursor"] is None
    assert items[0] == {
        "id": str(edited.id),
        "name": "renamed sub",
        "updated_at": "2026-12-05T10:00:00Z",
        "parent_item": {"id": str(family.parents[0].id)},
    }
    assert items[1]["parent_item"] == {"id": str(family.parents[2].id)}
    # the filter travels with the cursor
    first = data(client, SUB_PAGE, {"b": [family.sub_board.id], "l": 1, "day": day})["boards"][0]
    assert ids(first["items_page"]["items"]) == [edited.id]
    rest = data(client, NEXT, {"c": first["items_page"]["cursor"], "l": 500})["next_items_page"]
    assert ids(rest["items"]) == [fresh.id] and rest["cursor"] is None
    # an earlier day takes every subitem
    everything = data(
        client, SUB_PAGE, {"b": [family.sub_board.id], "l": 500, "day": ["EXACT", "2026-12-03"]}
    )
    assert len(everything["boards"][0]["items_page"]["items"]) == len(family.subitems) + 1
