"""The /sandbox/ admin API and --state persistence."""

from __future__ import annotations

from pathlib import Path

import httpx

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer, build_sandbox
from monday_sandbox.state import Sandbox

from .conftest import TOKEN, data


def test_boards_listing_and_seed(server: SandboxServer, client: httpx.Client) -> None:
    seeded = httpx.post(
        f"{server.url}/sandbox/seed", json={"boards": 1, "items": 20, "subitems": 1, "seed": 3}
    )
    assert seeded.status_code == 200
    board_ids = seeded.json()["board_ids"]
    listing = {b["id"]: b for b in httpx.get(f"{server.url}/sandbox/boards").json()}
    assert set(board_ids) <= set(listing)
    main = next(listing[i] for i in board_ids if listing[i]["items_count"] == 20)
    assert main["subitems_board_id"] in listing
    page = data(
        client,
        "query($b:[ID!]) { boards(ids:$b) { items_page(limit: 500) { items { id } } } }",
        {"b": [main["id"]]},
    )
    assert len(page["boards"][0]["items_page"]["items"]) == 20


def test_reset_keeps_tokens_and_forgets_boards(
    server: SandboxServer, board: Board, client: httpx.Client
) -> None:
    assert httpx.post(f"{server.url}/sandbox/reset").status_code == 200
    assert data(client, "{ boards { id } me { name } }") == {"boards": [], "me": {"name": "Test User"}}


def test_tokens_can_be_added_for_new_users(server: SandboxServer) -> None:
    made = httpx.post(f"{server.url}/sandbox/tokens", json={"name": "Bo", "timezone": "Asia/Tokyo"}).json()
    me = httpx.post(
        f"{server.url}/v2",
        json={"query": "{ me { name time_zone_identifier } }"},
        headers={"Authorization": made["token"]},
    ).json()
    assert me["data"]["me"] == {"name": "Bo", "time_zone_identifier": "Asia/Tokyo"}
    tokens = {t["token"] for t in httpx.get(f"{server.url}/sandbox/tokens").json()}
    assert {TOKEN, made["token"]} <= tokens


def test_clock_endpoint_moves_the_sandbox_clock(server: SandboxServer, clock: Clock) -> None:
    before = clock.now()
    moved = httpx.post(f"{server.url}/sandbox/clock", json={"advance_seconds": 3600}).json()
    assert (clock.now() - before).total_seconds() == 3600
    assert moved["now"].startswith("2026-12-03T11:00")
    httpx.post(f"{server.url}/sandbox/clock", json={"now": "2027-01-01T00:00:00Z"})
    assert clock.now().year == 2027


def test_item_edit_delete_archive_endpoints(server: SandboxServer, sandbox: Sandbox, board: Board) -> None:
    item = sandbox.create_item(board.id, "x")
    bad = httpx.post(
        f"{server.url}/sandbox/items/{item.id}/edit", json={"column_values": {"numbers": "NaN?"}}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "ColumnValueException"
    renamed = httpx.post(f"{server.url}/sandbox/items/{item.id}/edit", json={"name": "y"}).json()
    assert renamed["name"] == "y"
    assert httpx.post(f"{server.url}/sandbox/items/{item.id}/archive").json()["state"] == "archived"
    assert httpx.post(f"{server.url}/sandbox/items/{item.id}/restore").json()["state"] == "active"
    assert httpx.post(f"{server.url}/sandbox/items/{item.id}/delete").json()["state"] == "deleted"
    assert httpx.post(f"{server.url}/sandbox/items/999/delete").status_code == 400


def test_faults_and_settings_endpoints(server: SandboxServer, client: httpx.Client) -> None:
    assert (
        httpx.post(f"{server.url}/sandbox/faults", json={"fail_next": 1, "fail_with": "nope"}).status_code
        == 400
    )
    httpx.post(f"{server.url}/sandbox/faults", json={"fail_next": 1, "fail_with": "502"})
    assert client.post("/v2", json={"query": "{ me { id } }"}).status_code == 502
    httpx.post(f"{server.url}/sandbox/faults", json={"fail_next": 5})
    httpx.post(f"{server.url}/sandbox/faults", json={"clear": True})
    assert client.post("/v2", json={"query": "{ me { id } }"}).status_code == 200
    httpx.post(f"{server.url}/sandbox/settings", json={"complexity_budget": 1})
    assert client.post("/v2", json={"query": "{ me { id } }"}).status_code == 429


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.pickle"
    sandbox = build_sandbox(token="persist", boards=0, state_file=state)
    with SandboxServer(sandbox, state_file=state) as server:
        http = httpx.Client(base_url=server.url, headers={"Authorization": "persist"})
        board = data(http, 'mutation { create_board(board_name: "Kept", board_kind: public) { id } }')[
            "create_board"
        ]
        data(http, f'mutation {{ create_item(board_id: {board["id"]}, item_name: "kept item") {{ id }} }}')
    again = build_sandbox(token="persist", boards=0, state_file=state)
    with SandboxServer(again) as server:
        http = httpx.Client(base_url=server.url, headers={"Authorization": "persist"})
        result = data(
            http, f"{{ boards(ids: [{board['id']}]) {{ name items_page {{ items {{ name }} }} }} }}"
        )
    assert result["boards"] == [{"name": "Kept", "items_page": {"items": [{"name": "kept item"}]}}]
