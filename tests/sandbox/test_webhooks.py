"""Webhooks: challenge handshake, monday's payload shapes, retries on the sandbox clock, JWT."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest

from monday_sandbox.clock import Clock
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

from .conftest import APP_TOKEN, Receiver, data, errors, gql

CREATE_HOOK = """mutation($b: ID!, $url: String!, $e: WebhookEventType!, $c: JSON) {
  create_webhook(board_id: $b, url: $url, event: $e, config: $c) { id board_id event config } }"""


def hook(
    client: httpx.Client, board: Board, receiver: Receiver, event: str, config: Any = None
) -> dict[str, Any]:
    variables = {"b": board.id, "url": receiver.url, "e": event, "c": json.dumps(config) if config else None}
    return dict(data(client, CREATE_HOOK, variables)["create_webhook"])


def test_challenge_good_echo_creates_the_webhook(
    board: Board, client: httpx.Client, receiver: Receiver
) -> None:
    created = hook(client, board, receiver, "create_item")
    assert created["event"] == "create_item" and created["board_id"] == str(board.id)
    listed = data(client, f"{{ webhooks(board_id: {board.id}) {{ id event }} }}")["webhooks"]
    assert listed == [{"id": created["id"], "event": "create_item"}]
    deleted = data(client, f"mutation {{ delete_webhook(id: {created['id']}) {{ id }} }}")["delete_webhook"]
    assert deleted["id"] == created["id"]
    assert data(client, f"{{ webhooks(board_id: {board.id}) {{ id }} }}")["webhooks"] == []


def test_wrong_echo_refuses_the_webhook(
    board: Board, client: httpx.Client, receiver: Receiver, sandbox: Sandbox
) -> None:
    receiver.wrong_echo = True
    (error,) = errors(client, CREATE_HOOK, {"b": board.id, "url": receiver.url, "e": "create_item"})
    assert "URL" in error["message"]
    unreachable = {"b": board.id, "url": "http://127.0.0.1:9/hook", "e": "create_item"}
    assert errors(client, CREATE_HOOK, unreachable)
    assert not sandbox.data.webhooks


def test_create_item_and_column_change_payloads(
    sandbox: Sandbox, board: Board, client: httpx.Client, receiver: Receiver
) -> None:
    hook(client, board, receiver, "create_item")
    created_hook = hook(client, board, receiver, "change_column_value")
    item = data(client, f'mutation {{ create_item(board_id: {board.id}, item_name: "New") {{ id }} }}')
    item_id = int(item["create_item"]["id"])
    events = receiver.wait_for(1)
    (created,) = events
    assert created["type"] == "create_pulse"
    assert created["pulseId"] == item_id and created["pulseName"] == "New" and created["boardId"] == board.id
    assert created["groupId"] == next(iter(board.groups)) and created["isTopGroup"] is True
    assert created["triggerUuid"] and created["isRetry"] is False
    data(
        client,
        f'mutation {{ change_column_value(board_id: {board.id}, item_id: {item_id}, column_id: "status", '
        'value: "{\\"index\\": 1}") { id } }',
    )
    data(
        client,
        f'mutation {{ change_column_value(board_id: {board.id}, item_id: {item_id}, column_id: "status", '
        'value: "{\\"index\\": 2}") { id } }',
    )
    events = receiver.wait_for(3)
    first, second = events[1], events[2]
    assert first["type"] == "update_column_value" and first["columnType"] == "color"  # legacy type name
    assert first["columnId"] == "status" and first["columnTitle"] == "Status"
    assert first["previousValue"] is None and first["value"]["label"]["text"] == "Done"
    assert second["previousValue"]["label"]["text"] == "Done" and second["value"]["label"]["index"] == 2
    assert isinstance(second["changedAt"], float)
    assert second["subscriptionId"] == int(created_hook["id"])
    assert "Authorization" not in {k.title() for k in receiver.headers[0]}  # personal token: no JWT


def test_specific_column_and_status_configs_filter_events(
    sandbox: Sandbox, board: Board, client: httpx.Client, receiver: Receiver
) -> None:
    hook(client, board, receiver, "change_specific_column_value", {"columnId": "text"})
    hook(
        client,
        board,
        receiver,
        "change_status_column_value",
        {"columnId": "status", "columnValue": {"index": 2}},
    )
    item = sandbox.create_item(board.id, "x")
    for values in ({"status": {"index": 1}}, {"numbers": "5"}, {"text": "hi"}, {"status": {"index": 2}}):
        data(
            client,
            "mutation($b:ID!, $i:ID, $cv:JSON!) { change_multiple_column_values(board_id:$b, item_id:$i,"
            " column_values:$cv) { id } }",
            {"b": board.id, "i": item.id, "cv": json.dumps(values)},
        )
    events = receiver.wait_for(2)
    assert sorted(e["columnId"] for e in events) == ["status", "text"]
    status_event = next(e for e in events if e["columnId"] == "status")
    assert status_event["value"]["label"]["index"] == 2


def test_name_archive_delete_and_subitem_payloads(
    sandbox: Sandbox, board: Board, client: httpx.Client, receiver: Receiver
) -> None:
    for event in (
        "change_name",
        "item_archived",
        "item_deleted",
        "create_subitem",
        "change_subitem_column_value",
    ):
        hook(client, board, receiver, event)
    item = sandbox.create_item(board.id, "Old")
    other = sandbox.create_item(board.id, "Other")
    data(
        client,
        f"mutation {{ change_multiple_column_values(board_id: {board.id}, item_id: {item.id}, "
        'column_values: "{\\"name\\": \\"New\\"}") { id } }',
    )
    sub = data(
        client,
        f'mutation {{ create_subitem(parent_item_id: {item.id}, item_name: "Kid") {{ id board {{ id }} }} }}',
    )
    sub_board = int(sub["create_subitem"]["board"]["id"])
    sub_id = int(sub["create_subitem"]["id"])
    sub_column = sandbox.create_column(sub_board, "Sub status", "status", None, "sub_status").id
    data(
        client,
        f"mutation {{ change_simple_column_value(board_id: {sub_board}, item_id: {sub_id}, "
        f'column_id: "{sub_column}", value: "Done") {{ id }} }}',
    )
    data(client, f"mutation {{ archive_item(item_id: {other.id}) {{ id }} }}")
    data(client, f"mutation {{ delete_item(item_id: {item.id}) {{ id }} }}")
    events = receiver.wait_for(6)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    (rename,) = by_type["update_name"]
    assert rename["value"] == {"name": "New"} and rename["previousValue"] == {"name": "Old"}
    (created_sub,) = by_type["create_pulse"]
    assert created_sub["boardId"] == sub_board and created_sub["parentItemId"] == str(item.id)
    assert created_sub["parentItemBoardId"] == str(board.id)
    (sub_change,) = by_type["update_column_value"]
    assert sub_change["pulseId"] == sub_id and sub_change["parentItemId"] == str(item.id)
    (archived,) = by_type["archive_pulse"]
    assert archived["itemId"] == other.id and archived["itemName"] == "Other" and "pulseId" not in archived
    deleted = by_type["delete_pulse"]
    assert [d["itemId"] for d in deleted] == [item.id]  # the subitem's deletion is a subitem_deleted event


def test_admin_edit_as_a_person_triggers_webhooks(
    server: SandboxServer, sandbox: Sandbox, board: Board, client: httpx.Client, receiver: Receiver
) -> None:
    hook(client, board, receiver, "change_column_value")
    item = sandbox.create_item(board.id, "x")
    response = httpx.post(
        f"{server.url}/sandbox/items/{item.id}/edit", json={"column_values": {"text": "typed in the UI"}}
    )
    assert response.status_code == 200
    (event,) = receiver.wait_for(1)
    assert event["columnId"] == "text" and event["value"]["value"] == "typed in the UI"


def test_failed_deliveries_retry_every_minute_on_the_clock(
    server: SandboxServer,
    sandbox: Sandbox,
    board: Board,
    client: httpx.Client,
    receiver: Receiver,
    clock: Clock,
) -> None:
    hook(client, board, receiver, "create_item")
    receiver.fail_next = 2
    sandbox.create_item(board.id, "x")
    receiver.wait_for(1)
    service = server.runtime.webhooks
    assert service.deliver_due() == 0  # the retry waits a minute
    clock.advance(60)
    assert service.deliver_due() == 1
    clock.advance(60)
    assert service.deliver_due() == 1
    events = receiver.wait_for(3)
    assert [e["isRetry"] for e in events] == [False, True, True]
    assert events[2]["retryCount"] == 2
    assert len({e["triggerUuid"] for e in events}) == 1
    (delivery,) = httpx.get(f"{server.url}/sandbox/webhooks/deliveries").json()
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]


def test_retries_stop_after_thirty_minutes(
    server: SandboxServer,
    sandbox: Sandbox,
    board: Board,
    client: httpx.Client,
    receiver: Receiver,
    clock: Clock,
) -> None:
    hook(client, board, receiver, "create_item")
    receiver.fail_next = 1000
    sandbox.create_item(board.id, "x")
    receiver.wait_for(1)
    for _ in range(40):
        clock.advance(60)
        server.runtime.webhooks.deliver_due()
    (delivery,) = server.runtime.webhooks.listing()
    assert delivery["status"] == "failed"
    assert 28 <= len(delivery["attempts"]) <= 31


def test_app_token_webhooks_carry_a_verifiable_jwt(
    server: SandboxServer, sandbox: Sandbox, board: Board, receiver: Receiver
) -> None:
    app = httpx.Client(base_url=server.url, headers={"Authorization": APP_TOKEN})
    hook(app, board, receiver, "create_item")
    sandbox.create_item(board.id, "x")
    receiver.wait_for(1)
    token = receiver.headers[0]["authorization"]
    # iat/exp follow the sandbox clock (frozen hours in the past), so check them ourselves
    unchecked = {"verify_exp": False, "verify_iat": False}
    claims = jwt.decode(
        token, sandbox.settings.signing_secret, algorithms=["HS256"], audience=receiver.url, options=unchecked
    )
    assert claims["accountId"] == sandbox.account.id
    assert claims["userId"] == sandbox.data.tokens[APP_TOKEN].user_id
    assert claims["iat"] == int(sandbox.clock.timestamp())
    assert claims["exp"] > claims["iat"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            "a-different-secret-of-the-same-length!!",
            algorithms=["HS256"],
            audience=receiver.url,
            options=unchecked,
        )


def test_webhook_jwt_times_follow_the_sandbox_clock(
    server: SandboxServer, sandbox: Sandbox, clock: Clock, board: Board, receiver: Receiver
) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    clock.set(when)
    with httpx.Client(base_url=server.url, headers={"Authorization": APP_TOKEN}) as app:
        hook(app, board, receiver, "create_item")
    sandbox.create_item(board.id, "x")
    receiver.wait_for(1)
    claims = jwt.decode(
        receiver.headers[0]["authorization"],
        sandbox.settings.signing_secret,
        algorithms=["HS256"],
        audience=receiver.url,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iat"] == int(when.timestamp())
    assert claims["exp"] == int(when.timestamp()) + 300
    token = server.runtime.webhooks.sign(receiver.url, 1, 2)
    later = jwt.decode(token, options={"verify_signature": False})
    assert later["iat"] == int(clock.timestamp())


def test_delivery_does_not_block_the_mutation(
    sandbox: Sandbox, board: Board, client: httpx.Client, receiver: Receiver
) -> None:
    hook(client, board, receiver, "create_item")
    response = gql(client, f'mutation {{ create_item(board_id: {board.id}, item_name: "x") {{ id }} }}')
    assert response.status_code == 200
    assert receiver.wait_for(1)
