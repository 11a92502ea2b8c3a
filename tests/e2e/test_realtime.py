"""Real-time sync end to end: the sandbox registers and delivers real webhooks over HTTP to the
service (uvicorn on 127.0.0.1 with its worker), which stores them, then applies them in batches to the
embedded warehouse. After every scenario both tables are compared with the board, item by item.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from tests.e2e.conftest import TOKEN, Served, serve_seeded
from tests.e2e.test_api import Api, api_settings, finished_run, serving, tcp_socket, wait_for

from monday_sandbox.model import Item
from monday_snowflake.settings import MondaySettings, RealtimeSettings, Settings
from monday_snowflake.store.tables import ConnectionRow
from monday_snowflake.sync.verify import compare_integration

SIGNING_SECRET = "app-signing-secret-for-tests"
ITEM_WEBHOOKS = 7 + 3  # with the subitem create/archive/delete hooks that change a parent's row
SUBITEM_WEBHOOKS = 2


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_seeded(items=40, subitems=1, seed=17)


def realtime_settings(warehouse_dir: Path, tmp_path: Path, served: Served, url: str) -> Settings:
    settings = api_settings(warehouse_dir, f"sqlite:///{tmp_path / 'state.db'}", served.api_url)
    return settings.model_copy(
        update={
            "public_url": url,
            "monday": MondaySettings(
                api_url=served.api_url, backoff_base_seconds=0.01, max_attempts=3,
                signing_secret=SecretStr(SIGNING_SECRET),
            ),
            "realtime": RealtimeSettings(flush_seconds=0.3, poll_seconds=0.05),
        }
    )  # fmt: skip


@contextmanager
def realtime_api(
    warehouse_dir: Path, tmp_path: Path, served: Served, again: Settings | None = None
) -> Iterator[tuple[Api, Settings]]:
    """The service with real-time settings; `again`: the settings of a service stopped before,
    restarted on the same port with the same state, key and schema."""
    port = int(again.public_url.rsplit(":", 1)[1]) if again is not None and again.public_url else 0
    sock = tcp_socket(port)
    settings = again or realtime_settings(
        warehouse_dir, tmp_path, served, f"http://127.0.0.1:{sock.getsockname()[1]}"
    )
    with serving(settings, served, sock=sock) as api:
        yield api, settings


@pytest.fixture
def api(warehouse_data_dir: Path, tmp_path: Path, served: Served) -> Iterator[Api]:
    with realtime_api(warehouse_data_dir, tmp_path, served) as (running, _):
        yield running


def switch_on(api: Api, *, include_subitems: bool = True) -> tuple[Any, dict[str, Any]]:
    """A tenant and an integration with real-time on, its first load done."""
    tenant = api.tenant("acme")
    body = {"include_subitems": include_subitems}
    integration = api.create_integration(tenant, name="live", monday_token=TOKEN, options=body)
    response = tenant.client.put(f"/integrations/{integration['id']}/realtime", json={"enabled": True})
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
    run = finished_run(tenant.client, integration["id"])
    assert (run["kind"], run["status"]) == ("full", "COMPLETED"), run
    return tenant, integration


def settle(api: Api, tenant: Any, integration: dict[str, Any], timeout: float = 90) -> None:
    """Every delivery the sandbox made is answered, and every stored event applied."""
    webhooks = api.board.server.runtime.webhooks

    def done() -> bool:
        pending = [d for d in webhooks.listing() if d["status"] == "pending"]
        state = tenant.client.get(f"/integrations/{integration['id']}/realtime").json()
        return not pending and state["pending_events"] == 0

    wait_for(done, timeout, "the webhooks to be delivered and applied")


def compare(api: Api, integration: dict[str, Any]) -> dict[str, Any]:
    runtime = api.runtime
    found = runtime.store.get_integration(integration["id"])

    async def run() -> dict[str, Any]:
        async with runtime.monday_client(TOKEN, api.board.api_url) as client:
            warehouse = runtime.open_warehouse(found.snowflake_connection_id)
            try:
                return await compare_integration(runtime.store, found, client, warehouse)
            finally:
                warehouse.close()

    comparisons = asyncio.run(run())
    for role, comparison in comparisons.items():
        assert comparison.ok, (role, comparison)
    return comparisons


def realtime_runs(tenant: Any, integration: dict[str, Any]) -> list[dict[str, Any]]:
    runs = tenant.client.get(f"/integrations/{integration['id']}/runs", params={"limit": 200}).json()["runs"]
    return [r for r in runs if r["kind"] == "realtime"]


def items_of(served: Served) -> list[Item]:
    return served.sandbox.active_items(served.board)


# -- switching on and off ---------------------------------------------------------------------------


def test_switching_on_registers_the_webhooks_and_switching_off_or_deleting_removes_them(api: Api) -> None:
    tenant, integration = switch_on(api)
    hooks = api.board.sandbox.data.webhooks
    ours = [h for h in hooks.values() if f"/webhooks/monday/{integration['id']}?token=" in h.url]
    assert len(ours) == ITEM_WEBHOOKS + SUBITEM_WEBHOOKS
    assert {h.board_id for h in ours} == {api.board.board.id}  # subitem events too: the main board
    state = tenant.client.get(f"/integrations/{integration['id']}/realtime").json()
    assert len(state["webhooks"]) == ITEM_WEBHOOKS + SUBITEM_WEBHOOKS
    assert "token" not in str(state)

    again = tenant.client.put(f"/integrations/{integration['id']}/realtime", json={"enabled": True})
    assert again.status_code == 200  # re-registering replaces, never adds
    assert len([h for h in hooks.values() if integration["id"] in h.url]) == ITEM_WEBHOOKS + SUBITEM_WEBHOOKS

    off = tenant.client.put(f"/integrations/{integration['id']}/realtime", json={"enabled": False})
    assert off.json()["enabled"] is False
    assert [h for h in hooks.values() if integration["id"] in h.url] == []

    tenant.client.put(f"/integrations/{integration['id']}/realtime", json={"enabled": True})
    assert tenant.client.delete(f"/integrations/{integration['id']}").status_code == 204
    assert [h for h in hooks.values() if integration["id"] in h.url] == []


def test_real_time_needs_the_public_url(warehouse_data_dir: Path, tmp_path: Path, served: Served) -> None:
    settings = api_settings(warehouse_data_dir, f"sqlite:///{tmp_path / 'state.db'}", served.api_url)
    with serving(settings, served) as plain:
        tenant = plain.tenant("acme")
        integration = plain.create_integration(tenant, monday_token=TOKEN)
        response = tenant.client.put(f"/integrations/{integration['id']}/realtime", json={"enabled": True})
        assert response.status_code == 422
        assert "MONDAY_SNOWFLAKE_PUBLIC_URL" in response.json()["error"]
        assert plain.board.sandbox.data.webhooks == {}


# -- changes reach the warehouse ----------------------------------------------------------------------


def test_edits_creates_deletes_archives_and_subitems_reach_the_warehouse(api: Api) -> None:
    tenant, integration = switch_on(api)
    sandbox, board = api.board.sandbox, api.board.board
    items = items_of(api.board)
    sandbox.change_column_values(board.id, items[0].id, {"text": "edited live"})
    sandbox.change_column_values(board.id, items[1].id, {"name": "renamed live"})
    created = sandbox.create_item(board.id, "created live", column_values={"text": "new"})
    sub = sandbox.create_subitem(items[2].id, "subitem created live")
    existing_sub = next(s for s in sandbox.data.items.values() if s.parent_item_id == items[3].id)
    sandbox.change_column_values(existing_sub.board_id, existing_sub.id, {"name": "subitem renamed live"})
    sandbox.delete_item(items[4].id)
    sandbox.archive_item(items[5].id)
    parent_gone = items[6]
    sandbox.delete_item(parent_gone.id)

    settle(api, tenant, integration)
    comparisons = compare(api, integration)
    assert comparisons["items"].table_rows == len(items) - 3 + 1
    runs = realtime_runs(tenant, integration)
    assert runs and all(r["status"] == "COMPLETED" for r in runs)
    totals = {k: sum(r["metrics"][k] for r in runs) for k in ("events", "upserted", "deleted")}
    assert totals["upserted"] >= 5 and totals["deleted"] >= 3, totals
    assert all(r["metrics"]["latency_p95_seconds"] is not None for r in runs)
    del created, sub


def test_a_burst_of_5000_edits_across_500_items_ends_with_the_table_equal_to_the_board(
    warehouse_data_dir: Path, tmp_path: Path
) -> None:
    for served in serve_seeded(items=500, subitems=0, seed=23):
        with realtime_api(warehouse_data_dir, tmp_path, served) as (api, _):
            tenant, integration = switch_on(api, include_subitems=False)
            sandbox, board = served.sandbox, served.board
            items = items_of(served)
            for round_number in range(10):
                for item in items:
                    sandbox.change_column_values(board.id, item.id, {"text": f"round {round_number}"})
            settle(api, tenant, integration, timeout=300)
            compare(api, integration)
            runs = realtime_runs(tenant, integration)
            assert sum(r["metrics"]["events"] for r in runs) == 5000
            # micro-batches: one MERGE per flush, not one per event
            assert len(runs) < 5000 / 5, len(runs)


def test_a_flood_of_one_items_edits_costs_one_read_per_flush(api: Api) -> None:
    tenant, integration = switch_on(api, include_subitems=False)
    sandbox, board = api.board.sandbox, api.board.board
    item = items_of(api.board)[0]
    for n in range(300):
        sandbox.change_column_values(board.id, item.id, {"text": f"edit {n}"})
    settle(api, tenant, integration)
    compare(api, integration)
    runs = realtime_runs(tenant, integration)
    assert sum(r["metrics"]["events"] for r in runs) == 300
    assert [r["metrics"]["items"] for r in runs] == [1] * len(runs)
    assert len(runs) < 300 / 5, len(runs)


def test_a_service_stopped_mid_burst_loses_nothing_monday_retries_and_the_restart_applies_it(
    warehouse_data_dir: Path, tmp_path: Path, served: Served
) -> None:
    sandbox, board = served.sandbox, served.board
    webhooks = served.server.runtime.webhooks
    items = items_of(served)
    with realtime_api(warehouse_data_dir, tmp_path, served) as (api, settings):
        tenant, integration = switch_on(api)
        for item in items:
            sandbox.change_column_values(board.id, item.id, {"text": "edited before the stop"})
        wait_for(lambda: any(d["status"] == "delivered" for d in webhooks.listing()), 30, "a first delivery")
    # stopped mid-burst: stored events wait unapplied, deliveries in flight fail and are retried later
    for item in items[:20]:
        sandbox.change_column_values(board.id, item.id, {"text": "edited while down"})
    wait_for(
        lambda: all(d["attempts"] for d in webhooks.listing() if d["status"] == "pending"),
        30,
        "the first delivery attempts",
    )
    assert [d for d in webhooks.listing() if d["status"] == "pending"]
    with realtime_api(warehouse_data_dir, tmp_path, served, settings) as (api, _):
        sandbox.clock.advance(61)  # monday retries a minute later
        webhooks.deliver_due()
        tenant.client = api.client(tenant.key)
        settle(api, tenant, integration)
        compare(api, integration)


# -- what a delivery must prove, and bad input ---------------------------------------------------------


def test_bad_deliveries_get_the_right_4xx_and_store_nothing(api: Api) -> None:
    tenant, integration = switch_on(api)
    secret = api.runtime.store.realtime(integration["id"]).secret
    url = f"/webhooks/monday/{integration['id']}"
    monday = api.client()
    item = items_of(api.board)[0]
    event = {
        "event": {
            "type": "update_column_value", "triggerUuid": uuid.uuid4().hex, "boardId": api.board.board.id,
            "pulseId": item.id, "columnId": "text", "value": {"value": "x"},
        }
    }  # fmt: skip

    assert monday.post(url, json=event).status_code == 401
    assert monday.post(url, params={"token": "wrong"}, json=event).status_code == 401
    assert (
        monday.post(f"/webhooks/monday/{uuid.uuid4()}", params={"token": secret}, json=event).status_code
        == 404
    )
    malformed = monday.post(
        url, params={"token": secret}, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    for broken in (
        {"event": {"type": "update_column_value"}},
        {"nope": 1},
        [1, 2],
        {"event": {**event["event"], "pulseId": "x1"}},
    ):
        response = monday.post(url, params={"token": secret}, json=broken)
        assert response.status_code == 422, (broken, response.text)
    other_board = {"event": {**event["event"], "boardId": 99999}}
    response = monday.post(url, params={"token": secret}, json=other_board)
    assert response.status_code == 422 and "99999" in response.json()["error"]
    oversized = monday.post(url, params={"token": secret}, content=b"x" * 1_100_000)
    assert oversized.status_code == 413
    assert api.runtime.store.pending_event_count(integration["id"]) == 0
    assert "Traceback" not in malformed.text

    challenge = monday.post(url, params={"token": secret}, json={"challenge": "abc"})
    assert challenge.json() == {"challenge": "abc"}
    stored = monday.post(url, params={"token": secret}, json=event)
    assert stored.json() == {"status": "stored"}
    again = monday.post(url, params={"token": secret}, json={"event": {**event["event"], "isRetry": True}})
    assert again.json() == {"status": "duplicate"}
    settle(api, tenant, integration)


def test_signed_webhooks_need_a_valid_unexpired_jwt(api: Api) -> None:
    tenant, integration = switch_on(api)
    on = tenant.client.put(
        f"/integrations/{integration['id']}/realtime", json={"enabled": True, "signed": True}
    )
    assert on.status_code == 200 and on.json()["signed"] is True
    secret = api.runtime.store.realtime(integration["id"]).secret
    url = f"/webhooks/monday/{integration['id']}"
    event = {
        "event": {"type": "update_name", "triggerUuid": uuid.uuid4().hex, "boardId": api.board.board.id,
                  "pulseId": items_of(api.board)[0].id}
    }  # fmt: skip
    now = int(time.time())
    good = jwt.encode({"accountId": 1, "exp": now + 60}, SIGNING_SECRET, algorithm="HS256")
    expired = jwt.encode({"accountId": 1, "exp": now - 60}, SIGNING_SECRET, algorithm="HS256")
    forged = jwt.encode({"accountId": 1, "exp": now + 60}, "not-the-secret", algorithm="HS256")
    monday = api.client()
    for authorization in (None, expired, forged, "garbage"):
        headers = {"Authorization": authorization} if authorization else {}
        response = monday.post(url, params={"token": secret}, json=event, headers=headers)
        assert response.status_code == 401, authorization
    assert api.runtime.store.pending_event_count(integration["id"]) == 0
    response = monday.post(url, params={"token": secret}, json=event, headers={"Authorization": good})
    assert response.json() == {"status": "stored"}
    settle(api, tenant, integration)


def test_a_late_delete_event_for_an_item_that_was_restored_keeps_its_row(api: Api) -> None:
    """Rows come from monday's current state, so a stale event cannot undo newer data."""
    tenant, integration = switch_on(api)
    secret = api.runtime.store.realtime(integration["id"]).secret
    item = items_of(api.board)[0]
    late = {"event": {"type": "delete_pulse", "triggerUuid": uuid.uuid4().hex,
                      "boardId": api.board.board.id, "itemId": item.id, "itemName": item.name}}  # fmt: skip
    response = api.client().post(f"/webhooks/monday/{integration['id']}", params={"token": secret}, json=late)
    assert response.json() == {"status": "stored"}
    settle(api, tenant, integration)
    compare(api, integration)
    assert any(r["metrics"]["upserted"] >= 1 for r in realtime_runs(tenant, integration))


