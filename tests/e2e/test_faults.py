"""Recovery guarantees, proven: one test per fault of issue 8's table (the PostgreSQL restart is in
test_faults_postgres.py). Every fault is real: the sandbox answers 5xx/429, drops connections, expires
cursors and runs out of complexity budget over real HTTP; a TCP proxy resets the warehouse's
connections at a chosen statement; processes are killed with SIGKILL; the disk fills up. After each,
the run recovers and the warehouse equals the board, item by item, with no item twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import TOKEN, Served, make_settings, serve_seeded
from tests.e2e.faultkit import (
    Process,
    TcpProxy,
    assert_warehouse_equals_board,
    direct_warehouse,
    fill,
    product_env,
    small_disk,
    snapshot,
    tables_of,
)
from tests.e2e.test_api import free_port, wait_for
from tests.e2e.test_scale_out import COMMAND

from monday_snowflake.integrations import create_integration
from monday_snowflake.model import Integration, IntegrationOptions
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.runtime import Runtime
from monday_snowflake.service import Service
from monday_snowflake.snowflake import connection as warehouse_connection
from monday_snowflake.snowflake.embedded import EmbeddedWarehouse
from monday_snowflake.sync.replicate import BoardReplicator, ReplicationResult

PAGE_SIZE = 8


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_seeded(items=40, subitems=1, seed=23)


@pytest.fixture
def runtime(warehouse_data_dir: Path, tmp_path: Path, served: Served) -> Iterator[Runtime]:
    """The product on the sandbox, in a schema of its own; small pages so a board takes several."""
    settings = make_settings(warehouse_data_dir, tmp_path, served.api_url)
    settings.monday.page_size = PAGE_SIZE
    settings.snowflake.backoff_base_seconds = 0.2
    rt = Runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


def add(runtime: Runtime, served: Served) -> Integration:
    return create_integration(
        runtime,
        board_id=str(served.board.id),
        monday_token=TOKEN,
        monday_url=served.api_url,
        options=IntegrationOptions(include_subitems=True, reconcile_every_hours=0),
    )


def replicate(runtime: Runtime, integration: Integration, *, full: bool = False) -> ReplicationResult:
    return asyncio.run(runtime.replicator().replicate(integration.id, full=full))


def change_the_board(served: Served) -> None:
    """Edit, archive and add items, so a second run has updates, a deletion and an insert to apply."""
    sandbox, board = served.sandbox, served.board
    items = sandbox.active_items(board)
    for item in items[:10]:
        sandbox.change_column_values(board.id, item.id, {"text": f"changed {item.id}"})
    sandbox.archive_item(items[-1].id)
    sandbox.create_item(board.id, "a new item", column_values={"text": "new"})


def completed_runs(runtime: Runtime, integration: Integration) -> list[str]:
    return [run.status for run in runtime.store.list_runs(integration.id)]


# -- monday ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "429"])
def test_monday_500_502_and_429_bursts_mid_board_are_retried(
    runtime: Runtime, served: Served, kind: str
) -> None:
    integration = add(runtime, served)
    faults = served.server.runtime.faults
    # a burst of two failures strikes at the 4th request: the board is being paged by then
    faults.after_requests(4, lambda: faults.configure(fail_next=2, fail_with=kind))
    result = replicate(runtime, integration)

    assert faults.rules[None].fail_next == 0, "the burst was not spent"
    assert result.items == len(served.sandbox.active_items(served.board))
    assert completed_runs(runtime, integration) == ["COMPLETED"]
    assert_warehouse_equals_board(runtime, integration, served)


def test_a_connection_dropped_mid_page_is_retried(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served)
    faults = served.server.runtime.faults
    # the answer stops half-way through its body, then the connection closes: twice, mid-board
    faults.after_requests(4, lambda: faults.configure(fail_next=2, fail_with="drop"))
    replicate(runtime, integration)

    assert faults.rules[None].fail_next == 0, "the drops were not spent"
    assert completed_runs(runtime, integration) == ["COMPLETED"]
    assert_warehouse_equals_board(runtime, integration, served)


def test_a_cursor_expiring_mid_board_is_recovered(
    runtime: Runtime, served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    integration = add(runtime, served)
    faults = served.server.runtime.faults
    # an hour passes between two pages: every cursor issued so far has expired
    faults.after_requests(4, lambda: served.sandbox.clock.advance(61 * 60))
    with caplog.at_level(logging.WARNING):
        result = replicate(runtime, integration)

    assert any("cursor expired" in r.getMessage() for r in caplog.records), "no cursor expired"
    # the pages read again after the restart are de-duplicated in the warehouse, not in memory
    assert result.items >= len(served.sandbox.active_items(served.board))
    assert completed_runs(runtime, integration) == ["COMPLETED"]
    assert_warehouse_equals_board(runtime, integration, served)


def test_an_exhausted_complexity_budget_is_waited_out(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served)
    waits: list[float] = []

    async def on_the_sandbox_clock(seconds: float) -> None:
        waits.append(seconds)
        served.sandbox.clock.advance(seconds)

    def client(token: str, api_url: str | None = None, renew_token: Any = None) -> MondayClient:
        settings = runtime.settings.monday.model_copy(update={"api_url": api_url})
        return MondayClient(settings, token, sleep=on_the_sandbox_clock, renew_token=renew_token)

    served.sandbox.clock.advance(61)  # a fresh budget window
    served.sandbox.settings.complexity_budget = 8_000  # two pages of this board a minute (~3,500 each)
    replicator = BoardReplicator(runtime.settings, runtime.store, client, runtime.open_warehouse)
    try:
        asyncio.run(replicator.replicate(integration.id))
    finally:
        served.sandbox.settings.complexity_budget = 10_000_000

    assert waits, "the run should have waited for the budget to reset"
    assert completed_runs(runtime, integration) == ["COMPLETED"]
    assert_warehouse_equals_board(runtime, integration, served)


# -- the warehouse --------------------------------------------------------------------------------------


@pytest.fixture
def proxy(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    """Every warehouse session the product opens goes through a proxy the test can cut. The connector
    gives up on an unreachable warehouse after its network timeout, shortened here to keep tests quick."""
    host, port = EmbeddedWarehouse(runtime.settings.data_dir).ensure_running()
    proxy = TcpProxy(port)
    monkeypatch.setattr(EmbeddedWarehouse, "ensure_running", lambda self: (host, proxy.port))
    monkeypatch.setattr(warehouse_connection, "EMBEDDED_NETWORK_TIMEOUT_SECONDS", 2)
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_warehouse_unreachable_at_copy_time_is_retried(
    runtime: Runtime, served: Served, proxy: TcpProxy
) -> None:
    integration = add(runtime, served)
    proxy.cut_at("COPY INTO", down_seconds=3)
    replicate(runtime, integration)

    assert len(proxy.cuts) == 1 and proxy.cuts[0].startswith("COPY INTO"), proxy.cuts
    assert proxy.refused > 0, "the warehouse was never found down"
    after_the_cut = proxy.statements[proxy.statements.index(proxy.cuts[0]) + 1 :]
    assert any(s.startswith("COPY INTO") for s in after_the_cut), "the load was not retried"
    assert completed_runs(runtime, integration) == ["COMPLETED"]
    assert_warehouse_equals_board(runtime, integration, served)


def test_a_warehouse_failing_mid_merge_leaves_the_table_as_before_and_the_retry_completes_it(
    runtime: Runtime, served: Served, proxy: TcpProxy
) -> None:
    integration = add(runtime, served)
    replicate(runtime, integration)
    table = tables_of(runtime, integration)[0]
    before = snapshot(runtime, table)
    change_the_board(served)

    # On the embedded warehouse the upsert is UPDATE then INSERT (then DELETE) in one transaction. The
    # connection is cut after the UPDATE changed rows inside it, and again when the product tries to
    # ROLLBACK; both outages outlast the connector's own retries. The transaction is left open on the
    # warehouse, holding its changes and row locks. When the retry is about to begin its transaction,
    # the table is read straight from the warehouse.
    during: list[list[tuple[Any, ...]]] = []

    def look_before_the_retry() -> None:
        with direct_warehouse(runtime, proxy.target_port) as warehouse:
            during.append(snapshot(warehouse, table))

    proxy.before("BEGIN", look_before_the_retry, after_cut=True)
    proxy.cut_at("INSERT INTO", down_seconds=5)
    proxy.cut_at("ROLLBACK", down_seconds=5)
    replicate(runtime, integration, full=True)

    # The ROLLBACK cannot get through: cut on its way, or refused at the door while the warehouse is
    # still "down" (which of the two depends on how long the connector retries it).
    assert [c.split()[0] for c in proxy.cuts] in (["INSERT", "ROLLBACK"], ["INSERT"]), proxy.cuts
    assert len(proxy.cuts) == 2 or proxy.refused > 0, "the ROLLBACK reached the warehouse"
    cut_at = proxy.statements.index(proxy.cuts[0])
    assert proxy.statements[cut_at - 1].startswith("UPDATE"), "the cut did not fall mid-transaction"
    assert during == [before], "the table changed although its MERGE failed"
    assert completed_runs(runtime, integration) == ["COMPLETED", "COMPLETED"]
    assert snapshot(runtime, table) != before
    assert_warehouse_equals_board(runtime, integration, served)


# -- the disk -------------------------------------------------------------------------------------------


def test_a_full_disk_while_writing_csv_fails_the_run_clearly_and_loads_nothing(
    runtime: Runtime, served: Served, tmp_path: Path
) -> None:
    integration = add(runtime, served)
    replicate(runtime, integration)
    tables = tables_of(runtime, integration)
    before = {table: snapshot(runtime, table) for table in tables}
    change_the_board(served)

    # `sync run` in a process of its own, whose data directory shares the warehouse but writes its CSV
    # files to a 256 KB file system, nearly full.
    data_dir = tmp_path / "cli-data"
    data_dir.mkdir()
    (data_dir / "warehouse").symlink_to(runtime.settings.data_dir / "warehouse")
    env = product_env(runtime, data_dir=str(data_dir))
    command = [COMMAND, "sync", "run", integration.name]
    with small_disk(data_dir / "files", "256k") as cannot:
        if cannot:
            pytest.skip(cannot)
        filler = fill(data_dir / "files", leave_bytes=8 * 1024)
        failed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

        assert failed.returncode != 0, failed.stdout
        output = failed.stdout + failed.stderr
        assert "Traceback" not in output, output
        assert "No space left on device" in failed.stderr, output
        runs = runtime.store.list_runs(integration.id)
        assert [run.status for run in runs] == ["FAILED", "COMPLETED"]
        assert "No space left on device" in (runs[0].error or "")
        assert {table: snapshot(runtime, table) for table in tables} == before, "a partial load happened"

        filler.unlink()  # space is freed: the next run completes
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert again.returncode == 0, again.stdout + again.stderr
    assert next(run.status for run in runtime.store.list_runs(integration.id)) == "COMPLETED"
    assert_warehouse_equals_board(runtime, integration, served)


# -- processes ------------------------------------------------------------------------------------------


def test_a_worker_killed_during_a_load_has_its_task_rerun_after_its_lease(
    runtime: Runtime, served: Served, tmp_path: Path
) -> None:
    integration = add(runtime, served)
    # The workers reach the warehouse through a proxy (their data directory's server.json names it),
    # which kills the first worker with SIGKILL as it asks for the COPY of its load.
    warehouse = EmbeddedWarehouse(runtime.settings.data_dir)
    _, port = warehouse.ensure_running()
    info = warehouse.read_info()
    assert info is not None
    proxy = TcpProxy(port)
    worker_dir = tmp_path / "worker-data"
    (worker_dir / "warehouse").mkdir(parents=True)
    server = {"pid": os.getpid(), "port": proxy.port, "stage_root": info.stage_root}
    (worker_dir / "warehouse" / "server.json").write_text(json.dumps(server))
    env = product_env(
        runtime, data_dir=str(worker_dir), lock_ttl_seconds="6", queue__lease_seconds="4",
        queue__poll_interval_seconds="0.1", queue__backoff_base_seconds="0.2", queue__backoff_max_seconds="1",
    )  # fmt: skip
    # Until the dead run's lock expires (after the task's lease), each attempt of the re-run finds the
    # integration "already running" and is retried with backoff: enough attempts to outlast the lock.
    runtime.settings.queue.max_attempts = 30
    service = Service(runtime)
    queued = service.enqueue_run(integration, full=True)
    processes: list[Process] = []
    killed = threading.Event()

    def kill_the_worker() -> None:
        processes[0].kill()
        killed.set()

    proxy.before("COPY INTO", kill_the_worker)
    try:
        processes.append(Process(["worker"], env, tmp_path / "worker1.log"))
        if not killed.wait(90):
            pytest.fail(f"the first worker never reached its load:\n{processes[0].output()}")
        assert processes[0].popen.returncode == -signal.SIGKILL
        task = service.queue.get(queued.task.id)
        assert (task.status, task.attempts) == ("RUNNING", 1), task  # under the dead worker's lease
        processes.append(Process(["worker"], env, tmp_path / "worker2.log"))
        wait_for(lambda: service.queue.get(queued.task.id).is_finished, 90, "the task to be re-run")
    finally:
        outputs = [process.output() for process in processes]
        for process in processes:
            process.close()
        proxy.close()
    task = service.queue.get(queued.task.id)
    assert task.status == "SUCCEEDED" and task.attempts >= 2, (task.status, task.last_error, outputs)
    assert "Traceback" not in outputs[-1], outputs[-1]
    runs = runtime.store.list_runs(integration.id)
    # the killed run is recorded as interrupted, not left "running" for ever
    assert [run.status for run in runs] == ["COMPLETED", "FAILED"], [(r.status, r.error) for r in runs]
    assert "interrupted" in (runs[1].error or "")
    assert_warehouse_equals_board(runtime, integration, served)


def test_the_api_killed_during_a_webhook_burst_loses_no_event_and_applies_none_twice(
    runtime: Runtime, served: Served, tmp_path: Path
) -> None:
    sandbox, board, webhooks = served.sandbox, served.board, served.server.runtime.webhooks
    account = runtime.store.create_account("acme")
    key, _ = runtime.store.create_api_key(account.id, "tests")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = product_env(
        runtime, public_url=url, monday__signing_secret=sandbox.settings.signing_secret,
        realtime__flush_seconds="0.3", realtime__poll_seconds="0.05", lock_ttl_seconds="6",
        queue__lease_seconds="4", queue__poll_interval_seconds="0.1", queue__backoff_base_seconds="0.2",
        queue__backoff_max_seconds="1",
    )  # fmt: skip
    processes: list[Process] = []

    def serve() -> httpx.Client:
        processes.append(
            Process(["serve", "--port", str(port)], env, tmp_path / f"serve{len(processes)}.log")
        )
        wait_for(lambda: processes[-1].answers(f"{url}/readyz"), 60, "the API to be ready")
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    items = sandbox.active_items(board)
    try:
        client = serve()
        body = {"board_id": str(board.id), "monday_token": TOKEN, "options": {"include_subitems": True}}
        created = client.post("/integrations", json=body)
        assert created.status_code == 201, created.text
        integration_id = created.json()["id"]
        assert (
            client.put(f"/integrations/{integration_id}/realtime", json={"enabled": True}).status_code == 200
        )
        wait_for(lambda: _latest_run(client, integration_id) == "COMPLETED", 90, "the first load")

        for item in items:  # the burst: one edit per item, delivered as they happen
            sandbox.change_column_values(board.id, item.id, {"text": f"burst {item.id}"})
            if item is items[len(items) // 3]:
                wait_for(
                    lambda: any(d["status"] == "delivered" for d in webhooks.listing()), 30, "a delivery"
                )
                processes[-1].kill()  # mid-burst: stored but unapplied events, deliveries in flight
        acknowledged = [d for d in webhooks.listing() if d["status"] == "delivered"]
        refused = [d for d in webhooks.listing() if d["status"] == "pending"]
        assert acknowledged and refused, "the kill did not fall mid-burst"

        client.close()
        client = serve()
        sandbox.clock.advance(61)  # monday retries what was not acknowledged, a minute later
        webhooks.deliver_due()

        def settled() -> bool:
            pending = [d for d in webhooks.listing() if d["status"] == "pending"]
            state = client.get(f"/integrations/{integration_id}/realtime").json()
            return not pending and state["pending_events"] == 0

        wait_for(settled, 90, "every delivery to be acknowledged and applied")
        client.close()
    finally:
        outputs = [process.output() for process in processes]
        for process in processes:
            process.close()
    assert all(d["status"] == "delivered" for d in webhooks.listing())
    assert "Traceback" not in outputs[-1], outputs[-1]
    integration = runtime.store.get_integration(integration_id)
    assert_warehouse_equals_board(runtime, integration, served)
    table = tables_of(runtime, integration)[0]
    texts = {row[0]: row for row in snapshot(runtime, table)}
    assert all(any(f"burst {item.id}" == v for v in texts[item.id]) for item in items)


def _latest_run(client: httpx.Client, integration_id: str) -> str | None:
    runs = client.get(f"/integrations/{integration_id}/runs").json()["runs"]
    return str(runs[0]["status"]) if runs else None
