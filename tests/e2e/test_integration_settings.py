"""Integration settings over real HTTP: duplicating a recipe, pausing and resuming an integration (the
scheduler skips it, runs are refused with 409, webhooks are stored and applied only once resumed), and
the target's privileges checked when it changes. The monday sandbox and the embedded warehouse are
the real ones; every route is tried with another account's key too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.e2e.conftest import Served, serve_seeded
from tests.e2e.test_api import (
    DAILY_NEW_YORK,
    SCHEDULER_SECRET,
    Api,
    api,
    api_without_worker,
    board,
    finished_run,
    table_item_ids,
    wait_for,
)
from tests.e2e.test_realtime import compare, realtime_api, realtime_runs, settle, switch_on

from monday_snowflake.snowflake.embedded import EmbeddedWarehouse

# Fixtures shared with test_api: its seeded board, and servers with and without a worker.
__all__ = ["api", "api_without_worker", "board"]


# -- duplicate -------------------------------------------------------------------------------------


def test_a_duplicate_copies_the_recipe_under_a_free_name_and_table_but_not_runs_or_webhooks(api: Api) -> None:
    acme = api.tenant("acme")
    options = {"on_delete": "soft_delete", "reconcile_every_hours": 6}
    source = api.create_integration(
        acme, name="crm", table="CRM_ITEMS", schedule=DAILY_NEW_YORK, sync_mode="full", options=options
    )
    assert acme.client.post(f"/integrations/{source['id']}/runs").status_code == 202
    assert finished_run(acme.client, source["id"])["status"] == "COMPLETED"

    response = acme.client.post(f"/integrations/{source['id']}/duplicate")
    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["id"] != source["id"]
    assert (copy["name"], copy["target_table"]) == ("crm-copy", "CRM_ITEMS_COPY")
    same = ("board_id", "target_database", "target_schema", "primary_key", "columns", "options", "schedule")
    assert {k: copy[k] for k in same} == {k: source[k] for k in same}
    assert copy["sync_mode"] == "full" and copy["paused_at"] is None
    assert acme.client.get(f"/integrations/{copy['id']}/runs").json()["runs"] == []
    assert acme.client.get(f"/integrations/{copy['id']}/realtime").json()["enabled"] is False

    again = acme.client.post(f"/integrations/{source['id']}/duplicate").json()
    assert (again["name"], again["target_table"]) == ("crm-copy-2", "CRM_ITEMS_COPY_2")
    named = acme.client.post(
        f"/integrations/{source['id']}/duplicate", json={"name": "crm-eu", "table": "EU"}
    )
    assert (named.json()["name"], named.json()["target_table"]) == ("crm-eu", "EU")
    taken_name = acme.client.post(f"/integrations/{source['id']}/duplicate", json={"name": "crm"})
    assert taken_name.status_code == 422 and taken_name.json()["field"] == "name"
    taken_table = acme.client.post(f"/integrations/{source['id']}/duplicate", json={"table": "crm_items"})
    assert taken_table.status_code == 422 and taken_table.json()["field"] == "table"
    assert len(acme.client.get("/integrations").json()) == 4

    # The copy stands on its own: with the original deleted, it still runs, into its own table.
    assert acme.client.delete(f"/integrations/{source['id']}").status_code == 204
    assert acme.client.post(f"/integrations/{copy['id']}/runs").status_code == 202
    assert finished_run(acme.client, copy["id"])["status"] == "COMPLETED"
    assert table_item_ids(api, copy) == table_item_ids(api, source)


# -- pause and resume ------------------------------------------------------------------------------


def test_a_paused_integration_is_skipped_by_the_scheduler_and_refuses_runs_until_resumed(
    api_without_worker: Api,
) -> None:
    api = api_without_worker  # what is queued stays queued
    acme = api.tenant("acme")
    paused = api.create_integration(acme, name="paused", table="PAUSED", schedule=DAILY_NEW_YORK)
    active = api.create_integration(acme, name="active", table="ACTIVE", schedule=DAILY_NEW_YORK)

    response = acme.client.post(f"/integrations/{paused['id']}/pause")
    assert response.status_code == 200, response.text
    paused_at = response.json()["paused_at"]
    assert paused_at is not None
    again = acme.client.post(f"/integrations/{paused['id']}/pause").json()
    assert again["paused_at"] == paused_at  # pausing twice keeps the first time
    assert acme.client.get(f"/integrations/{paused['id']}").json()["paused_at"] == paused_at

    refused = acme.client.post(f"/integrations/{paused['id']}/runs")
    assert refused.status_code == 409 and "paused" in refused.json()["error"]
    assert "/resume" in refused.json()["error"]
    trigger = api.client(SCHEDULER_SECRET).post(f"/triggers/scheduled/{paused['id']}")
    assert trigger.status_code == 409
    batch = acme.client.post("/batch/runs", json={"integration_ids": [paused["id"], active["id"]]}).json()
    assert [r["status"] for r in batch["results"]] == [409, 202]
    assert "paused" in batch["results"][0]["error"]
    assert api.service.queue.stats(acme.account_id).depth == 1  # the active one's run only

    later = datetime.now(UTC) + timedelta(days=3)
    scheduled = api.service.schedule_due_runs(later)
    assert [q.task.payload["integration_id"] for q in scheduled] == [active["id"]]

    resumed = acme.client.post(f"/integrations/{paused['id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["paused_at"] is None
    assert acme.client.post(f"/integrations/{paused['id']}/runs").status_code == 202
    # The schedule counts from the resume: its next due time is queued, not the ones missed.
    scheduled = api.service.schedule_due_runs(later)
    assert [q.task.payload["integration_id"] for q in scheduled] == [paused["id"]]


def test_a_run_queued_before_the_pause_does_not_run_while_paused(api_without_worker: Api) -> None:
    api = api_without_worker
    acme = api.tenant("acme")
    paused = api.create_integration(acme, name="paused", table="PAUSED")
    assert acme.client.post(f"/integrations/{paused['id']}/runs").status_code == 202
    assert acme.client.post(f"/integrations/{paused['id']}/pause").status_code == 200

    assert asyncio.run(api.service.worker().run_once()) == 1  # a worker elsewhere claims it

    [task] = api.service.queue.list_tasks(acme.account_id)
    assert (task.status, task.result) == ("SUCCEEDED", {"skipped": "paused"})
    assert acme.client.get(f"/integrations/{paused['id']}/runs").json()["runs"] == []


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_seeded(items=20, subitems=1, seed=23)


def test_webhooks_that_arrive_while_paused_are_stored_and_applied_once_resumed(
    warehouse_data_dir: Path, tmp_path: Path, served: Served
) -> None:
    with realtime_api(warehouse_data_dir, tmp_path, served) as (api, _):
        _paused_webhooks(api)


def _paused_webhooks(api: Api) -> None:
    tenant, integration = switch_on(api)
    client, path = tenant.client, f"/integrations/{integration['id']}"
    applied_before = len(realtime_runs(tenant, integration))
    assert client.post(f"{path}/pause").status_code == 200
    sandbox, board_spec = api.board.sandbox, api.board.board
    items = sandbox.active_items(board_spec)
    sandbox.change_column_values(board_spec.id, items[0].id, {"text": "edited while paused"})
    sandbox.change_column_values(board_spec.id, items[1].id, {"name": "renamed while paused"})
    deliveries = api.board.server.runtime.webhooks

    def stored() -> bool:
        pending = [d for d in deliveries.listing() if d["status"] == "pending"]
        return not pending and client.get(f"{path}/realtime").json()["pending_events"] >= 2

    wait_for(stored, 60, "the deliveries to be stored")
    time.sleep(1.0)  # several flush rounds (flush_seconds=0.3, poll every 0.05 s)
    assert client.get(f"{path}/realtime").json()["pending_events"] >= 2
    assert len(realtime_runs(tenant, integration)) == applied_before
    with pytest.raises(AssertionError):
        compare(api, integration)  # the warehouse does not have the edits yet

    resumed = client.post(f"{path}/resume")
    assert resumed.status_code == 200 and resumed.json()["pending_events"] >= 2
    settle(api, tenant, integration)
    compare(api, integration)
    assert len(realtime_runs(tenant, integration)) > applied_before


# -- the target's privileges -----------------------------------------------------------------------


def test_a_new_target_table_or_a_copy_is_refused_when_the_schema_lacks_a_privilege(
    api: Api, warehouse_data_dir: Path
) -> None:
    acme = api.tenant("acme")
    integration = api.create_integration(acme, name="crm", table="CRM")
    schema = integration["target_schema"]
    warehouse = EmbeddedWarehouse(warehouse_data_dir)
    warehouse.refuse("CREATE TABLE", integration["target_database"], schema)
    try:
        patched = acme.client.patch(f"/integrations/{integration['id']}", json={"table": "CRM_V2"})
        assert patched.status_code == 403, patched.text
        assert "CREATE TABLE" in patched.json()["error"]
        assert patched.json()["grant"].startswith(f'GRANT CREATE TABLE ON SCHEMA "MONDAY"."{schema}"')
        assert acme.client.get(f"/integrations/{integration['id']}").json()["target_table"] == "CRM"
        copy = acme.client.post(f"/integrations/{integration['id']}/duplicate")
        assert copy.status_code == 403 and "CREATE TABLE" in copy.json()["error"]
        # Changes that keep the target are not checked.
        renamed = acme.client.patch(f"/integrations/{integration['id']}", json={"name": "crm-main"})
        assert renamed.status_code == 200
    finally:
        warehouse.allow("CREATE TABLE", integration["target_database"], schema)
    assert len(acme.client.get("/integrations").json()) == 1
    patched = acme.client.patch(f"/integrations/{integration['id']}", json={"table": "CRM_V2"})
    assert patched.status_code == 200 and patched.json()["target_table"] == "CRM_V2"


# -- tenants ---------------------------------------------------------------------------------------


def test_another_accounts_key_cannot_duplicate_pause_or_resume_and_changes_nothing(api: Api) -> None:
    a, b = api.tenant("a"), api.tenant("b")
    a_integration = api.create_integration(a, name="a-crm", table="A_ITEMS")
    a_id = a_integration["id"]
    for action in ("duplicate", "pause", "resume"):
        response = b.client.post(f"/integrations/{a_id}/{action}")
        assert response.status_code == 404, (action, response.text)
        assert "a-crm" not in response.text
        assert api.client().post(f"/integrations/{a_id}/{action}").status_code == 401
    assert b.client.get("/integrations").json() == []
    assert [i["id"] for i in a.client.get("/integrations").json()] == [a_id]
    assert a.client.get(f"/integrations/{a_id}").json()["paused_at"] is None
    # and A's own pause is not B's to undo
    assert a.client.post(f"/integrations/{a_id}/pause").status_code == 200
    assert b.client.post(f"/integrations/{a_id}/resume").status_code == 404
    assert a.client.get(f"/integrations/{a_id}").json()["paused_at"] is not None