def test_edits_of_columns_not_copied_cause_no_read_and_a_new_column_evolves_the_table(api: Api) -> None:
    tenant = api.tenant("acme")
    integration = api.create_integration(tenant, name="some", monday_token=TOKEN, columns=["text"])
    tenant.client.put(f"/integrations/{integration['id']}/realtime", json={"enabled": True})
    finished_run(tenant.client, integration["id"])
    sandbox, board = api.board.sandbox, api.board.board
    other = next(c.id for c in board.columns.values() if c.type == "numbers")
    sandbox.change_column_values(board.id, items_of(api.board)[0].id, {other: "42"})
    settle(api, tenant, integration)
    [run] = realtime_runs(tenant, integration)
    assert (run["metrics"]["skipped"], run["metrics"]["items"]) == (1, 0)
    del run

    everything = api.create_integration(tenant, name="all", monday_token=TOKEN, table="ALL_COLUMNS")
    tenant.client.put(f"/integrations/{everything['id']}/realtime", json={"enabled": True})
    finished_run(tenant.client, everything["id"])
    column = sandbox.create_column(board.id, "Live score", "numbers")
    sandbox.change_column_values(board.id, items_of(api.board)[1].id, {column.id: "7"})
    settle(api, tenant, everything)
    wait_for(
        lambda: any(r["kind"] != "realtime" and r["metrics"].get("schema_changes")
                    for r in tenant.client.get(f"/integrations/{everything['id']}/runs").json()["runs"]),
        60, "the schema evolution run",
    )  # fmt: skip
    settle(api, tenant, everything)
    compare(api, everything)


