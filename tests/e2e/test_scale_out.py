"""Scale-out as an operator runs it: `serve --no-worker` and two `worker` processes on one PostgreSQL.

Two accounts, three integrations: two runs asked for through the API, one due on its schedule. Each
worker runs one task at a time against a slowed-down monday, so both have to take part. Every run
completes exactly once, every table equals its board, the schedule is honoured once although both
workers run a scheduler, and each worker's own /metrics counts the tasks it ran.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import update
from tests.e2e.conftest import TOKEN, Served, serve_seeded
from tests.e2e.test_api import finished_run, free_port, no_credentials, settled, wait_for

from monday_snowflake.runtime import Runtime
from monday_snowflake.settings import MondaySettings, Settings, SnowflakeSettings
from monday_snowflake.store.tables import IntegrationRow
from monday_snowflake.sync.verify import compare_integration

COMMAND = str(Path(sys.executable).parent / "monday-snowflake")
HOURLY = {"schedule_type": "HOURLY", "minute": 0, "timezone": "Europe/Berlin"}


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_seeded(items=60, subitems=1, seed=41)


class Process:
    """A `monday-snowflake` command running in the background, its output kept in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log: IO[str] = log_path.open("w+")
        self.popen = subprocess.Popen([COMMAND, *args], stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def answers(self, url: str) -> bool:
        assert self.popen.poll() is None, f"exited with {self.popen.returncode}:\n{self.output()}"
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()


def counter(text: str, line_start: str) -> float:
    values = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line_start)]
    return sum(values)


