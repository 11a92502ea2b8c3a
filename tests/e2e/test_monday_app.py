"""What monday calls on the app, end to end over HTTP: lifecycle events (install, subscriptions,
uninstall), automation actions and trigger subscriptions, each with valid and with forged, expired or
missing JWTs, and each scoped to the account the JWT names. The monday side is the sandbox: it mints
the JWTs monday would send (`monday_sandbox/apps.py`) and receives trigger invocations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, inspect, or_, select
from tests.e2e.conftest import Served
from tests.e2e.test_api import MONDAY_TOKEN, Api, Tenant, app_routes, finished_run, settled, wait_for
from tests.e2e.test_monday_oauth import app_serving, install

from monday_sandbox.apps import AppEvents
from monday_sandbox.generator import seed_account
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.app.lifecycle import SUBSCRIPTION_FLAG
from monday_snowflake.app.triggers import check_query_triggers
from monday_snowflake.model import TableRef
from monday_snowflake.snowflake.naming import quote_identifier, sanitise_identifier
from monday_snowflake.store.tables import Base

OTHER_MONDAY_ACCOUNT = "77700001"
PLAN = {"plan_id": "pro", "renewal_date": "2027-01-01", "is_trial": False, "billing_period": "monthly"}


@dataclass
class World:
    api: Api
    apps: AppEvents
    board: Board
    other_board: Board
    a: Tenant
    b: Tenant
    a_integration: dict[str, Any]
    b_integration: dict[str, Any]

    @property
    def sandbox(self) -> Sandbox:
        return self.api.board.sandbox


class TwoBoards(Served):
    """A sandbox with two boards: `board` (account A's) and `other` (account B's)."""

    def __init__(self, server: SandboxServer, board: Board, other: Board) -> None:
        super().__init__(server, board)
        self.other = other


@pytest.fixture
def served_two() -> Iterator[TwoBoards]:
    sandbox = Sandbox()
    boards = seed_account(sandbox, boards=2, items=12, subitems=0, seed=43)
    sandbox.add_token(MONDAY_TOKEN)
    with SandboxServer(sandbox) as server:
        yield TwoBoards(server, boards[0], boards[1])


def lifecycle(world_api: Api, apps: AppEvents, event_type: str, **options: Any) -> httpx.Response:
    authorization = options.pop("authorization", "")
    body, token = apps.lifecycle_event(event_type, **options)
    headers = (
        {"Authorization": token if authorization == "" else authorization}
        if authorization is not None
        else {}
    )
    return httpx.post(f"{world_api.url}/events/monday", json=body, headers=headers, timeout=60)


def tenant_of(api: Api, account_id: str) -> Tenant:
    key, _ = api.runtime.store.create_api_key(account_id, "tests")
    return Tenant(account_id, key, api.client(key))


def add_integration(
    api: Api, tenant: Tenant, board: Board, name: str, *, with_app: bool = False, **body: Any
) -> dict[str, Any]:
    """An integration of the board; `with_app`: reaching monday with the account's app install
    rather than a token of its own."""
    credentials = {} if with_app else {"monday_token": MONDAY_TOKEN, "monday_api_url": api.board.api_url}
    response = tenant.client.post(
        "/integrations", json={"board_id": str(board.id), **credentials, "name": name, **body}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@contextmanager
def make_world(warehouse_dir: Path, database_url: str, served: TwoBoards) -> Iterator[World]:
    """A installed the app from the sandbox's monday account (OAuth, choosing to drop its tables on
    uninstall) and syncs board 1; B is another monday account, syncing board 2. Both have run once."""
    with app_serving(warehouse_dir, database_url, served) as api:
        apps = served.server.runtime.oauth.apps
        a_account = install(api, drop_tables_on_uninstall="true")["account_id"]
        installed = lifecycle(api, apps, "install", account_id=OTHER_MONDAY_ACCOUNT)
        assert installed.status_code == 200, installed.text
        b_account = installed.json()["account_id"]
        a, b = tenant_of(api, a_account), tenant_of(api, b_account)
        other = served.other
        # A connects its warehouse and syncs through the app it installed: no token of its own.
        target = api.runtime.settings.snowflake
        warehouse = a.client.post(
            "/connections/snowflake",
            json={
                "name": "a-warehouse",
                "mode": "embedded",
                "database": target.database,
                "schema_name": target.schema_name,
                "auth": {"type": "password", "password": "a-pw"},
            },
        )
        assert warehouse.status_code == 201, warehouse.text
        a_integration = add_integration(
            api,
            a,
            served.board,
            "a-sync",
            with_app=True,
            snowflake_connection_id=warehouse.json()["id"],
            table="A_ITEMS",
        )
        stored = api.runtime.store.get_integration(a_integration["id"])
        app_connection = api.runtime.store.app_connection(a_account)
        assert app_connection is not None and stored.monday_connection_id == app_connection.id
        assert stored.snowflake_connection_id == warehouse.json()["id"]
        b_integration = add_integration(api, b, other, "b-sync", table="B_ITEMS")
        for tenant, integration in ((a, a_integration), (b, b_integration)):
            assert tenant.client.post(f"/integrations/{integration['id']}/runs").status_code == 202
            assert finished_run(tenant.client, integration["id"])["status"] == "COMPLETED"
            settled(tenant.client, tenant.account_id)
        yield World(api, apps, served.board, other, a, b, a_integration, b_integration)


@pytest.fixture
def world(warehouse_data_dir: Path, tmp_path: Path, served_two: TwoBoards) -> Iterator[World]:
    with make_world(warehouse_data_dir, f"sqlite:///{tmp_path / 'state.db'}", served_two) as made:
        yield made


@pytest.fixture
def world_on_each_db(warehouse_data_dir: Path, database_url: str, served_two: TwoBoards) -> Iterator[World]:
    """`world` on a fresh SQLite file, then on a fresh PostgreSQL schema."""
    with make_world(warehouse_data_dir, database_url, served_two) as made:
        yield made


def automation(
    world: World, path: str, payload: dict[str, Any], *, metadata: dict[str, Any] | None = None, **jwt: Any
) -> httpx.Response:
    """A request monday would send to `path`, with its JWT (`authorization=None`: none at all)."""
    url = world.api.url + path
    authorization = jwt.pop("authorization", "")
    audience = jwt.pop("audience", url)
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization or world.apps.automation_jwt(audience, **jwt)
    body = {"payload": payload, "runtimeMetadata": metadata or {"actionUuid": uuid.uuid4().hex}}
    return httpx.post(url, json=body, headers=headers, timeout=120)


def table_rows(
    world: World, table: str, where: str = "", params: list[Any] | None = None
) -> list[tuple[Any, ...]]:
    settings = world.api.runtime.settings.snowflake
    name = ".".join(quote_identifier(p) for p in (settings.database, settings.schema_name, table))
    warehouse = world.api.runtime.open_warehouse()
    try:
        return warehouse.query(f"SELECT * FROM {name} {where}", params)[1]
    finally:
        warehouse.close()


def table_exists(world: World, table: str) -> bool:
    settings = world.api.runtime.settings.snowflake
    warehouse = world.api.runtime.open_warehouse()
    try:
        return bool(warehouse.table_columns(TableRef(settings.database, settings.schema_name, table)))
    finally:
        warehouse.close()


def finished(tenant: Tenant, run_id: str) -> dict[str, Any] | None:
    """The run once it has finished; None while it is queued or running."""
    response = tenant.client.get(f"/runs/{run_id}")
    run: dict[str, Any] = response.json()
    return run if response.status_code == 200 and run["status"] != "RUNNING" else None


def refused_in_mondays_format(response: httpx.Response, status: int, severity: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["severityCode"] == severity, body
    assert body["notificationErrorTitle"] and body["runtimeErrorDescription"]


# -- lifecycle events ----------------------------------------------------------------------------------


def test_lifecycle_events_need_the_client_secret_jwt_and_update_the_account(world: World) -> None:
    api, apps = world.api, world.apps
    store = api.runtime.store
    for bad in (
        {"authorization": None},
        {"secret": "not-the-client-secret"},
        {"secret": world.sandbox.settings.signing_secret},  # the wrong one of the app's two secrets
        {"expires_in": -60},
        {"authorization": "Bearer not.a.jwt"},
    ):
        response = lifecycle(api, apps, "app_subscription_created", subscription=PLAN, **bad)
        assert response.status_code == 401, (bad, response.text)
    assert store.get_flag(SUBSCRIPTION_FLAG, world.a.account_id) is None
    # one account's signed event replayed with another account in its body: refused, B untouched
    body, token = apps.lifecycle_event("uninstall")
    body["data"]["account_id"] = OTHER_MONDAY_ACCOUNT
    replayed = httpx.post(f"{api.url}/events/monday", json=body, headers={"Authorization": token}, timeout=60)
    assert replayed.status_code == 401, replayed.text
    assert world.b.client.get("/integrations").status_code == 200
    assert [i["id"] for i in world.b.client.get("/integrations").json()] == [world.b_integration["id"]]

    created = lifecycle(api, apps, "app_subscription_created", subscription=PLAN)
    assert created.status_code == 200, created.text
    flag = store.get_flag(SUBSCRIPTION_FLAG, world.a.account_id)
    assert flag is not None and flag.enabled and flag.value["plan_id"] == "pro"
    assert lifecycle(api, apps, "app_subscription_cancelled_by_user", subscription=PLAN).status_code == 200
    assert store.is_enabled(SUBSCRIPTION_FLAG, world.a.account_id)  # paid until the period ends
    assert lifecycle(api, apps, "app_subscription_cancelled", subscription=PLAN).status_code == 200
    assert not store.is_enabled(SUBSCRIPTION_FLAG, world.a.account_id)
    assert store.get_flag(SUBSCRIPTION_FLAG, world.b.account_id) is None  # B's flags are B's
    events = [kind for kind, _ in store.app_events(world.a.account_id)]
    assert events[-3:] == [
        "app_subscription_created",
        "app_subscription_cancelled_by_user",
        "app_subscription_cancelled",
    ]

    # install again: same account, its name updated, no second user
    world.sandbox.account.name = "Renamed Co"
    again = lifecycle(api, apps, "install")
    assert again.json()["account_id"] == world.a.account_id
    assert store.get_account(world.a.account_id).name == "Renamed Co"
    assert len(store.list_users(world.a.account_id)) == 1

    unknown = lifecycle(api, apps, "uninstall", account_id="99999999")
    assert unknown.status_code == 404 and "99999999" in unknown.json()["error"]
    bogus = lifecycle(api, apps, "app_was_hacked")
    assert bogus.status_code == 422 and bogus.json()["field"] == "type"


def rows_per_table(api: Api, account_id: str, integration_ids: set[str], run_ids: set[str]) -> dict[str, int]:
    """Rows naming the account, one of its integrations or one of its runs, in every table there is;
    found by column names, independently of how the uninstall finds them."""
    engine = api.runtime.store.engine
    in_database = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert in_database <= set(Base.metadata.tables), in_database - set(Base.metadata.tables)
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = table.c
            conditions = []
            if "account_id" in columns:
                conditions.append(columns.account_id == account_id)
            if table.name == "accounts":
                conditions.append(columns.id == account_id)
            if table.name == "integrations":
                conditions.append(columns.id.in_(integration_ids))
            if table.name == "integration_runs":
                conditions.append(columns.id.in_(run_ids))
            if "integration_id" in columns:
                conditions.append(columns.integration_id.in_(integration_ids))
            if "run_id" in columns:
                conditions.append(columns.run_id.in_(run_ids))
            if conditions:
                counts[table.name] = (
                    conn.scalar(select(func.count()).select_from(table).where(or_(*conditions))) or 0
                )
    return counts


def test_uninstall_removes_every_row_webhook_and_table_of_the_account_and_nothing_of_another(
    world_on_each_db: World,
) -> None:
    world = world_on_each_db
    api, apps, sandbox, store = world.api, world.apps, world.sandbox, world.api.runtime.store
    a_id = world.a_integration["id"]
    # Give A something in every corner: real-time webhooks and an event, a flag, a subscription, a
    # trigger, a queued task.
    on = world.a.client.put(f"/integrations/{a_id}/realtime", json={"enabled": True})
    assert on.status_code == 200, on.text
    assert any(h.board_id == world.board.id for h in sandbox.data.webhooks.values())
    item = sandbox.active_items(world.board)[0]
    httpx.post(
        f"{api.board.server.url}/sandbox/items/{item.id}/edit", json={"name": "edited before uninstall"}
    )
    wait_for(lambda: store.pending_event_count(a_id) or store.last_success(a_id), 30, "the webhook event")
    assert lifecycle(api, apps, "app_subscription_created", subscription=PLAN).status_code == 200
    subscribed = automation(
        world,
        "/monday/triggers/query-new-rows/subscribe",
        {
            "webhookUrl": apps.trigger_url(api.board.server.url, "501"),
            "subscriptionId": 501,
            "inputFields": {"integrationId": a_id, "query": "SELECT 1 AS ONE"},
        },
    )
    assert subscribed.status_code == 200, subscribed.text
    assert world.a.client.post(f"/queues/{world.a.account_id}/pause").status_code == 200
    assert world.a.client.post(f"/integrations/{a_id}/runs").status_code == 202  # stays queued

    a_runs = {r["id"] for r in world.a.client.get(f"/integrations/{a_id}/runs").json()["runs"]}
    b_runs = {
        r["id"] for r in world.b.client.get(f"/integrations/{world.b_integration['id']}/runs").json()["runs"]
    }
    a_before = rows_per_table(api, world.a.account_id, {a_id}, a_runs)
    b_before = rows_per_table(api, world.b.account_id, {world.b_integration["id"]}, b_runs)
    for table in (
        "accounts",
        "users",
        "connections",
        "integrations",
        "integration_runs",
        "run_subtasks",
        "tasks",
        "api_keys",
        "feature_flags",
        "integration_locks",
        "webhook_events",
        "monday_installs",
        "monday_app_events",
        "monday_triggers",
    ):
        assert a_before.get(table), (table, a_before)
    assert table_exists(world, "A_ITEMS") and table_exists(world, "B_ITEMS")

    gone = lifecycle(api, apps, "uninstall")
    assert gone.status_code == 200, gone.text
    assert gone.json()["webhooks_removed"] >= 7

    assert rows_per_table(api, world.a.account_id, {a_id}, a_runs) == dict.fromkeys(a_before, 0)
    assert not any(h.board_id == world.board.id for h in sandbox.data.webhooks.values())
    assert not table_exists(world, "A_ITEMS")  # A chose this at install
    # B is untouched: its rows, its table, its key.
    assert rows_per_table(api, world.b.account_id, {world.b_integration["id"]}, b_runs) == b_before
    assert table_exists(world, "B_ITEMS")
    assert [i["name"] for i in world.b.client.get("/integrations").json()] == ["b-sync"]
    # A's key died with it; a second uninstall is for an unknown account.
    assert world.a.client.get("/integrations").status_code == 401
    assert lifecycle(api, apps, "uninstall").status_code == 404
    # B did not choose to drop its tables: its rows go, its table stays.
    assert lifecycle(api, apps, "uninstall", account_id=OTHER_MONDAY_ACCOUNT).status_code == 200
    assert set(rows_per_table(api, world.b.account_id, {world.b_integration["id"]}, b_runs).values()) == {0}
    assert table_exists(world, "B_ITEMS")


# -- actions ---------------------------------------------------------------------------------------------


def test_each_action_refuses_a_missing_forged_expired_or_misaddressed_jwt_and_touches_nothing(
    world: World,
) -> None:
    item = world.sandbox.active_items(world.board)[0]
    payload = {
        "inboundFieldValues": {
            "itemId": item.id,
            "boardId": world.board.id,
            "tableName": "ITEM_LOG",
            "integrationId": world.a_integration["id"],
        }
    }
    tasks_before = world.api.service.queue.list_tasks(world.a.account_id)
    for action in ("sync-item", "run-integration", "write-item"):
        path = f"/monday/actions/{action}"
        for bad in (
            {"authorization": None},
            {"secret": "forged-signing-secret"},
            {"secret": world.sandbox.settings.oauth_client_secret},  # the client secret signs lifecycle only
            {"expires_in": -30},
            {"audience": world.api.url + "/monday/actions/something-else"},
        ):
            refused_in_mondays_format(automation(world, path, payload, **bad), 401, 4000)
    assert world.api.service.queue.list_tasks(world.a.account_id) == tasks_before
    assert not table_exists(world, "ITEM_LOG")


def test_sync_item_merges_the_item_now_and_refuses_another_accounts_board(world: World) -> None:
    api, sandbox = world.api, world.sandbox
    item = sandbox.active_items(world.board)[0]
    httpx.post(f"{api.board.server.url}/sandbox/items/{item.id}/edit", json={"name": "Synced by automation"})
    done = automation(
        world,
        "/monday/actions/sync-item",
        {"inboundFieldValues": {"itemId": item.id, "boardId": world.board.id}},
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "synced"
    rows = table_rows(world, "A_ITEMS", "WHERE ITEM_ID = ?", [item.id])
    assert [r[1] for r in rows] == ["Synced by automation"]

    # B's board, as A: A syncs no such board. B's table keeps its rows as they were.
    other_item = sandbox.active_items(world.other_board)[0]
    b_rows = table_rows(world, "B_ITEMS", "ORDER BY ITEM_ID")
    httpx.post(f"{api.board.server.url}/sandbox/items/{other_item.id}/edit", json={"name": "not A's to sync"})
    foreign = automation(
        world,
        "/monday/actions/sync-item",
        {"inboundFieldValues": {"itemId": other_item.id, "boardId": world.other_board.id}},
    )
    refused_in_mondays_format(foreign, 404, 6000)
    assert str(world.other_board.id) in foreign.json()["runtimeErrorDescription"]
    # B's integration named explicitly, as A: not found either.
    named = automation(
        world,
        "/monday/actions/sync-item",
        {
            "inboundFieldValues": {
                "itemId": other_item.id,
                "boardId": world.other_board.id,
                "integrationId": world.b_integration["id"],
            }
        },
    )
    refused_in_mondays_format(named, 404, 6000)
    assert "b-sync" not in named.text
    # An item of B's board claimed to be on A's board: monday says it is not there.
    misplaced = automation(
        world,
        "/monday/actions/sync-item",
        {"inboundFieldValues": {"itemId": other_item.id, "boardId": world.board.id}},
    )
    refused_in_mondays_format(misplaced, 404, 4000)
    assert table_rows(world, "B_ITEMS", "ORDER BY ITEM_ID") == b_rows
    assert not table_rows(world, "A_ITEMS", "WHERE ITEM_ID = ?", [other_item.id])
    # The item is read with the request's shortLivedToken: one monday no longer honours fails the action.
    httpx.post(f"{api.board.server.url}/sandbox/items/{item.id}/edit", json={"name": "not with that token"})
    stale = automation(
        world,
        "/monday/actions/sync-item",
        {"inboundFieldValues": {"itemId": item.id, "boardId": world.board.id}},
        short_lived_token="sbx_slt_expired",
    )
    refused_in_mondays_format(stale, 401, 4000)
    assert [r[1] for r in table_rows(world, "A_ITEMS", "WHERE ITEM_ID = ?", [item.id])] == [
        "Synced by automation"
    ]
    missing = automation(
        world, "/monday/actions/sync-item", {"inboundFieldValues": {"boardId": world.board.id}}
    )
    refused_in_mondays_format(missing, 400, 6000)
    assert "itemId" in missing.json()["runtimeErrorDescription"]


def test_write_item_upserts_one_row_per_item_and_refuses_a_bad_table_name(world: World) -> None:
    api, sandbox = world.api, world.sandbox
    item = sandbox.active_items(world.board)[1]
    fields = {"itemId": item.id, "boardId": world.board.id, "tableName": "ITEM_LOG"}
    first = automation(world, "/monday/actions/write-item", {"inboundFieldValues": fields})
    assert first.status_code == 200, first.text
    httpx.post(f"{api.board.server.url}/sandbox/items/{item.id}/edit", json={"name": "Written twice"})
    second = automation(world, "/monday/actions/write-item", {"inboundFieldValues": fields})
    assert second.status_code == 200, second.text
    rows = table_rows(world, "ITEM_LOG")
    assert len(rows) == 1 and rows[0][0] == str(item.id) and rows[0][1] == "Written twice"
    settings = api.runtime.settings.snowflake
    warehouse = api.runtime.open_warehouse()
    try:
        names = warehouse.table_columns(TableRef(settings.database, settings.schema_name, "ITEM_LOG"))
    finally:
        warehouse.close()
    wanted = {
        sanitise_identifier(c, fallback="") for c in world.board.columns if c != "name"
    }  # name: ITEM_NAME
    assert wanted and wanted <= set(names), wanted - set(names)  # one column per board column

    bad = automation(
        world,
        "/monday/actions/write-item",
        {"inboundFieldValues": {**fields, "tableName": 'X"; DROP TABLE A_ITEMS; --'}},
    )
    refused_in_mondays_format(bad, 400, 6000)
    assert table_exists(world, "A_ITEMS")
    b_rows = len(table_rows(world, "B_ITEMS"))
    for replicated in ("A_ITEMS", "B_ITEMS"):  # a board's replica, A's own or another account's
        into = automation(
            world, "/monday/actions/write-item", {"inboundFieldValues": {**fields, "tableName": replicated}}
        )
        refused_in_mondays_format(into, 400, 6000)
    assert len(table_rows(world, "B_ITEMS")) == b_rows
    foreign = automation(
        world,
        "/monday/actions/write-item",
        {
            "inboundFieldValues": {
                **fields,
                "boardId": world.other_board.id,
                "itemId": world.sandbox.active_items(world.other_board)[0].id,
            }
        },
    )
    refused_in_mondays_format(foreign, 404, 6000)
    assert len(table_rows(world, "ITEM_LOG")) == 1


def test_run_integration_queues_one_run_per_action_and_refuses_another_accounts_integration(
    world: World,
) -> None:
    queue, a, b = world.api.service.queue, world.a, world.b
    b_tasks = queue.list_tasks(b.account_id)
    foreign = automation(
        world,
        "/monday/actions/run-integration",
        {"inboundFieldValues": {"integrationId": world.b_integration["id"]}},
    )
    refused_in_mondays_format(foreign, 404, 6000)
    assert queue.list_tasks(b.account_id) == b_tasks

    assert a.client.post(f"/queues/{a.account_id}/pause").status_code == 200
    before = len(queue.list_tasks(a.account_id))
    metadata = {"actionUuid": "action-1", "triggerUuid": "trigger-1"}
    fields = {"inboundFieldValues": {"integrationId": world.a_integration["id"], "boardId": world.board.id}}
    first = automation(world, "/monday/actions/run-integration", fields, metadata=metadata)
    assert first.status_code == 200, first.text
    retried = automation(
        world, "/monday/actions/run-integration", fields, metadata=metadata
    )  # monday's retry
    assert retried.status_code == 200 and retried.json()["run_id"] == first.json()["run_id"]
    assert len(queue.list_tasks(a.account_id)) == before + 1
    assert a.client.post(f"/queues/{a.account_id}/resume").status_code == 200
    run_id = first.json()["run_id"]
    run = wait_for(lambda: finished(a, run_id), 90, "the queued run")
    assert run["status"] == "COMPLETED"


# -- triggers --------------------------------------------------------------------------------------------


def test_reverse_run_finished_is_posted_to_mondays_webhook_url_signed(world: World) -> None:
    api, apps, a = world.api, world.apps, world.a
    settings = api.runtime.settings.snowflake
    source = ".".join(quote_identifier(p) for p in (settings.database, settings.schema_name, "A_ITEMS"))
    reverse = add_integration(
        api,
        a,
        world.board,
        "a-back",
        reverse={
            "source": source,
            "key_column": "ITEM_ID",
            "key_target": "item_id",
            "mapping": {"NAME": "name"},
            "create_missing": False,
        },
    )
    url = apps.trigger_url(api.board.server.url, "9001")
    payload = {
        "webhookUrl": url,
        "subscriptionId": 9001,
        "inputFields": {"integrationId": reverse["id"]},
        "inboundFieldValues": {},
        "recipeId": 1,
        "integrationId": 2,
    }
    path = "/monday/triggers/reverse-run-finished/subscribe"
    for bad in ({"authorization": None}, {"secret": "forged"}, {"expires_in": -5}):
        refused_in_mondays_format(automation(world, path, payload, **bad), 401, 4000)
    assert api.runtime.store.triggers("reverse_run_finished") == []
    foreign = automation(
        world, path, {**payload, "inputFields": {"integrationId": world.b_integration["id"]}}
    )
    refused_in_mondays_format(foreign, 404, 6000)
    not_reverse = automation(
        world, path, {**payload, "inputFields": {"integrationId": world.a_integration["id"]}}
    )
    refused_in_mondays_format(not_reverse, 400, 6000)

    subscribed = automation(world, path, payload)
    assert subscribed.status_code == 200 and subscribed.json() == {"webhookId": "9001"}
    assert a.client.post(f"/integrations/{reverse['id']}/runs").status_code == 202
    run = finished_run(a.client, reverse["id"])
    received = wait_for(lambda: [t for t in apps.received if t.subscription_id == "9001"], 30, "the trigger")
    assert len(received) == 1
    fields = received[0].output_fields
    assert (fields["runId"], fields["status"], fields["integrationId"]) == (
        run["id"],
        "COMPLETED",
        reverse["id"],
    )
    assert (
        received[0].claims["appId"] == "10000001"
    )  # signed with the signing secret (checked by the sandbox)

    # Unsubscribed (a forged unsubscribe changes nothing): the next run posts nothing.
    unsubscribe = "/monday/triggers/reverse-run-finished/unsubscribe"
    refused_in_mondays_format(
        automation(world, unsubscribe, {"webhookId": "9001"}, secret="forged"), 401, 4000
    )
    assert len(api.runtime.store.triggers("reverse_run_finished")) == 1
    assert automation(world, unsubscribe, {"webhookId": "9001"}).status_code == 200
    settled(a.client, a.account_id)
    assert a.client.post(f"/integrations/{reverse['id']}/runs").status_code == 202
    finished = wait_for(
        lambda: (r := finished_run(a.client, reverse["id"]))["id"] != run["id"] and r, 60, "the second run"
    )
    assert finished["status"] == "COMPLETED"
    assert len([t for t in apps.received if t.subscription_id == "9001"]) == 1


def test_query_new_rows_posts_each_new_row_once(world: World) -> None:
    api, apps = world.api, world.apps
    settings = api.runtime.settings.snowflake
    table = ".".join(quote_identifier(p) for p in (settings.database, settings.schema_name, "SIGNUPS"))
    warehouse = api.runtime.open_warehouse()
    try:
        warehouse.query(f"CREATE TABLE {table} (ID NUMBER, EMAIL VARCHAR)")
        warehouse.query(f"INSERT INTO {table} VALUES (1, 'old@example.com')")
    finally:
        warehouse.close()
    path = "/monday/triggers/query-new-rows/subscribe"
    url = apps.trigger_url(api.board.server.url, "777")
    fields = {"integrationId": world.a_integration["id"], "query": f"SELECT ID, EMAIL FROM {table}"}
    writes = automation(
        world,
        path,
        {
            "webhookUrl": url,
            "subscriptionId": 777,
            "inputFields": {**fields, "query": f"DELETE FROM {table}"},
        },
    )
    refused_in_mondays_format(writes, 400, 6000)
    refused_in_mondays_format(
        automation(
            world, path, {"webhookUrl": url, "subscriptionId": 777, "inputFields": fields}, secret="x"
        ),
        401,
        4000,
    )
    foreign = automation(
        world,
        path,
        {
            "webhookUrl": url,
            "subscriptionId": 777,
            "inputFields": {**fields, "integrationId": world.b_integration["id"]},
        },
    )
    refused_in_mondays_format(foreign, 404, 6000)
    # the server's shared warehouse: A may read A's integration tables only, never B's
    b_table = ".".join(quote_identifier(p) for p in (settings.database, settings.schema_name, "B_ITEMS"))
    for query in (f"SELECT ID, EMAIL FROM {table}", f"SELECT * FROM {b_table}", "SELECT * FROM B_ITEMS"):
        reads = automation(
            world, path, {"webhookUrl": url, "subscriptionId": 777, "inputFields": {**fields, "query": query}}
        )
        refused_in_mondays_format(reads, 403, 6000)
    assert api.runtime.store.triggers("query_new_rows") == []
    add_integration(api, world.a, world.board, "signups", with_app=True, table="SIGNUPS")  # now A's
    ok = automation(world, path, {"webhookUrl": url, "subscriptionId": 777, "inputFields": fields})
    assert ok.status_code == 200, ok.text

    assert check_query_triggers(api.runtime) == 0  # the first check notes the rows already there
    warehouse = api.runtime.open_warehouse()
    try:
        warehouse.query(f"INSERT INTO {table} VALUES (2, 'new@example.com'), (3, 'newer@example.com')")
    finally:
        warehouse.close()
    a_id = world.a_integration["id"]
    assert world.a.client.post(f"/integrations/{a_id}/pause").status_code == 200
    assert check_query_triggers(api.runtime) == 0  # paused: its query does not run
    assert world.a.client.post(f"/integrations/{a_id}/resume").status_code == 200
    assert check_query_triggers(api.runtime) == 2
    assert check_query_triggers(api.runtime) == 0  # posted once
    posted = sorted(t.output_fields["row"]["EMAIL"] for t in apps.received if t.subscription_id == "777")
    assert posted == ["new@example.com", "newer@example.com"]
    assert (
        automation(world, "/monday/triggers/query-new-rows/unsubscribe", {"webhookId": 777}).status_code
        == 200
    )
    warehouse = api.runtime.open_warehouse()
    try:
        warehouse.query(f"INSERT INTO {table} VALUES (4, 'late@example.com')")
    finally:
        warehouse.close()
    assert check_query_triggers(api.runtime) == 0


# -- every new route ---------------------------------------------------------------------------------------


APP_ROUTES = {
    ("GET", "/oauth/monday/authorize"),
    ("GET", "/oauth/monday/callback"),
    ("POST", "/events/monday"),
    ("POST", "/monday/actions/{action}"),
    ("POST", "/monday/triggers/{kind}/{operation}"),
}


def test_every_app_route_refuses_callers_without_monday_proof_and_an_api_key_is_no_proof(
    world: World,
) -> None:
    api = world.api
    routes = app_routes(api.app)
    assert {
        r for r in routes if r[1].startswith(("/oauth/monday", "/events/monday", "/monday/"))
    } == APP_ROUTES
    a_key = {"Authorization": f"Bearer {world.a.key}"}
    a_fields = {"integrationId": world.a_integration["id"]}
    monday_body = {
        "webhookId": 1,
        "subscriptionId": 1,
        "webhookUrl": "https://x.example",
        "inputFields": a_fields,
    }
    requests: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {
        ("GET", "/oauth/monday/callback"): ("GET", "/oauth/monday/callback?code=c&state=s", {}),
        ("POST", "/events/monday"): (
            "POST",
            "/events/monday",
            {"type": "uninstall", "data": {"account_id": 1}},
        ),
    }
    for action in ("sync-item", "run-integration", "write-item"):
        path = f"/monday/actions/{action}"
        requests[("POST", path)] = ("POST", path, {"payload": {"inboundFieldValues": a_fields}})
    for kind in ("reverse-run-finished", "query-new-rows"):
        for operation in ("subscribe", "unsubscribe"):
            path = f"/monday/triggers/{kind}/{operation}"
            requests[("POST", path)] = ("POST", path, {"payload": monday_body})

    def call(method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        if method == "GET":
            return httpx.get(api.url + path, headers=headers, timeout=60)
        return httpx.post(api.url + path, json=body, headers=headers, timeout=60)

    for route, (method, path, body) in requests.items():
        for headers in ({}, a_key):
            response = call(method, path, body, headers)
            assert response.status_code in (401, 403), (route, headers, response.text)
            assert "a-sync" not in response.text
    # The authorize route starts a flow for whoever asks, and binds it to that browser only.
    started = httpx.get(f"{api.url}/oauth/monday/authorize")
    assert started.status_code == 302 and "monday_oauth" in started.headers["set-cookie"]
    # Nothing of A's changed.
    assert [i["name"] for i in world.a.client.get("/integrations").json()] == ["a-sync"]
    assert api.runtime.store.install_of(str(world.sandbox.account.id)).account_id == world.a.account_id
    assert api.runtime.store.triggers("reverse_run_finished") == []
    assert api.runtime.store.triggers("query_new_rows") == []