# -- failures: shown on the item, retried, never lost ---------------------------------------------------


def _long_text(served: Served, item_id: int, column_id: str) -> str:
    stored = served.sandbox.get_item(item_id).values.get(column_id)
    return str((stored or {}).get("text") or "")


def _point_warehouse(api: Api, connection_id: str, config: dict[str, Any], secret: dict[str, Any]) -> None:
    """Swap a stored Snowflake connection's settings, as an operator moving the account would."""
    with api.runtime.store.engine.begin() as conn:
        conn.execute(update(ConnectionRow).where(ConnectionRow.id == connection_id).values(config=config))
    api.runtime.store.set_connection_secret(connection_id, secret)


def test_a_failed_flush_shows_its_error_on_the_items_and_clears_it_once_applied_without_a_loop(
    api: Api,
) -> None:
    sandbox, board = api.board.sandbox, api.board.board
    errors_column = next(c.id for c in board.columns.values() if c.type == "long_text")
    tenant = api.tenant("acme")
    integration = api.create_integration(
        tenant, name="shown", monday_token=TOKEN, options={"display_errors_column": errors_column}
    )
    assert tenant.client.put(f"/integrations/{integration['id']}/realtime", json={"enabled": True}).is_success
    finished_run(tenant.client, integration["id"])
    found = api.runtime.store.get_integration(integration["id"])
    good = api.runtime.store.get_connection(found.snowflake_connection_id).config
    good_secret = api.runtime.store.connection_secret(found.snowflake_connection_id)
    unreachable = {**good, "mode": "snowflake", "account": "nowhere.invalid", "user": "u",
                   "authenticator": "password", "login_timeout_seconds": 2, "max_attempts": 1}  # fmt: skip
    items = items_of(api.board)
    edited, untouched = items[:2], items[2:]
    before = {i.id: _long_text(api.board, i.id, errors_column) for i in untouched}

    _point_warehouse(api, found.snowflake_connection_id, unreachable, {"password": "pw"})
    for item in edited:
        sandbox.change_column_values(board.id, item.id, {"text": "edited while the warehouse is down"})
    wait_for(
        lambda: all("could not sync" in _long_text(api.board, i.id, errors_column) for i in edited),
        60,
        "the error on the items",
    )
    failed = [r for r in realtime_runs(tenant, integration) if r["status"] == "FAILED"]
    assert failed and failed[0]["error"] and "Traceback" not in failed[0]["error"]
    assert {i.id: _long_text(api.board, i.id, errors_column) for i in untouched} == before

    _point_warehouse(api, found.snowflake_connection_id, good, good_secret)
    settle(api, tenant, integration)
    wait_for(
        lambda: all(_long_text(api.board, i.id, errors_column) == "" for i in edited), 60, "the error cleared"
    )
    settle(api, tenant, integration)
    compare(api, integration)
    # our own writes of the error column come back as events, and are skipped: no read, no new write
    settled = realtime_runs(tenant, integration)
    time.sleep(2)
    assert len(realtime_runs(tenant, integration)) == len(settled)
    assert all(_long_text(api.board, i.id, errors_column) == "" for i in edited)
    assert api.runtime.store.displayed_errors(integration["id"], [str(i.id) for i in edited]) == {}