POSTGRES_ONLY = [pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("database_url", POSTGRES_ONLY, indirect=True)
def test_an_api_process_and_two_worker_processes_share_one_postgresql(
    database_url: str, warehouse_data_dir: Path, tmp_path: Path, served: Served
) -> None:
    secret_key = Fernet.generate_key().decode()
    schema = f"SCALE_{os.getpid()}_{datetime.now(UTC):%H%M%S}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=warehouse_data_dir,
        database_url=database_url,
        secret_key=SecretStr(secret_key),
        monday=MondaySettings(api_url=served.api_url),
        snowflake=SnowflakeSettings(schema_name=schema),
    )
    runtime = Runtime(settings)  # creates the tables, as the first process of a deployment does
    runtime.open_warehouse().close()  # this test process serves the embedded warehouse; the workers join it
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONDAY_SNOWFLAKE_")}
    env |= {
        "MONDAY_SNOWFLAKE_SECRET_KEY": secret_key,
        "MONDAY_SNOWFLAKE_DATABASE_URL": database_url,
        "MONDAY_SNOWFLAKE_DATA_DIR": str(warehouse_data_dir),
        "MONDAY_SNOWFLAKE_MONDAY__API_URL": served.api_url,
        "MONDAY_SNOWFLAKE_SNOWFLAKE__SCHEMA_NAME": schema,
        "MONDAY_SNOWFLAKE_QUEUE__POLL_INTERVAL_SECONDS": "0.1",
        "MONDAY_SNOWFLAKE_QUEUE__WORKER_CONCURRENCY": "1",
    }
    accounts = {}
    for name in ("acme", "globex"):
        account = runtime.store.create_account(name)
        accounts[name] = (account.id, runtime.store.create_api_key(account.id, "tests")[0])

    processes: list[Process] = []
    clients: list[httpx.Client] = []
    try:
        api_port = free_port()
        api = Process(["serve", "--no-worker", "--port", str(api_port)], env, tmp_path / "api.log")
        processes.append(api)
        api_url = f"http://127.0.0.1:{api_port}"
        wait_for(lambda: api.answers(f"{api_url}/readyz"), 60, "the API to be ready")

        def client(account: str) -> httpx.Client:
            made = httpx.Client(
                base_url=api_url,
                headers={"Authorization": f"Bearer {accounts[account][1]}"},
                timeout=60,
                event_hooks={"response": [no_credentials]},
            )
            clients.append(made)
            return made

        acme, globex = client("acme"), client("globex")

        def create(tenant: httpx.Client, table: str, **extra: Any) -> dict[str, Any]:
            body = {"board_id": str(served.board.id), "monday_token": TOKEN, "table": table, **extra}
            response = tenant.post("/integrations", json={**body, "options": {"include_subitems": True}})
            assert response.status_code == 201, response.text
            created: dict[str, Any] = response.json()
            return created

        crm, ops = create(acme, "ACME_CRM"), create(acme, "ACME_OPS")
        nightly = create(globex, "GLOBEX_NIGHTLY", schedule=HOURLY)
        # The schedule was set two hours ago: one run is due now (the latest due time only).
        with runtime.store.engine.begin() as connection:
            connection.execute(
                update(IntegrationRow)
                .where(IntegrationRow.id == nightly["id"])
                .values(last_scheduled_for=datetime.now(UTC) - timedelta(hours=2))
            )
        asked = {
            integration["id"]: acme.post(f"/integrations/{integration['id']}/runs").json()["run_id"]
            for integration in (crm, ops)
        }
        assert acme.get(f"/queues/{accounts['acme'][0]}").json()["depth"] == 2  # no worker yet

        metrics_ports = [free_port(), free_port()]
        served.server.runtime.faults.configure(None, latency_ms=150)  # runs last long enough to share
        for number, port in enumerate(metrics_ports):
            worker = Process(["worker", "--metrics-port", str(port)], env, tmp_path / f"worker{number}.log")
            processes.append(worker)
        for worker, port in zip(processes[1:], metrics_ports, strict=True):
            wait_for(lambda w=worker, p=port: w.answers(f"http://127.0.0.1:{p}/metrics"), 60, "a worker")

        for integration_id, run_id in asked.items():
            run = finished_run(acme, integration_id, timeout=180)
            assert (run["id"], run["status"]) == (run_id, "COMPLETED"), run
        scheduled = finished_run(globex, nightly["id"], timeout=180)
        assert scheduled["status"] == "COMPLETED", scheduled
        for account, tenant in ((accounts["acme"][0], acme), (accounts["globex"][0], globex)):
            assert settled(tenant, account)["paused"] is False
        served.server.runtime.faults.configure(None, latency_ms=0)

        assert [len(acme.get(f"/integrations/{i}/runs").json()["runs"]) for i in asked] == [1, 1]
        assert len(globex.get(f"/integrations/{nightly['id']}/runs").json()["runs"]) == 1
        # globex's key does not see acme's runs, through any process
        assert globex.get(f"/integrations/{crm['id']}/runs").status_code == 404

        worker_metrics = [httpx.get(f"http://127.0.0.1:{p}/metrics").text for p in metrics_ports]
        done = 'monday_snowflake_tasks_total{kind="sync",outcome="completed"}'
        completed = [counter(text, done) for text in worker_metrics]
        assert sorted(completed)[0] >= 1, f"one worker did all the work: {completed}"
        assert sum(completed) == 3
        assert sum(counter(t, "monday_snowflake_monday_requests_total") for t in worker_metrics) > 0
        assert all(counter(t, "monday_snowflake_monday_errors_total") == 0 for t in worker_metrics)
    finally:
        served.server.runtime.faults.configure(None, latency_ms=0)
        for made in clients:
            made.close()
        codes = [process.stop() for process in processes]
        outputs = [process.output() for process in processes]
        for process in processes:
            process.log.close()
    for code, output in zip(codes, outputs, strict=True):
        assert code in (0, -signal.SIGTERM), output
        assert "Traceback" not in output, output

    async def compare() -> None:
        async with runtime.monday_client(TOKEN, served.api_url) as monday:
            for integration in (crm, ops, nightly):
                warehouse = runtime.open_warehouse()
                try:
                    found = runtime.store.get_integration(integration["id"])
                    comparisons = await compare_integration(runtime.store, found, monday, warehouse)
                finally:
                    warehouse.close()
                assert set(comparisons) == {"items", "subitems"}
                for role, comparison in comparisons.items():
                    assert comparison.ok, (integration["name"], role, comparison)
                    assert comparison.table_rows > 0

    try:
        asyncio.run(compare())
    finally:
        runtime.close()
