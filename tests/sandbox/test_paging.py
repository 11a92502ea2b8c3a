"""items_page / next_items_page / items(ids:): every item exactly once, cursor lifetime, limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.state import Sandbox

from .conftest import data, errors, gql

FIRST = (
    "query($b: [ID!], $l: Int!) { boards(ids: $b) { items_page(limit: $l) { cursor items { id name } } } }"
)
NEXT = "query($c: String!, $l: Int!) { next_items_page(cursor: $c, limit: $l) { cursor items { id name } } }"


def fill(sandbox: Sandbox, board: Board, count: int) -> list[int]:
    return [sandbox.create_item(board.id, f"Item {n}", notify=False).id for n in range(count)]


def page_through(client: httpx.Client, board_id: int, limit: int, between_pages: Any = None) -> list[int]:
    page = data(client, FIRST, {"b": [board_id], "l": limit})["boards"][0]["items_page"]
    seen = [int(i["id"]) for i in page["items"]]
    assert len(page["items"]) <= limit
    cursor = page["cursor"]
    while cursor:
        if between_pages:
            between_pages()
        page = data(client, NEXT, {"c": cursor, "l": limit})["next_items_page"]
        assert len(page["items"]) <= limit
        seen += [int(i["id"]) for i in page["items"]]
        cursor = page["cursor"]
    return seen


@pytest.mark.parametrize("limit", [1, 7, 100, 500])
def test_paging_visits_every_item_exactly_once(
    sandbox: Sandbox, board: Board, client: httpx.Client, limit: int
) -> None:
    ids = fill(sandbox, board, 1003 if limit >= 100 else 50)
    seen = page_through(client, board.id, limit)
    assert seen == ids


def test_items_created_while_paging_do_not_break_the_walk(
    sandbox: Sandbox, board: Board, client: httpx.Client
) -> None:
    ids = fill(sandbox, board, 60)
    seen = page_through(client, board.id, 7, lambda: sandbox.create_item(board.id, "late", notify=False))
    assert seen == ids
    assert len(set(seen)) == len(seen)


def test_items_page_returns_active_items_only(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    a, b, c = fill(sandbox, board, 3)
    sandbox.archive_item(b)
    sandbox.delete_item(c)
    assert page_through(client, board.id, 25) == [a]
    result = data(client, "query($b:[ID!]) { boards(ids:$b) { items_count } }", {"b": [board.id]})
    assert result["boards"][0]["items_count"] == 1


def test_group_items_page_only_has_that_group(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    later = list(board.groups)[1]
    mine = sandbox.create_item(board.id, "in later", later).id
    sandbox.create_item(board.id, "in first")
    result = data(
        client,
        "query($b:[ID!], $g:[String]) { boards(ids:$b) { groups(ids:$g) { "
        "id items_page { items { id } } } } }",
        {"b": [board.id], "g": [later]},
    )
    assert result["boards"][0]["groups"][0]["items_page"]["items"] == [{"id": str(mine)}]


def test_cursor_expires_sixty_minutes_after_first_issue(
    sandbox: Sandbox, board: Board, client: httpx.Client, clock: Clock
) -> None:
    fill(sandbox, board, 30)
    cursor = data(client, FIRST, {"b": [board.id], "l": 10})["boards"][0]["items_page"]["cursor"]
    clock.advance(30 * 60)
    second = data(client, NEXT, {"c": cursor, "l": 10})["next_items_page"]["cursor"]
    clock.advance(30 * 60 + 1)  # the lifetime counts from the first page, not the last use
    response = gql(client, NEXT, {"c": second, "l": 10})
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "CursorExpiredError"
    assert "cursor has expired" in error["message"]


def test_garbage_cursor_is_an_error_not_a_crash(client: httpx.Client) -> None:
    for cursor in ("not base64 at all!", "MTIz"):
        response = gql(client, NEXT, {"c": cursor, "l": 10})
        assert response.status_code == 200
        assert response.json()["errors"][0]["extensions"]["code"] in (
            "InvalidArgumentException",
            "CursorExpiredError",
        )


@pytest.mark.parametrize("limit", [0, 501])
def test_page_size_outside_1_to_500_is_rejected(board: Board, client: httpx.Client, limit: int) -> None:
    (error,) = errors(client, FIRST, {"b": [board.id], "l": limit})
    assert error["extensions"]["code"] == "InvalidArgumentException"


def test_cursor_and_query_params_together_is_an_error(board: Board, client: httpx.Client) -> None:
    query = """query($b:[ID!]) { boards(ids:$b) { items_page(cursor: "abc", query_params: {rules: [
                {column_id: "text", compare_value: ["x"], operator: contains_text}]}) { cursor } } }"""
    (error,) = errors(client, query, {"b": [board.id]})
    assert error["extensions"]["code"] == "InvalidArgumentException"
    assert "cursor" in error["message"]


def test_items_by_ids_defaults_to_25_and_includes_archived_and_deleted(
    sandbox: Sandbox, board: Board, client: httpx.Client
) -> None:
    ids = fill(sandbox, board, 40)
    sandbox.archive_item(ids[0])
    sandbox.delete_item(ids[1])
    query = "query($ids:[ID!], $l:Int) { items(ids:$ids, limit:$l) { id state } }"
    assert len(data(client, query, {"ids": ids})["items"]) == 25
    items = data(client, query, {"ids": ids, "l": 40})["items"]
    assert [int(i["id"]) for i in items] == ids
    assert items[0]["state"] == "archived" and items[1]["state"] == "deleted"
    active = data(
        client,
        "query($ids:[ID!]) { items(ids:$ids, limit: 100, exclude_nonactive: true) { id } }",
        {"ids": ids[:5]},
    )
    assert [int(i["id"]) for i in active["items"]] == ids[2:5]


def test_more_than_100_ids_is_rejected(client: httpx.Client) -> None:
    (error,) = errors(
        client, "query($ids:[ID!]) { items(ids:$ids, limit: 100) { id } }", {"ids": list(range(1, 102))}
    )
    assert error["extensions"]["code"] == "InvalidArgumentException"


def test_unknown_board_answers_an_empty_list(client: httpx.Client) -> None:
    assert data(client, "{ boards(ids: [123]) { id } }") == {"boards": []}


def test_boards_paging_and_subitems_boards_hidden_without_ids(sandbox: Sandbox, client: httpx.Client) -> None:
    owner = next(iter(sandbox.data.users.values()))
    made = [sandbox.create_board(f"B{n}", owner.id) for n in range(5)]
    sub = sandbox.ensure_subitems_board(made[0].id)
    listed = data(client, "{ boards(limit: 2, page: 2) { id } }")["boards"]
    assert [int(b["id"]) for b in listed] == [made[2].id, made[3].id]
    all_ids = [int(b["id"]) for b in data(client, "{ boards(limit: 100) { id } }")["boards"]]
    assert sub.id not in all_ids
    by_id = data(client, "query($b:[ID!]) { boards(ids:$b) { type } }", {"b": [sub.id]})["boards"]
    assert by_id == [{"type": "sub_items_board"}]