def test_a_delivery_we_answer_with_a_5xx_is_retried_by_monday_and_then_applied(api: Api) -> None:
    tenant, integration = switch_on(api, include_subitems=False)
    store = api.runtime.store
    add_events = store.add_events
    failures: list[str] = []

    def once_unavailable(events: Any) -> list[bool]:
        if not failures:
            failures.extend(event.trigger_uuid for _, event in events)
            raise OperationalError("INSERT INTO webhook_events", {}, Exception("database is locked"))
        return add_events(events)

    store.add_events = once_unavailable  # type: ignore[method-assign]
    sandbox, board = api.board.sandbox, api.board.board
    item = items_of(api.board)[0]
    sandbox.change_column_values(board.id, item.id, {"text": "answered 503 first"})
    webhooks = api.board.server.runtime.webhooks
    wait_for(lambda: failures and webhooks.listing()[-1]["attempts"], 30, "the first attempt")
    first = webhooks.listing()[-1]
    assert first["status"] == "pending" and first["attempts"][0]["status_code"] == 503
    sandbox.clock.advance(61)  # monday retries a minute later
    webhooks.deliver_due()
    settle(api, tenant, integration)
    compare(api, integration)
    assert [a["status_code"] for a in webhooks.listing()[-1]["attempts"]] == [503, 200]
