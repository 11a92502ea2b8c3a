"""The management API over real HTTP: uvicorn on a socket, the monday sandbox, the embedded warehouse.

Every response any test here receives is checked for the monday token (credentials are write-only).
Servers run in a thread of this process (so they share the session's embedded warehouse) with the
worker on and the scheduler off (it is tested in tests/integration/test_scheduler.py), except the
last test, which runs `monday-snowflake serve` as a user would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import SecretStr
from starlette.routing import BaseRoute
from tests.e2e.conftest import Served

from monday_sandbox.generator import seed_account
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.api.app import create_app
from monday_snowflake.errors import CAUSES
from monday_snowflake.runtime import Runtime
from monday_snowflake.service import Service
from monday_snowflake.settings import MondaySettings, QueueSettings, Settings, SnowflakeSettings
from monday_snowflake.snowflake.naming import quote_identifier
from monday_snowflake.store import SecretBox, Store

MONDAY_TOKEN = "monday-pat-7f3a9c1e5b2d4680-DO-NOT-ECHO"
SCHEDULER_SECRET = "scheduler-secret-0b1c2d3e4f"
MIN_INTERVAL_HOURS = 2.0
COMMAND = str(Path(sys.executable).parent / "monday-snowflake")
PUBLIC_ROUTES = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
MONDAY_APP_ROUTES = {  # proved by monday (a state cookie, lifecycle and automation JWTs), never by API keys
    ("GET", "/oauth/monday/authorize"),
    ("GET", "/oauth/monday/callback"),
    ("POST", "/events/monday"),
    ("POST", "/monday/actions/{action}"),
    ("POST", "/monday/triggers/{kind}/{operation}"),
}  # each refuses callers without monday's proof: tests/e2e/test_monday_app.py
DAILY_NEW_YORK = {"schedule_type": "DAILY", "hour": 2, "minute": 30, "timezone": "America/New_York"}


# -- the sandbox and the server --------------------------------------------------------------------


@pytest.fixture(scope="module")
def board() -> Iterator[Served]:
    """One small seeded board, shared by this module's tests (none of them changes it)."""
    sandbox = Sandbox()
    seeded = seed_account(sandbox, boards=1, items=24, subitems=1, seed=29)[0]
    sandbox.add_token(MONDAY_TOKEN)
    with SandboxServer(sandbox) as server:
        yield Served(server, seeded)


def no_credentials(response: httpx.Response) -> None:
    """Every response of every route: the monday token never comes back."""
    response.read()
    assert MONDAY_TOKEN not in response.text, f"{response.request.method} {response.request.url} leaked it"
    assert MONDAY_TOKEN not in str(response.headers)


@dataclass
class Tenant:
    account_id: str
    key: str
    client: httpx.Client


