"""Recovery guarantees on PostgreSQL: the state database restarts under load and the workers reconnect.

The test starts a PostgreSQL server of its own (initdb + pg_ctl in a temporary directory, on a free
port; as root, run as the `postgres` OS user) so that stopping it touches no other test. Two `worker`
processes run three syncs against a slowed-down monday; the server is stopped mid-run (every connection
cut) and started again. Every sync then completes exactly once and every table equals its board.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from tests.e2e.conftest import TOKEN, Served, serve_seeded
from tests.e2e.faultkit import (
    PrivatePostgres,
    Process,
    assert_warehouse_equals_board,
    postgres_bin,
    product_env,
)
from tests.e2e.test_api import wait_for

from monday_snowflake.integrations import create_integration
from monday_snowflake.model import IntegrationOptions
from monday_snowflake.runtime import Runtime
from monday_snowflake.service import Service
from monday_snowflake.settings import MondaySettings, Settings, SnowflakeSettings

pytestmark = pytest.mark.postgres


@pytest.fixture
def served() -> Iterator[Served]:
    yield from serve_seeded(items=40, subitems=1, seed=31)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        reason = "PostgreSQL's initdb and pg_ctl are not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true, so the PostgreSQL tests must run)", pytrace=False)
        pytest.skip(reason)
    # not under pytest's tmp_path: its directories are private to this user, and the server may run as
    # the `postgres` user
    directory = Path(tempfile.mkdtemp(prefix="faults-pg-"))
    server = PrivatePostgres(bin_dir, directory)
    server.start()
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_workers_reconnect_after_postgresql_restarts_under_load(
    postgres: PrivatePostgres, warehouse_data_dir: Path, tmp_path: Path, served: Served
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=warehouse_data_dir,
        database_url=postgres.url,
        secret_key=SecretStr(Fernet.generate_key().decode()),
        monday=MondaySettings(api_url=served.api_url, page_size=8),
        snowflake=SnowflakeSettings(schema_name=f"PGFAULT_{os.getpid()}_{int(time.time())}"),
    )
    # a sync cut off by the restart leaves its lock until its TTL: its re-run is retried until then
    settings.queue.max_attempts = 30
    runtime = Runtime(settings)
    runtime.open_warehouse().close()  # this test process serves the embedded warehouse; workers join it
    service = Service(runtime)
    integrations = [
        create_integration(
            runtime, board_id=str(served.board.id), name=f"board-{n}", monday_token=TOKEN,
            monday_url=served.api_url, table=f"BOARD_{n}", options=IntegrationOptions(include_subitems=True),
        )
        for n in range(3)
    ]  # fmt: skip
    tasks = [service.enqueue_run(integration).task.id for integration in integrations]
    env = product_env(
        runtime, lock_ttl_seconds="6", queue__lease_seconds="4", queue__poll_interval_seconds="0.1",
        queue__backoff_base_seconds="0.2", queue__backoff_max_seconds="1", queue__worker_concurrency="1",
        monday__page_size="8",
    )  # fmt: skip
    served.server.runtime.faults.configure(None, latency_ms=300)  # each sync takes a few seconds
    workers = [Process(["worker"], env, tmp_path / f"worker{n}.log") for n in range(2)]
    try:
        wait_for(
            lambda: any(service.queue.get(t).status == "RUNNING" for t in tasks), 60, "a sync to be running"
        )
        time.sleep(0.5)
        postgres.stop("fast")  # every connection of every process is cut
        time.sleep(2)
        postgres.start()
        wait_for(lambda: all(service.queue.get(t).is_finished for t in tasks), 180, "every sync to finish")
        for worker in workers:
            assert worker.popen.poll() is None, f"a worker died:\n{worker.output()}"
    finally:
        served.server.runtime.faults.configure(None, latency_ms=0)
        outputs = [worker.output() for worker in workers]
        for worker in workers:
            worker.close()
    try:
        assert "OperationalError" in "".join(outputs), "no worker noticed the restart"
        records = [service.queue.get(t) for t in tasks]
        assert [r.status for r in records] == ["SUCCEEDED"] * 3, (records, outputs)
        for integration in integrations:
            statuses = [run.status for run in runtime.store.list_runs(integration.id)]
            assert statuses.count("COMPLETED") == 1, statuses
            assert "RUNNING" not in statuses, statuses
            assert_warehouse_equals_board(runtime, integration, served)
    finally:
        runtime.close()
