"""Complexity budget, per-query cap, fault knobs and Idempotency-Key, over real HTTP."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

from .conftest import APP_TOKEN, TOKEN, data, gql

PAGE = "query($b:[ID!]) { boards(ids:$b) { items_page(limit: 100) { items { id column_values { text } } } } }"


def test_budget_exhaustion_is_429_until_the_window_resets(
    sandbox: Sandbox, board: Board, client: httpx.Client, clock: Clock
) -> None:
    cost = data(client, "{ complexity { query } }")["complexity"]["query"]
    sandbox.settings.complexity_budget = cost * 3
    clock.advance(61)  # a fresh window
    for _ in range(3):
        assert gql(client, "{ complexity { query } }").status_code == 200
    clock.advance(20)
    response = gql(client, "{ complexity { query } }")
    assert response.status_code == 429
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "COMPLEXITY_BUDGET_EXHAUSTED"
    assert error["extensions"]["retry_in_seconds"] == 40
    assert response.headers["Retry-After"] == "40"
    assert "r=0" in response.headers["RateLimit"]
    clock.advance(40)
    assert gql(client, "{ complexity { query } }").status_code == 200


def test_nested_items_and_column_values_cost_more(board: Board, client: httpx.Client) -> None:
    def cost(selection: str) -> int:
        query = "query($b:[ID!]) { complexity { query } boards(ids:$b) { " + selection + " } }"
        return int(data(client, query, {"b": [board.id]})["complexity"]["query"])

    flat = cost("id")
    items = cost("items_page(limit: 100) { items { id } }")
    values = cost("items_page(limit: 100) { items { id column_values { id text value } } }")
    big = cost("items_page(limit: 500) { items { id column_values { id text value } } }")
    assert flat < items < values < big


def test_app_tokens_have_separate_read_and_write_budgets(
    sandbox: Sandbox, board: Board, server: SandboxServer
) -> None:
    app = httpx.Client(base_url=server.url, headers={"Authorization": APP_TOKEN})
    read_cost = data(app, "{ complexity { query } }")["complexity"]["query"]
    sandbox.settings.complexity_budget = 20_000
    sandbox.clock.advance(61)
    write = f'mutation {{ create_item(board_id: {board.id}, item_name: "x") {{ id }} }}'
    assert gql(app, write).status_code == 200
    assert gql(app, write).status_code == 429  # writes exhausted ...
    assert gql(app, "{ complexity { query } }").status_code == 200  # ... reads still fine
    assert read_cost < 20_000


def test_a_single_query_over_five_million_is_refused(board: Board, client: httpx.Client) -> None:
    query = (
        "{ boards(limit: 100) { items_page(limit: 500) { items { column_values { id text value } "
        "subitems { column_values { id text } } } } } }"
    )
    response = gql(client, query)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "maxComplexityExceeded"


@pytest.mark.parametrize("status", ["500", "502", "429"])
def test_fail_next_n_requests(server: SandboxServer, client: httpx.Client, status: str) -> None:
    server.runtime.faults.configure(None, fail_next=2, fail_with=status)
    assert [gql(client, "{ me { id } }").status_code for _ in range(3)] == [int(status), int(status), 200]


def test_faults_per_token_do_not_touch_other_tokens(server: SandboxServer, client: httpx.Client) -> None:
    httpx.post(f"{server.url}/sandbox/faults", json={"token": APP_TOKEN, "fail_next": 1, "fail_with": "502"})
    assert gql(client, "{ me { id } }").status_code == 200
    assert gql(client, "{ me { id } }", Authorization=APP_TOKEN).status_code == 502
    assert gql(client, "{ me { id } }", Authorization=APP_TOKEN).status_code == 200


def test_drop_closes_the_connection_without_an_answer(server: SandboxServer, client: httpx.Client) -> None:
    server.runtime.faults.configure(TOKEN, fail_next=1, fail_with="drop")
    with pytest.raises(httpx.TransportError):
        gql(client, "{ me { id } }")
    assert gql(client, "{ me { id } }").status_code == 200


def test_latency_is_added(server: SandboxServer, client: httpx.Client) -> None:
    server.runtime.faults.configure(None, latency_ms=300)
    started = time.perf_counter()
    assert gql(client, "{ me { id } }").status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_locked_board_answers_423(server: SandboxServer, board: Board, client: httpx.Client) -> None:
    server.runtime.faults.configure(None, locked_boards=[board.id])
    response = gql(client, f'mutation {{ create_item(board_id: {board.id}, item_name: "x") {{ id }} }}')
    assert response.status_code == 423
    assert "locked" in response.json()["errors"][0]["message"]
    assert not board.item_ids
    assert gql(client, "{ me { id } }").status_code == 200  # reads are not locked


def test_idempotency_key_replays_the_first_answer(board: Board, client: httpx.Client) -> None:
    mutation = f'mutation {{ create_item(board_id: {board.id}, item_name: "once") {{ id }} }}'
    first = gql(client, mutation, **{"Idempotency-Key": "k-1"})
    second = gql(client, mutation, **{"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 200
    assert "Idempotency-Replayed" not in first.headers
    assert second.headers["Idempotency-Replayed"] == "true"
    assert second.json()["data"] == first.json()["data"]
    assert len(board.item_ids) == 1
    third = gql(client, mutation, **{"Idempotency-Key": "k-2"})
    assert third.json()["data"] != first.json()["data"]
    assert len(board.item_ids) == 2


def test_idempotency_key_expires_after_30_minutes(board: Board, client: httpx.Client, clock: Clock) -> None:
    mutation = f'mutation {{ create_item(board_id: {board.id}, item_name: "x") {{ id }} }}'
    gql(client, mutation, **{"Idempotency-Key": "k"})
    clock.advance(31 * 60)
    assert "Idempotency-Replayed" not in gql(client, mutation, **{"Idempotency-Key": "k"}).headers
    assert len(board.item_ids) == 2


def test_concurrent_duplicate_gets_409(server: SandboxServer, board: Board) -> None:
    server.runtime.faults.configure(None, latency_ms=600)
    mutation = f'mutation {{ create_item(board_id: {board.id}, item_name: "x") {{ id }} }}'
    body = json.dumps({"query": mutation})
    headers = {"Authorization": TOKEN, "Idempotency-Key": "same", "Content-Type": "application/json"}
    results: list[int] = []

    def send() -> None:
        results.append(httpx.post(f"{server.url}/v2", content=body, headers=headers, timeout=10).status_code)

    first = threading.Thread(target=send)
    first.start()
    time.sleep(0.2)
    conflict = httpx.post(f"{server.url}/v2", content=body, headers=headers, timeout=10)
    first.join()
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert "Retry-After" in conflict.headers
    assert results == [200]
    assert len(board.item_ids) == 1


def test_idempotency_key_is_ignored_on_queries(client: httpx.Client) -> None:
    assert "Idempotency-Replayed" not in gql(client, "{ me { id } }", **{"Idempotency-Key": "q"}).headers
    assert "Idempotency-Replayed" not in gql(client, "{ me { id } }", **{"Idempotency-Key": "q"}).headers


def test_a_throttled_mutation_is_not_replayed_its_retry_runs_once_the_budget_resets(
    sandbox: Sandbox, board: Board, client: httpx.Client, clock: Clock
) -> None:
    mutation = f'mutation {{ create_item(board_id: {board.id}, item_name: "later") {{ id }} }}'
    sandbox.settings.complexity_budget = 5_000  # less than one write
    clock.advance(61)
    throttled = gql(client, mutation, **{"Idempotency-Key": "k-throttled"})
    assert throttled.status_code == 429
    sandbox.settings.complexity_budget = 10_000_000
    clock.advance(61)
    retried = gql(client, mutation, **{"Idempotency-Key": "k-throttled"})
    assert retried.status_code == 200 and "Idempotency-Replayed" not in retried.headers
    assert len(board.item_ids) == 1


def test_a_mutation_reports_its_complexity_and_asking_costs_no_write(
    board: Board, client: httpx.Client
) -> None:
    def create(alias: str) -> str:
        return f'{alias}: create_item(board_id: {board.id}, item_name: "{alias}") {{ id }}'

    one = f"mutation {{ complexity {{ query after }} {create('a')} }}"
    two = f"mutation {{ complexity {{ query after }} {create('a')} {create('b')} }}"
    first = data(client, one)["complexity"]
    second = data(client, two)["complexity"]
    assert 10_000 <= first["query"] < 11_000
    assert 20_000 <= second["query"] < 21_000
    assert second["after"] < first["after"]
