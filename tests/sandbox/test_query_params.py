"""items_page(query_params:): rules, nested groups, dates in the caller's timezone, order_by, ids."""

from __future__ import annotations

from typing import Any

import httpx

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.state import Sandbox

from .conftest import data, errors

PAGE = """query($b: [ID!], $q: ItemsQuery) {
  boards(ids: $b) { items_page(limit: 500, query_params: $q) { items { name } } } }"""


def names(client: httpx.Client, board: Board, query: dict[str, Any], **headers: str) -> list[str]:
    result = data(client, PAGE, {"b": [board.id], "q": query}, **headers)
    return [i["name"] for i in result["boards"][0]["items_page"]["items"]]


def seed_rows(sandbox: Sandbox, board: Board) -> None:
    sandbox.create_item(board.id, "done-a", column_values={"status": {"index": 1}, "text": "Alpha Beta"})
    sandbox.create_item(
        board.id, "stuck-b", column_values={"status": {"label": "Stuck"}, "text": "beta gamma"}
    )
    sandbox.create_item(board.id, "empty-c", column_values={"numbers": "12.5"})
    sandbox.create_item(board.id, "done-d", column_values={"status": "Done", "numbers": "-3"})


def test_status_any_of_matches_label_ids_and_not_label_text(
    sandbox: Sandbox, board: Board, client: httpx.Client
) -> None:
    seed_rows(sandbox, board)
    rule = {"column_id": "status", "operator": "any_of"}
    assert names(client, board, {"rules": [{**rule, "compare_value": [1]}]}) == ["done-a", "done-d"]
    assert names(client, board, {"rules": [{**rule, "compare_value": [1, 2]}]}) == [
        "done-a",
        "stuck-b",
        "done-d",
    ]
    assert names(client, board, {"rules": [{**rule, "compare_value": ["Done"]}]}) == []
    assert names(client, board, {"rules": [{**rule, "compare_value": [5]}]}) == ["empty-c"]
    not_done = {"rules": [{**rule, "operator": "not_any_of", "compare_value": [1]}]}
    assert names(client, board, not_done) == ["stuck-b", "empty-c"]