@dataclass
class Api:
    """A running server: its URL, the runtime behind it, and clients."""

    url: str
    app: FastAPI
    runtime: Runtime
    service: Service
    board: Served
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        client = httpx.Client(
            base_url=self.url, headers=headers, timeout=60, event_hooks={"response": [no_credentials]}
        )
        self.clients.append(client)
        return client

    def tenant(self, name: str) -> Tenant:
        account = self.runtime.store.create_account(name)
        key, _ = self.runtime.store.create_api_key(account.id, "tests")
        return Tenant(account.id, key, self.client(key))

    def create_integration(self, tenant: Tenant, **body: Any) -> dict[str, Any]:
        body = {
            "board_id": str(self.board.board.id),
            "monday_token": MONDAY_TOKEN,
            "monday_api_url": self.board.api_url,
            **body,
        }
        response = tenant.client.post("/integrations", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def api_settings(warehouse_dir: Path, database_url: str, api_url: str) -> Settings:
    """make_settings (tests/e2e/conftest.py) plus what the API needs, on a schema of the test's own."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=warehouse_dir,
        database_url=database_url,
        secret_key=SecretStr(Fernet.generate_key().decode()),
        monday=MondaySettings(api_url=api_url, backoff_base_seconds=0.01, max_attempts=3),
        snowflake=SnowflakeSettings(schema_name=f"API_{uuid.uuid4().hex[:10].upper()}"),
        queue=QueueSettings(poll_interval_seconds=0.1, backoff_base_seconds=0.2, backoff_max_seconds=1),
        scheduler_secret=SecretStr(SCHEDULER_SECRET),
        min_schedule_interval_hours=MIN_INTERVAL_HOURS,
    )


def tcp_socket(port: int = 0) -> socket.socket:
    """A listening address on 127.0.0.1. Without IPPROTO_TCP uvicorn leaves Nagle on and every
    response waits ~40 ms for a delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextmanager
def serving(
    settings: Settings, board: Served, *, run_worker: bool = True, sock: socket.socket | None = None
) -> Iterator[Api]:
    """The app on uvicorn on a real socket, in a thread; stopped (tasks in hand finished) on exit."""
    runtime = Runtime(settings)
    service = Service(runtime)
    app = create_app(service, run_worker=run_worker, run_scheduler=False)
    sock = sock or tcp_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    api = Api(f"http://127.0.0.1:{sock.getsockname()[1]}", app, runtime, service, board)
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        yield api
    finally:
        for client in api.clients:
            client.close()
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
        runtime.close()


@pytest.fixture
def api(warehouse_data_dir: Path, tmp_path: Path, board: Served) -> Iterator[Api]:
    """A server on a SQLite state store of its own."""
    settings = api_settings(warehouse_data_dir, f"sqlite:///{tmp_path / 'state.db'}", board.api_url)
    with serving(settings, board) as running:
        yield running


@pytest.fixture
def api_without_worker(warehouse_data_dir: Path, tmp_path: Path, board: Served) -> Iterator[Api]:
    """`serve --no-worker`: the API alone, its tasks left for workers elsewhere."""
    settings = api_settings(warehouse_data_dir, f"sqlite:///{tmp_path / 'state.db'}", board.api_url)
    with serving(settings, board, run_worker=False) as running:
        yield running


@pytest.fixture
def api_on_each_db(warehouse_data_dir: Path, database_url: str, board: Served) -> Iterator[Api]:
    """A server on a fresh SQLite file, then on a fresh PostgreSQL schema."""
    with serving(api_settings(warehouse_data_dir, database_url, board.api_url), board) as running:
        yield running


# -- helpers -------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return value


def finished_run(client: httpx.Client, integration_id: str, timeout: float = 90) -> dict[str, Any]:
    """The newest run of the integration once it has finished."""

    def newest_finished() -> dict[str, Any] | None:
        response = client.get(f"/integrations/{integration_id}/runs")
        assert response.status_code == 200, response.text
        runs = response.json()["runs"]
        return runs[0] if runs and runs[0]["status"] != "RUNNING" else None

    run: dict[str, Any] = wait_for(newest_finished, timeout, f"a finished run of {integration_id}")
    return run


def settled(client: httpx.Client, account_id: str, timeout: float = 60) -> dict[str, Any]:
    """The account's queue once nothing waits or runs: a finished run's task is done, its lock let go."""

    def idle() -> dict[str, Any] | None:
        stats: dict[str, Any] = client.get(f"/queues/{account_id}").json()
        return stats if (stats["depth"], stats["running"]) == (0, 0) else None

    stats: dict[str, Any] = wait_for(idle, timeout, f"the queue of {account_id} to settle")
    return stats


@contextmanager
def slow_monday(board: Served, latency_ms: int) -> Iterator[None]:
    """Every sandbox request takes `latency_ms` longer, so a run stays RUNNING long enough to watch."""
    board.server.runtime.faults.configure(None, latency_ms=latency_ms)
    try:
        yield
    finally:
        board.server.runtime.faults.configure(None, latency_ms=0)


def named(response: httpx.Response) -> set[str]:
    """The fields a 4xx names: the product's `field` / `errors[].field` (dotted paths), or FastAPI's
    `detail[].loc`."""
    body = response.json()
    names: set[str] = set()
    if isinstance(body.get("detail"), list):
        names |= {str(part) for problem in body["detail"] for part in problem["loc"]}
    for problem in body.get("errors", []):
        if isinstance(problem, dict):  # "options.bogus" names options.bogus, and bogus
            names |= {problem["field"], *str(problem["field"]).split(".")}
    if "field" in body:
        names.add(body["field"])
    return names


def table_item_ids(api: Api, integration: dict[str, Any]) -> set[str]:
    parts = (integration["target_database"], integration["target_schema"], integration["target_table"])
    warehouse = api.runtime.open_warehouse()
    try:
        _, rows = warehouse.query(f"SELECT ITEM_ID FROM {'.'.join(quote_identifier(p) for p in parts)}")
    finally:
        warehouse.close()
    return {str(row[0]) for row in rows}


def board_item_ids(api: Api) -> set[str]:
    return {str(item.id) for item in api.board.sandbox.active_items(api.board.board)}


def served_routes(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every API route, looking inside included routers."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, APIRoute):
            found |= {(method, prefix + route.path) for method in route.methods or ()}
        elif (router := getattr(route, "original_router", None)) is not None:  # FastAPI's lazy include
            found |= served_routes(router.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
    return found


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    routes = served_routes(app.routes)
    documented = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= routes, f"routes the walk missed: {documented - routes}"
    return routes


# -- 1. the recipe --------------------------------------------------------------------------------


def test_integrations_are_created_listed_patched_and_deleted_and_credentials_never_come_back(
    api: Api, tmp_path: Path
) -> None:
    acme = api.tenant("acme")
    created = api.create_integration(
        acme, name="crm", options={"include_subitems": True}, schedule=DAILY_NEW_YORK
    )
    integration_id = created["id"]
    assert created["name"] == "crm"
    assert created["board_id"] == str(api.board.board.id)
    assert created["account_id"] == acme.account_id
    assert created["options"]["include_subitems"] is True
    assert created["schedule"]["timezone"] == "America/New_York"
    assert created["next_run"]["cron"] == "30 2 * * *"
    assert created["next_run"]["next_run_local"][11:16] in ("02:30", "03:30")  # 03:30 on spring-forward
    assert not {"monday_token", "monday_connection_id", "snowflake_connection_id"} & set(created)

    listed = acme.client.get("/integrations")
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()] == [integration_id]
    fetched = acme.client.get(f"/integrations/{integration_id}")
    assert fetched.status_code == 200
    assert {k: v for k, v in fetched.json().items() if k != "next_run"} == {
        k: v for k, v in created.items() if k != "next_run"
    }

    weekly = {"schedule_type": "WEEKLY", "hour": 6, "minute": 15, "timezone": "UTC", "days_of_week": [0, 3]}
    options = {**created["options"], "keep_labels": True, "on_delete": "soft_delete"}
    patched = acme.client.patch(
        f"/integrations/{integration_id}", json={"name": "crm-2", "schedule": weekly, "options": options}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "crm-2"
    assert patched.json()["options"] == options
    assert patched.json()["schedule"]["days_of_week"] == [0, 3]
    assert patched.json()["next_run"]["cron"] == "15 6 * * 1,4"
    assert acme.client.get(f"/integrations/{integration_id}").json()["name"] == "crm-2"

    cleared = acme.client.patch(f"/integrations/{integration_id}", json={"schedule": None})
    assert cleared.status_code == 200
    again = acme.client.get(f"/integrations/{integration_id}").json()
    assert again["schedule"] is None
    assert "next_run" not in again
    assert again["name"] == "crm-2"  # what was not given stays
    assert again["options"] == options

    # A wrong monday token is refused, and not echoed either.
    wrong = "monday-pat-wrong-3e8d1c-ALSO-NOT-ECHOED"
    refused = acme.client.post(
        "/integrations",
        json={
            "board_id": str(api.board.board.id),
            "monday_token": wrong,
            "monday_api_url": api.board.api_url,
        },
    )
    assert 400 <= refused.status_code < 500
    assert "monday" in refused.json()["error"].lower()
    assert wrong not in refused.text

    # Stored encrypted: the token is nowhere in the state database's files.
    state_files = [p for p in tmp_path.iterdir() if p.name.startswith("state.db")]
    assert state_files
    assert not any(MONDAY_TOKEN.encode() in p.read_bytes() for p in state_files)

    deleted = acme.client.delete(f"/integrations/{integration_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert acme.client.get(f"/integrations/{integration_id}").status_code == 404
    assert acme.client.delete(f"/integrations/{integration_id}").status_code == 404
    assert acme.client.get("/integrations").json() == []


# -- 2. running ------------------------------------------------------------------------------------


def test_a_run_is_accepted_refused_while_queued_or_running_then_completes_under_its_promised_id(
    api: Api,
) -> None:
    acme = api.tenant("acme")
    integration = api.create_integration(acme, name="crm")
    runs_url = f"/integrations/{integration['id']}/runs"

    with slow_monday(api.board, latency_ms=500):
        acme.client.post(f"/queues/{acme.account_id}/pause")  # hold it in the queue first
        accepted = acme.client.post(runs_url)
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]
        while_queued = acme.client.post(runs_url, json={"full": True})
        assert while_queued.status_code == 409, while_queued.text
        assert "already running" in while_queued.json()["error"]

        acme.client.post(f"/queues/{acme.account_id}/resume")
        running = wait_for(
            lambda: [r for r in acme.client.get(runs_url).json()["runs"] if r["status"] == "RUNNING"],
            30,
            "the run to start",
        )
        assert [r["id"] for r in running] == [run_id]
        while_running = acme.client.post(runs_url)
        assert while_running.status_code == 409, while_running.text
        assert acme.client.get(f"/runs/{run_id}").json()["status"] == "RUNNING"  # still, when refused

        run = finished_run(acme.client, integration["id"])
    assert run["id"] == run_id
    assert run["status"] == "COMPLETED", run
    assert acme.client.get(runs_url).json()["runs"] == [run]  # the refused requests left no run

    detail = acme.client.get(f"/runs/{run_id}")
    assert detail.status_code == 200
    subtasks = detail.json()["subtasks"]
    assert subtasks
    assert {s["status"] for s in subtasks} == {"COMPLETED"}

    assert table_item_ids(api, integration) == board_item_ids(api)
    settled(acme.client, acme.account_id)
    assert acme.client.post(runs_url).status_code == 202  # idle again: accepted


def test_a_run_request_is_409_once_a_worker_has_claimed_the_previous_one(api_without_worker: Api) -> None:
    api = api_without_worker
    acme = api.tenant("acme")
    integration = api.create_integration(acme, name="crm")
    runs_url = f"/integrations/{integration['id']}/runs"
    assert acme.client.post(runs_url).status_code == 202
    # A worker in another process claims it; its sync has not taken the integration's lock yet.
    [claimed] = api.service.queue.claim("worker-elsewhere", lease_seconds=60)
    assert claimed.payload["integration_id"] == integration["id"]

    second = acme.client.post(runs_url)
    assert second.status_code == 409, second.text


def test_the_promised_run_id_is_kept_when_the_first_attempt_finds_the_integration_locked(api: Api) -> None:
    acme = api.tenant("acme")
    integration = api.create_integration(acme, name="crm")
    acme.client.post(f"/queues/{acme.account_id}/pause")
    run_id = acme.client.post(f"/integrations/{integration['id']}/runs").json()["run_id"]
    lock = api.runtime.store.acquire_lock(integration["id"], "cli-sync-run-elsewhere", 60)
    try:
        acme.client.post(f"/queues/{acme.account_id}/resume")
        wait_for(  # waiting for a lock uses up no attempt: the task says what it met
            lambda: api.service.queue.list_tasks(acme.account_id)[0].error_class == "AlreadyRunningError",
            30,
            "the first attempt to meet the lock",
        )
    finally:
        api.runtime.store.release_lock(integration["id"], lock)

    run = finished_run(acme.client, integration["id"])
    assert run["status"] == "COMPLETED"
    assert run["id"] == run_id
    assert acme.client.get(f"/runs/{run_id}").status_code == 200


# -- 3. bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "field_name", "words"),
    [
        ({"schedule_type": "DAILY", "timezone": "Mars/Olympus_Mons"}, "timezone", "Mars/Olympus_Mons"),
        ({"schedule_type": "MONTHLY", "days_of_month": [0]}, "days_of_month[0]", "got 0"),
        ({"schedule_type": "MONTHLY", "days_of_month": [1, 32]}, "days_of_month[1]", "got 32"),
        ({"schedule_type": "DAILY", "hour": 24}, "hour", "got 24"),
        ({"schedule_type": "HOURLY", "every_n_hours": 1}, "every_n_hours", "minimum interval of 2 hours"),
        ({"schedule_type": "DAILY", "colour": "red"}, "colour", "not permitted"),
    ],
    ids=["unknown-timezone", "day-0", "day-32", "hour-24", "under-minimum-interval", "unknown-field"],
)
def test_a_bad_schedule_is_a_422_naming_its_field_and_nothing_is_written(
    api: Api, schedule: dict[str, Any], field_name: str, words: str
) -> None:
    acme = api.tenant("acme")
    existing = api.create_integration(acme, name="crm", schedule=DAILY_NEW_YORK)
    body = {"board_id": str(api.board.board.id), "monday_token": MONDAY_TOKEN, "schedule": schedule}

    for response in (
        acme.client.post("/integrations", json={**body, "name": "second"}),
        acme.client.patch(f"/integrations/{existing['id']}", json={"name": "renamed", "schedule": schedule}),
    ):
        assert response.status_code == 422, response.text
        assert field_name in named(response), response.text
        assert words in response.text

    assert [i["name"] for i in acme.client.get("/integrations").json()] == ["crm"]
    kept = acme.client.get(f"/integrations/{existing['id']}").json()
    assert kept["schedule"] == existing["schedule"]
    assert len(api.runtime.store.list_connections(acme.account_id)) == 2  # the first integration's only


def test_bad_requests_are_4xx_naming_the_problem_and_write_nothing(api: Api) -> None:
    acme = api.tenant("acme")
    board_id = str(api.board.board.id)
    good = {"board_id": board_id, "monday_token": MONDAY_TOKEN}
    json_headers = {"content-type": "application/json"}
    unknown = "00000000-1111-2222-3333-444444444444"

    for method, path in [
        ("GET", f"/integrations/{unknown}"),
        ("PATCH", f"/integrations/{unknown}"),
        ("DELETE", f"/integrations/{unknown}"),
        ("POST", f"/integrations/{unknown}/runs"),
        ("GET", f"/integrations/{unknown}/runs"),
        ("GET", f"/runs/{unknown}"),
    ]:
        response = acme.client.request(method, path, json={"name": "x"} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)
        assert unknown in response.json()["error"]

    malformed = acme.client.post("/integrations", content=b'{"board_id": "1', headers=json_headers)
    assert malformed.status_code == 422
    assert "JSON" in malformed.text
    assert acme.client.post("/batch/runs", content=b"[,]", headers=json_headers).status_code == 422

    oversized = acme.client.post(
        "/integrations",
        content=b'{"board_id": "1", "name": "' + b"x" * 1_100_000 + b'"}',
        headers=json_headers,
    )
    assert oversized.status_code == 413
    assert "1 MB" in oversized.json()["error"]

    for body, field_name in [
        ({**good, "colour": "red"}, "colour"),
        ({**good, "options": {"include_subitems": True, "bogus": 1}}, "bogus"),
        ({**good, "board_id": "not-a-number"}, "board_id"),
        ({**good, "sync_mode": "sometimes"}, "sync_mode"),
        ({"name": "no board"}, "board_id"),
    ]:
        response = acme.client.post("/integrations", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field_name in named(response), response.text

    missing_column = acme.client.post("/integrations", json={**good, "columns": ["no_such_column"]})
    assert missing_column.status_code == 422
    assert "no_such_column" in missing_column.json()["error"]

    # None of it wrote anything.
    assert acme.client.get("/integrations").json() == []
    assert api.runtime.store.list_connections(acme.account_id) == []

    existing = api.create_integration(acme, name="crm")
    for body, field_name in [({"board_id": "123"}, "board_id"), ({"name": ""}, "name")]:
        response = acme.client.patch(f"/integrations/{existing['id']}", json=body)
        assert response.status_code == 422, response.text
        assert field_name in named(response)
    run_with_typo = acme.client.post(f"/integrations/{existing['id']}/runs", json={"fulll": True})
    assert run_with_typo.status_code == 422
    assert "fulll" in named(run_with_typo)
    assert acme.client.get(f"/integrations/{existing['id']}").json()["name"] == "crm"
    assert api.service.queue.list_tasks(acme.account_id) == []


def test_a_422_for_a_body_holding_the_monday_token_does_not_echo_it(api: Api) -> None:
    acme = api.tenant("acme")
    raw = httpx.post(
        f"{api.url}/integrations",
        json={"monday_token": MONDAY_TOKEN, "name": "no board"},
        headers={"Authorization": f"Bearer {acme.key}"},
    )
    assert raw.status_code == 422
    assert "board_id" in named(raw)
    assert MONDAY_TOKEN not in raw.text


def test_a_chunked_body_is_refused_before_it_is_read(api: Api) -> None:
    # a chunked body's size is only known once all of it has been read: it is refused with 411
    acme = api.tenant("acme")

    def chunks() -> Iterator[bytes]:
        yield b'{"board_id": "' + str(api.board.board.id).encode() + b'", "columns": ['
        for i in range(100_000):
            yield b'"column_%06d",' % i
        yield b'"last"]}'

    response = acme.client.post(
        "/integrations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 411, response.text
    assert "Content-Length" in response.json()["error"]
    assert acme.client.get("/integrations").json() == []


def test_a_primary_key_that_is_not_a_column_is_a_422_naming_primary_key(api: Api) -> None:
    acme = api.tenant("acme")
    response = acme.client.post(
        "/integrations",
        json={"board_id": str(api.board.board.id), "monday_token": MONDAY_TOKEN, "primary_key": "no_such"},
    )
    assert response.status_code == 422, response.text
    assert "primary_key" in named(response)


def test_one_board_feeds_several_integrations_but_a_taken_name_is_a_422_writing_nothing(api: Api) -> None:
    acme = api.tenant("acme")
    board_id = str(api.board.board.id)
    first = api.create_integration(acme, table="CRM_A")
    second = api.create_integration(acme, table="CRM_B")
    assert (first["name"], second["name"]) == (f"board-{board_id}", f"board-{board_id}-2")
    connections = api.runtime.store.list_connections(acme.account_id)

    response = acme.client.post(
        "/integrations",
        json={"board_id": board_id, "monday_token": MONDAY_TOKEN, "name": second["name"], "table": "CRM_C"},
    )
    assert response.status_code == 422, response.text
    assert "name" in named(response)
    assert f"integration named '{second['name']}' already exists" in response.json()["error"]
    assert api.runtime.store.list_connections(acme.account_id) == connections
    assert len(acme.client.get("/integrations").json()) == 2


# -- 4. authentication and tenant isolation --------------------------------------------------------


def test_every_route_needs_a_valid_unrevoked_key_and_no_account_reaches_anothers_things(
    api_on_each_db: Api,
) -> None:
    api = api_on_each_db
    a, b = api.tenant("a"), api.tenant("b")
    a_integration = api.create_integration(a, name="a-crm", schedule=DAILY_NEW_YORK, table="A_ITEMS")
    b_integration = api.create_integration(b, name="b-crm", table="B_ITEMS")
    a_id = a_integration["id"]
    a_run = a.client.post(f"/integrations/{a_id}/runs").json()["run_id"]
    assert finished_run(a.client, a_id)["id"] == a_run
    a_connection = a.client.post(
        "/connections/snowflake",
        json={"name": "a-sf", "mode": "embedded", "auth": {"type": "password", "password": "a-secret"}},
    ).json()["id"]
    a_alert, _ = api.runtime.store.raise_alert(
        a.account_id, CAUSES["column_value"], "A's bad value", integration_id=a_id
    )
    routes = app_routes(api.app) - MONDAY_APP_ROUTES

    # Authentication, on every route that is not health or metrics.
    spare_key, spare = api.runtime.store.create_api_key(a.account_id, "spare")
    assert api.client(spare_key).get("/integrations").status_code == 200
    api.runtime.store.revoke_api_key(spare.id, a.account_id)
    anonymous, wrong = api.client(), api.client("msk_" + "x" * 43)
    revoked, in_other_header = api.client(spare_key), api.client(**{"X-API-Key": "msk_nope"})
    paths = {
        "integration_id": a_id,
        "run_id": a_run,
        "account_id": a.account_id,
        "connection_id": a_connection,
        "alert_id": a_alert.id,
    }
    for method, template in sorted(routes - PUBLIC_ROUTES):
        path = template.format(**paths)
        for client in (anonymous, wrong, revoked, in_other_header):
            response = client.request(method, path)
            assert response.status_code == 401, (method, template, response.text)
            assert response.json()["code"] == "AuthenticationError"

    # B's key against everything of A's: not found, and nothing of A's in the answer.
    bc = b.client
    attempts: dict[tuple[str, str], Callable[[], httpx.Response]] = {
        ("GET", "/integrations/{integration_id}"): lambda: bc.get(f"/integrations/{a_id}"),
        ("PATCH", "/integrations/{integration_id}"): lambda: bc.patch(
            f"/integrations/{a_id}", json={"name": "taken", "schedule": None}
        ),
        ("DELETE", "/integrations/{integration_id}"): lambda: bc.delete(f"/integrations/{a_id}"),
        ("POST", "/integrations/{integration_id}/runs"): lambda: bc.post(f"/integrations/{a_id}/runs"),
        ("GET", "/integrations/{integration_id}/runs"): lambda: bc.get(f"/integrations/{a_id}/runs"),
        ("GET", "/runs/{run_id}"): lambda: bc.get(f"/runs/{a_run}"),
        ("GET", "/queues/{account_id}"): lambda: bc.get(f"/queues/{a.account_id}"),
        ("POST", "/queues/{account_id}/pause"): lambda: bc.post(f"/queues/{a.account_id}/pause"),
        ("POST", "/queues/{account_id}/resume"): lambda: bc.post(f"/queues/{a.account_id}/resume"),
        ("GET", "/integrations/{integration_id}/realtime"): lambda: bc.get(f"/integrations/{a_id}/realtime"),
        ("PUT", "/integrations/{integration_id}/realtime"): lambda: bc.put(
            f"/integrations/{a_id}/realtime", json={"enabled": False}
        ),
        ("POST", "/integrations/{integration_id}/duplicate"): lambda: bc.post(
            f"/integrations/{a_id}/duplicate"
        ),
        ("POST", "/integrations/{integration_id}/pause"): lambda: bc.post(f"/integrations/{a_id}/pause"),
        ("POST", "/integrations/{integration_id}/resume"): lambda: bc.post(f"/integrations/{a_id}/resume"),
        ("GET", "/connections/{connection_id}"): lambda: bc.get(f"/connections/{a_connection}"),
        ("PUT", "/connections/{connection_id}/credentials"): lambda: bc.put(
            f"/connections/{a_connection}/credentials", json={"auth": {"type": "password", "password": "b"}}
        ),
        ("POST", "/connections/{connection_id}/test"): lambda: bc.post(f"/connections/{a_connection}/test"),
        ("GET", "/connections/snowflake/oauth/authorize"): lambda: bc.get(
            "/connections/snowflake/oauth/authorize", params={"connection": a_connection}
        ),
        ("POST", "/alerts/{alert_id}/resolve"): lambda: bc.post(f"/alerts/{a_alert.id}/resolve"),
    }
    for route, attempt in attempts.items():
        response = attempt()
        assert response.status_code == 404, (route, response.text)
        assert "a-crm" not in response.text and "A_ITEMS" not in response.text, (route, response.text)
    assert bc.get("/integrations/a-crm").status_code == 404  # by name neither

    # The routes without a path parameter, as B.
    listed = bc.get("/integrations")
    assert [i["id"] for i in listed.json()] == [b_integration["id"]]
    batch = bc.post("/batch/runs", json={"integration_ids": [a_id]})
    assert batch.status_code == 200
    assert [r["status"] for r in batch.json()["results"]] == [404]
    assert "a-crm" not in batch.text
    # The scheduled trigger takes the scheduler's secret, not an account's key: B's key is refused.
    trigger = bc.post(f"/triggers/scheduled/{a_id}")
    assert trigger.status_code == 401
    # Webhooks prove themselves with the integration's URL secret, never with a key.
    assert bc.post(f"/webhooks/monday/{a_id}", json={"challenge": "x"}).status_code == 401
    covered = {
        *attempts,
        ("GET", "/integrations"),
        ("POST", "/integrations"),
        ("POST", "/batch/runs"),
        ("POST", "/triggers/scheduled/{integration_id}"),
        ("POST", "/webhooks/monday/{integration_id}"),
        ("POST", "/connections/snowflake"),
        ("GET", "/connections"),
        # The OAuth callback takes a one-time state instead of a key (tests/e2e/test_connections.py).
        ("GET", "/connections/snowflake/oauth/callback"),
        ("GET", "/alerts"),
        ("GET", "/outbox"),
    }
    assert a_connection not in {c["id"] for c in bc.get("/connections").json()}
    assert bc.get("/alerts").json() == [] and bc.get("/outbox").json() == []
    # A new route must come with its tenant check here.
    assert {r for r in routes if "{" in r[1]} <= covered, {r for r in routes if "{" in r[1]} - covered
    assert routes - PUBLIC_ROUTES == covered

    # A's things are as they were.
    kept = a.client.get(f"/integrations/{a_id}").json()
    assert (kept["name"], kept["schedule"]) == ("a-crm", a_integration["schedule"])
    assert [r["id"] for r in a.client.get(f"/integrations/{a_id}/runs").json()["runs"]] == [a_run]
    assert a.client.get(f"/queues/{a.account_id}").json()["paused"] is False
    assert [alert["id"] for alert in a.client.get("/alerts?status=open").json()] == [a_alert.id]
    assert [t.payload["run_id"] for t in api.service.queue.list_tasks(a.account_id)] == [a_run]
    assert api.service.queue.list_tasks(b.account_id) == []


# -- 5. batch runs ------------------------------------------------------------------------------


def test_a_batch_answers_one_result_per_id_in_order(api: Api) -> None:
    acme = api.tenant("acme")
    assert acme.client.post(f"/queues/{acme.account_id}/pause").status_code == 200  # nothing runs
    idle = api.create_integration(acme, name="idle")
    busy = api.create_integration(acme, name="busy")
    assert acme.client.post(f"/integrations/{busy['id']}/runs").status_code == 202
    unknown = str(uuid.uuid4())

    response = acme.client.post(
        "/batch/runs", json={"integration_ids": [idle["id"], unknown, busy["id"], idle["id"]]}
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["integration_id"], r["status"]) for r in results] == [
        (idle["id"], 202),
        (unknown, 404),
        (busy["id"], 409),
        (idle["id"], 409),  # queued by this very batch
    ]
    assert unknown in results[1]["error"]
    tasks = api.service.queue.list_tasks(acme.account_id)
    assert sorted((t.payload["integration_id"], t.payload["reason"]) for t in tasks) == sorted(
        [(idle["id"], "batch"), (busy["id"], "manual")]
    )
    assert results[0]["run_id"] in {t.payload["run_id"] for t in tasks}


# -- 6. pause and resume ----------------------------------------------------------------------------


def metric(api: Api, name: str, **labels: str) -> float | None:
    text = api.client().get("/metrics").text
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    line = f"{name}{{{selector}}} " if labels else f"{name} "
    values = [float(row.removeprefix(line)) for row in text.splitlines() if row.startswith(line)]
    return values[0] if values else None


def test_a_paused_queue_keeps_a_requested_run_queued_until_resumed(api: Api) -> None:
    acme = api.tenant("acme")
    integration = api.create_integration(acme, name="crm")
    queue_url = f"/queues/{acme.account_id}"

    paused = acme.client.post(f"{queue_url}/pause")
    assert paused.status_code == 200
    assert paused.json()["paused"] is True
    run_id = acme.client.post(f"/integrations/{integration['id']}/runs").json()["run_id"]

    deadline = time.monotonic() + 2.5  # the worker polls every 0.1 s: ~25 chances to start it
    while time.monotonic() < deadline:
        assert acme.client.get(f"/integrations/{integration['id']}/runs").json()["runs"] == []
        time.sleep(0.25)
    stats = acme.client.get(queue_url).json()
    assert (stats["depth"], stats["running"], stats["paused"]) == (1, 0, True)
    assert [t.status for t in api.service.queue.list_tasks(acme.account_id)] == ["QUEUED"]
    assert metric(api, "monday_snowflake_queue_depth", account=acme.account_id) == 1
    assert metric(api, "monday_snowflake_queue_paused", account=acme.account_id) == 1

    resumed = acme.client.post(f"{queue_url}/resume")
    assert resumed.status_code == 200
    assert resumed.json()["paused"] is False
    run = finished_run(acme.client, integration["id"])
    assert (run["id"], run["status"]) == (run_id, "COMPLETED")
    assert table_item_ids(api, integration) == board_item_ids(api)
    assert settled(acme.client, acme.account_id)["paused"] is False
    assert metric(api, "monday_snowflake_runs", status="COMPLETED") == 1


def test_a_revoked_monday_token_fails_the_run_pauses_the_queue_and_counts_in_the_metrics(api: Api) -> None:
    """Counters are per process and other tests add to them: compare before and after."""
    acme = api.tenant("acme")
    sandbox = api.board.server.sandbox
    sandbox.add_token("revoked-token")
    integration = api.create_integration(acme, name="crm", monday_token="revoked-token")
    sandbox.revoke_token("revoked-token")
    auth_errors = ("monday_snowflake_monday_errors_total", {"error": "AuthenticationError"})
    failed_tasks = ("monday_snowflake_tasks_total", {"kind": "sync", "outcome": "failed"})
    before = {name: metric(api, name, **labels) or 0.0 for name, labels in (auth_errors, failed_tasks)}
    requests_before = metric(api, "monday_snowflake_monday_requests_total") or 0.0

    acme.client.post(f"/integrations/{integration['id']}/runs")
    run = finished_run(acme.client, integration["id"])
    assert run["status"] == "FAILED"
    assert "revoked-token" not in str(run)
    stats = settled(acme.client, acme.account_id)
    assert stats["paused"] is True  # account-wide cause: its other tasks would fail the same way

    # one request refused, not retried: an authentication error is permanent
    assert (metric(api, "monday_snowflake_monday_requests_total") or 0.0) - requests_before >= 1
    assert metric(api, auth_errors[0], **auth_errors[1]) == before[auth_errors[0]] + 1
    # the worker counts the task once it has recorded it, a moment after the run
    wait_for(
        lambda: metric(api, failed_tasks[0], **failed_tasks[1]) != before[failed_tasks[0]], 10, "the count"
    )
    assert metric(api, failed_tasks[0], **failed_tasks[1]) == before[failed_tasks[0]] + 1


# -- 7. the scheduled trigger ------------------------------------------------------------------------


def test_the_scheduled_trigger_needs_the_scheduler_secret(api: Api) -> None:
    acme = api.tenant("acme")
    acme.client.post(f"/queues/{acme.account_id}/pause")  # queue only: running is tested above
    integration = api.create_integration(acme, name="crm")
    url = f"/triggers/scheduled/{integration['id']}"

    for headers in (
        {},
        {"Authorization": "Bearer wrong-secret"},
        {"Authorization": f"Bearer {acme.key}"},  # an account's API key is not the secret
        {"X-API-Key": acme.key},
        {"Authorization": SCHEDULER_SECRET},  # not as a bearer
    ):
        response = api.client(**headers).post(url)
        assert response.status_code == 401, (headers, response.text)
    assert api.service.queue.list_tasks(acme.account_id) == []

    scheduler = api.client(SCHEDULER_SECRET)
    accepted = scheduler.post(url)
    assert accepted.status_code == 202, accepted.text
    assert scheduler.post(url).status_code == 409  # already queued
    assert scheduler.post(f"/triggers/scheduled/{uuid.uuid4()}").status_code == 404
    [task] = api.service.queue.list_tasks(acme.account_id)
    assert task.payload["reason"] == "trigger"
    assert task.payload["run_id"] == accepted.json()["run_id"]
    assert task.payload["integration_id"] == integration["id"]


# -- 8. health, metrics, docs ---------------------------------------------------------------------


def test_health_readiness_metrics_and_docs_are_served(api: Api) -> None:
    acme = api.tenant("acme")
    public = api.client()
    assert public.get("/healthz").json() == {"status": "ok"}
    ready = public.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

    metrics = public.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    lines = metrics.text.splitlines()
    for name in ("monday_snowflake_queue_depth", "monday_snowflake_runs", "monday_snowflake_queue_running"):
        assert f"# TYPE {name} gauge" in lines
    for name in ("monday_errors", "snowflake_errors", "tasks"):
        assert f"# TYPE monday_snowflake_{name}_total counter" in lines
    assert f'monday_snowflake_queue_depth{{account="{acme.account_id}"}} 0.0' in lines

    docs = public.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    schema = public.get("/openapi.json")
    assert schema.status_code == 200
    documented = {(m.upper(), path) for path, ops in schema.json()["paths"].items() for m in ops}
    assert documented == served_routes(api.app.routes)
    assert ("POST", "/integrations/{integration_id}/runs") in documented


# -- 9. `monday-snowflake serve` ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_serve_command_runs_requested_syncs_and_finishes_the_one_in_hand_on_sigterm(
    board: Served, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONDAY_SNOWFLAKE_")}
    env |= {
        "MONDAY_SNOWFLAKE_SECRET_KEY": Fernet.generate_key().decode(),
        "MONDAY_SNOWFLAKE_MONDAY__API_URL": board.api_url,
        "MONDAY_SNOWFLAKE_QUEUE__POLL_INTERVAL_SECONDS": "0.1",
    }
    data_dir = ["--data-dir", str(tmp_path / "data")]
    created = subprocess.run(
        [COMMAND, "accounts", "create", "acme", *data_dir],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    key_match = re.search(r"API key \(shown once\): (msk_\S+)", created.stdout)
    account_match = re.search(r"account acme \(([0-9a-f-]{36})\)", created.stdout)
    assert key_match and account_match, created.stdout
    key, account_id = key_match.group(1), account_match.group(1)

    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [COMMAND, "serve", "--port", str(port), *data_dir], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert server.poll() is None, f"serve exited with {server.returncode}"
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, 60, "serve to answer /healthz")
        client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            event_hooks={"response": [no_credentials]},
        )
        with client:
            response = client.post(
                "/integrations", json={"board_id": str(board.board.id), "monday_token": MONDAY_TOKEN}
            )
            assert response.status_code == 201, response.text
            integration = response.json()
            assert integration["account_id"] == account_id
            run_id = client.post(f"/integrations/{integration['id']}/runs").json()["run_id"]
            run = finished_run(client, integration["id"])
            assert (run["id"], run["status"]) == (run_id, "COMPLETED")
            assert run["rows_processed"] >= len(board.sandbox.active_items(board.board))
            settled(client, account_id)
            # A second, slow run: SIGTERM while it runs lets it finish before the process ends.
            with slow_monday(board, latency_ms=500):
                second = client.post(f"/integrations/{integration['id']}/runs").json()["run_id"]
                wait_for(
                    lambda: client.get(f"/runs/{second}").json().get("status") == "RUNNING",
                    60,
                    "the second run to start",
                )
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        log.seek(0)
        output = log.read()
        log.close()
    # uvicorn shuts down gracefully, then re-raises SIGTERM with its default action.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output, output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)
    store = Store.from_url(
        f"sqlite:///{tmp_path / 'data' / 'state.db'}",
        SecretBox([env["MONDAY_SNOWFLAKE_SECRET_KEY"]]),
        migrate=False,
    )
    try:
        assert store.get_run(second).status == "COMPLETED"
    finally:
        store.close()