def test_is_empty_contains_text_and_numbers(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    seed_rows(sandbox, board)
    assert names(
        client, board, {"rules": [{"column_id": "text", "compare_value": [], "operator": "is_empty"}]}
    ) == ["empty-c", "done-d"]
    assert names(
        client, board, {"rules": [{"column_id": "text", "compare_value": [], "operator": "is_not_empty"}]}
    ) == ["done-a", "stuck-b"]
    contains = {"rules": [{"column_id": "text", "compare_value": ["BETA"], "operator": "contains_text"}]}
    assert names(client, board, contains) == ["done-a", "stuck-b"]
    starts = {"rules": [{"column_id": "text", "compare_value": ["beta"], "operator": "starts_with"}]}
    assert names(client, board, starts) == ["stuck-b"]
    bigger = {"rules": [{"column_id": "numbers", "compare_value": [0], "operator": "greater_than"}]}
    assert names(client, board, bigger) == ["empty-c"]


def test_nested_or_group_inside_and(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    seed_rows(sandbox, board)
    query = {
        "rules": [{"column_id": "numbers", "compare_value": [], "operator": "is_not_empty"}],
        "groups": [
            {
                "operator": "or",
                "rules": [
                    {"column_id": "status", "compare_value": [1], "operator": "any_of"},
                    {"column_id": "name", "compare_value": ["empty"], "operator": "contains_text"},
                ],
            }
        ],
        "operator": "and",
    }
    assert names(client, board, query) == ["empty-c", "done-d"]
    query["operator"] = "or"
    assert names(client, board, query) == ["done-a", "empty-c", "done-d"]


def test_last_updated_exact_dates_use_the_callers_timezone(
    sandbox: Sandbox, board: Board, client: httpx.Client, clock: Clock
) -> None:
    la_user = sandbox.create_user("LA", "la@example.com", timezone="America/Los_Angeles")
    sandbox.add_token("la-token", la_user.id)
    clock.advance(-5 * 3600)  # 05:00 UTC on 3 Dec = 21:00 on 2 Dec in Los Angeles
    sandbox.create_item(board.id, "early")
    clock.advance(5 * 3600)  # 10:00 UTC on 3 Dec = 02:00 on 3 Dec in Los Angeles
    sandbox.create_item(board.id, "late")
    since = {
        "rules": [
            {
                "column_id": "__last_updated__",
                "compare_value": ["EXACT", "2026-12-03"],
                "operator": "greater_than_or_equals",
                "compare_attribute": "UPDATED_AT",
            }
        ]
    }
    assert names(client, board, since) == ["early", "late"]  # UTC caller: both on 3 Dec
    assert names(client, board, since, Authorization="la-token") == ["late"]
    until = {
        "rules": [
            {
                "column_id": "__last_updated__",
                "compare_value": ["EXACT", "2026-12-02"],
                "operator": "lower_than_or_equal",
                "compare_attribute": "UPDATED_AT",
            }
        ]
    }
    assert names(client, board, until, Authorization="la-token") == ["early"]
    between = {
        "rules": [
            {
                "column_id": "__last_updated__",
                "compare_value": ["EXACT", "2026-12-01", "EXACT", "2026-12-02"],
                "operator": "between",
                "compare_attribute": "UPDATED_AT",
            }
        ]
    }
    assert names(client, board, between, Authorization="la-token") == ["early"]
    yesterday = {
        "rules": [
            {
                "column_id": "__last_updated__",
                "compare_value": ["YESTERDAY"],
                "operator": "any_of",
                "compare_attribute": "UPDATED_AT",
            }
        ]
    }
    assert names(client, board, yesterday, Authorization="la-token") == ["early"]  # 2 Dec in LA
    assert names(client, board, yesterday) == []
    today = {"rules": [{**yesterday["rules"][0], "compare_value": ["TODAY"]}]}
    assert names(client, board, today) == ["early", "late"]
    assert names(client, board, today, Authorization="la-token") == ["late"]


def test_order_by_last_updated_and_creation_log(
    sandbox: Sandbox, board: Board, client: httpx.Client, clock: Clock
) -> None:
    first = sandbox.create_item(board.id, "first")
    clock.advance(60)
    sandbox.create_item(board.id, "second")
    clock.advance(60)
    sandbox.change_column_values(board.id, first.id, {"text": "touched"})
    by_update = {"order_by": [{"column_id": "__last_updated__", "direction": "desc"}]}
    assert names(client, board, by_update) == ["first", "second"]
    assert names(client, board, {"order_by": [{"column_id": "__last_updated__"}]}) == ["second", "first"]
    by_creation = {"order_by": [{"column_id": "__creation_log__", "direction": "desc"}]}
    assert names(client, board, by_creation) == ["second", "first"]


def test_ids_in_query_params(sandbox: Sandbox, board: Board, client: httpx.Client) -> None:
    items = [sandbox.create_item(board.id, f"n{n}") for n in range(5)]
    assert names(client, board, {"ids": [items[3].id, items[1].id]}) == ["n1", "n3"]
    (error,) = errors(client, PAGE, {"b": [board.id], "q": {"ids": list(range(1, 102))}})
    assert error["extensions"]["code"] == "InvalidArgumentException"


def test_filtered_paging_carries_the_filter_in_the_cursor(
    sandbox: Sandbox, board: Board, client: httpx.Client
) -> None:
    for n in range(30):
        sandbox.create_item(board.id, f"r{n}", column_values={"status": {"index": n % 3}})
    first = data(
        client,
        "query($b:[ID!]) { boards(ids:$b) { items_page(limit: 4, query_params: "
        '{rules: [{column_id: "status", compare_value: [1]}]}) { cursor items { name } } } }',
        {"b": [board.id]},
    )["boards"][0]["items_page"]
    seen = [i["name"] for i in first["items"]]
    cursor = first["cursor"]
    while cursor:
        page = data(
            client,
            "query($c:String!) { next_items_page(cursor:$c, limit: 4) { cursor items { name } } }",
            {"c": cursor},
        )["next_items_page"]
        seen += [i["name"] for i in page["items"]]
        cursor = page["cursor"]
    assert seen == [f"r{n}" for n in range(30) if n % 3 == 1]


def test_unknown_column_in_rule_is_an_error(board: Board, client: httpx.Client) -> None:
    query = {"rules": [{"column_id": "nope", "compare_value": [1]}]}
    (error,) = errors(client, PAGE, {"b": [board.id], "q": query})
    assert error["extensions"]["code"] == "InvalidArgumentException"
