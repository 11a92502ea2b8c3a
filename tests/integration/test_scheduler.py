"""The scheduler on SQLite and on PostgreSQL: one queued run per due time, however many schedulers tick,
coalescing after downtime, schedule changes, and America/New_York's DST days.

Integrations are stored directly (no monday needed). Their `updated_at` comes from a manual clock, so
"when the schedule was set" is a known instant; the scheduler is ticked with explicit `now`s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from monday_snowflake.model import Integration
from monday_snowflake.queue.records import TaskRecord
from monday_snowflake.runtime import Runtime
from monday_snowflake.schedule import parse_schedule
from monday_snowflake.service import SYNC, QueuedRun, Service
from monday_snowflake.settings import Settings
from monday_snowflake.store import SecretBox, Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAILY_NOON_UTC = {"schedule_type": "DAILY", "hour": 12, "minute": 0, "timezone": "UTC"}


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Scheduling:
    """A runtime on the test database, a store writing through a manual clock, and the account."""

    settings: Settings
    runtime: Runtime
    service: Service
    store: Store
    clock: ManualClock
    account_id: str

    def add(self, name: str, schedule: dict[str, Any] | None) -> Integration:
        """An integration with `schedule` (normalised as the API stores it), set at `clock.now`."""
        monday = self.store.create_connection(self.account_id, "monday", f"m-{name}", {}, {"token": "m"})
        snow = self.store.create_connection(self.account_id, "snowflake", f"s-{name}", {}, {"token": "s"})
        return self.store.create_integration(
            account_id=self.account_id,
            name=name,
            board_id="1234567890",
            monday_connection_id=monday.id,
            snowflake_connection_id=snow.id,
            target_database="MONDAY",
            target_schema="PUBLIC",
            schedule=None if schedule is None else parse_schedule(schedule).model_dump(mode="json"),
        )

    def tick(self, now: datetime) -> list[QueuedRun]:
        return self.service.schedule_due_runs(now=now)

    def tasks(self) -> list[TaskRecord]:
        """The account's tasks, oldest first."""
        return list(reversed(self.service.queue.list_tasks(self.account_id, limit=1000)))

    def due_times(self, integration: Integration | None = None) -> list[datetime]:
        """The due instant of every scheduled task (from its de-duplication key), oldest first."""
        return sorted(
            due_of(task)
            for task in self.tasks()
            if integration is None or task.payload["integration_id"] == integration.id
        )


def due_of(task: TaskRecord) -> datetime:
    assert task.dedup_key is not None and task.dedup_key.startswith("scheduled:"), task.dedup_key
    return datetime.fromisoformat(task.dedup_key.split(":", 2)[2])


def make_settings(database_url: str, data_dir: Path, secret_key: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url,
        secret_key=SecretStr(secret_key),
    )


@pytest.fixture
def scheduling(database_url: str, tmp_path: Path) -> Iterator[Scheduling]:
    key = Fernet.generate_key().decode()
    settings = make_settings(database_url, tmp_path, key)
    runtime = Runtime(settings)
    clock = ManualClock()
    store = Store(runtime.store.engine, SecretBox([key]), clock=clock)
    account_id = store.create_account("acme").id
    try:
        yield Scheduling(settings, runtime, Service(runtime), store, clock, account_id)
    finally:
        runtime.close()


def at(day: int, hour: int, minute: int = 0, second: int = 0, *, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


# -- one run per due time ----------------------------------------------------------------------


def test_a_daily_schedule_queues_one_run_per_due_time_none_early_and_only_the_latest_after_a_gap(
    scheduling: Scheduling,
) -> None:
    integration = scheduling.add("daily", DAILY_NOON_UTC)  # set at 09:00 on 2 March

    assert scheduling.tick(at(2, 10)) == []
    assert scheduling.tick(at(2, 11, 59, 59)) == []
    assert scheduling.tasks() == []

    first = scheduling.tick(at(2, 12))
    assert [q.created for q in first] == [True]
    assert scheduling.due_times() == [at(2, 12)]
    for now in (at(2, 12), at(2, 12, 0, 1), at(2, 18), at(3, 11, 59, 59)):
        assert scheduling.tick(now) == [], now
    assert scheduling.due_times() == [at(2, 12)]

    assert len(scheduling.tick(at(3, 12, 0, 30))) == 1
    assert scheduling.due_times() == [at(2, 12), at(3, 12)]

    # Down for three days: the 4th, 5th and 6th came due; only the latest (the 6th) is queued.
    assert len(scheduling.tick(at(6, 13))) == 1
    assert scheduling.tick(at(6, 13)) == []
    assert scheduling.due_times() == [at(2, 12), at(3, 12), at(6, 12)]

    tasks = scheduling.tasks()
    assert {t.kind for t in tasks} == {SYNC}
    assert {t.status for t in tasks} == {"QUEUED"}
    assert {t.payload["integration_id"] for t in tasks} == {integration.id}
    assert {t.payload["reason"] for t in tasks} == {"schedule"}
    assert len({t.payload["run_id"] for t in tasks}) == 3


def test_an_integration_without_a_schedule_is_never_queued(scheduling: Scheduling) -> None:
    scheduling.add("manual-only", None)
    for day in range(2, 6):
        assert scheduling.tick(at(day, 12)) == []
    assert scheduling.tasks() == []


# -- several schedulers at once ----------------------------------------------------------------


def run_in_threads(count: int, target: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Start `count` threads together (behind a barrier); their results and what they raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results.append(target(i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_three_schedulers_ticking_at_once_in_threads_queue_each_due_run_once(
    scheduling: Scheduling, tmp_path: Path
) -> None:
    integrations = [scheduling.add(f"board-{i}", DAILY_NOON_UTC) for i in range(4)]
    # Each scheduler is its own runtime (its own connection pool), as in separate processes.
    key = scheduling.settings.secret_key
    assert key is not None
    runtimes = [
        Runtime(make_settings(scheduling.settings.resolved_database_url(), tmp_path, key.get_secret_value()))
        for _ in range(3)
    ]
    try:
        services = [Service(runtime) for runtime in runtimes]
        for day in (2, 3, 4):
            now = at(day, 12, 0, 5)

            def tick(i: int, now: datetime = now) -> list[QueuedRun]:
                return services[i].schedule_due_runs(now=now)

            results, errors = run_in_threads(3, tick)
            assert errors == []
            queued = [q for result in results for q in result]
            assert sum(q.created for q in queued) == len(integrations), day
            by_integration = {q.task.payload["integration_id"]: q.task.id for q in queued if q.created}
            assert all(by_integration[q.task.payload["integration_id"]] == q.task.id for q in queued)
    finally:
        for runtime in runtimes:
            runtime.close()

    for integration in integrations:
        assert scheduling.due_times(integration) == [at(2, 12), at(3, 12), at(4, 12)]
    assert len(scheduling.tasks()) == 3 * len(integrations)


_SCHEDULER_PROCESS = """
import json, sys
from datetime import datetime
from pathlib import Path
from monday_snowflake.runtime import Runtime
from monday_snowflake.service import Service
from monday_snowflake.settings import Settings

url, key, data_dir, now = sys.argv[1:5]
settings = Settings(_env_file=None, database_url=url, secret_key=key, data_dir=Path(data_dir))
runtime = Runtime(settings, migrate=False)
service = Service(runtime)
print("ready", flush=True)
sys.stdin.readline()
queued = service.schedule_due_runs(now=datetime.fromisoformat(now))
print("RESULT " + json.dumps([[q.task.id, q.created] for q in queued]), flush=True)
runtime.close()
"""


def test_three_scheduler_processes_ticking_at_once_queue_each_due_run_once(
    scheduling: Scheduling, tmp_path: Path
) -> None:
    # Enough integrations that the ticks overlap: each reads every schedule before writing any.
    integrations = [scheduling.add(f"board-{i}", DAILY_NOON_UTC) for i in range(12)]
    key = scheduling.settings.secret_key
    assert key is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONDAY_SNOWFLAKE_")}
    arguments = [
        scheduling.settings.resolved_database_url(),
        key.get_secret_value(),
        str(tmp_path),
        at(2, 12, 0, 5).isoformat(),
    ]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _SCHEDULER_PROCESS, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    try:
        for process in processes:  # every scheduler is up before any ticks
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", process.communicate(timeout=30)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert [p.returncode for p in processes] == [0, 0, 0], [err for _, err in outputs]
    queued = [
        entry
        for out, _ in outputs
        for line in out.splitlines()
        if line.startswith("RESULT ")
        for entry in json.loads(line.removeprefix("RESULT "))
    ]
    assert sum(created for _, created in queued) == len(integrations)
    tasks = scheduling.tasks()
    assert len(tasks) == len(integrations)
    assert {task_id for task_id, _ in queued} <= {t.id for t in tasks}
    for integration in integrations:
        assert scheduling.due_times(integration) == [at(2, 12)]


# -- schedule changes --------------------------------------------------------------------------


def test_changing_the_schedule_restarts_it_from_the_change_with_no_catch_up_run(
    scheduling: Scheduling,
) -> None:
    integration = scheduling.add("daily", DAILY_NOON_UTC)
    assert len(scheduling.tick(at(2, 12))) == 1

    # At 16:00 the schedule moves to 14:00: today's 14:00 was before the change, so it is not owed.
    scheduling.clock.now = at(2, 16)
    scheduling.store.update_integration(
        integration.id,
        schedule=parse_schedule({**DAILY_NOON_UTC, "hour": 14}).model_dump(mode="json"),
    )
    assert scheduling.tick(at(2, 16, 0, 1)) == []
    assert scheduling.tick(at(3, 12, 30)) == []  # the old time no longer counts
    assert scheduling.tick(at(3, 13, 59, 59)) == []
    assert len(scheduling.tick(at(3, 14))) == 1
    assert scheduling.due_times() == [at(2, 12), at(3, 14)]

    # Clearing the schedule stops scheduled runs; setting one again counts from then.
    scheduling.clock.now = at(3, 15)
    scheduling.store.update_integration(integration.id, schedule=None)
    assert scheduling.tick(at(5, 15)) == []
    scheduling.clock.now = at(5, 15)
    scheduling.store.update_integration(
        integration.id, schedule=parse_schedule(DAILY_NOON_UTC).model_dump(mode="json")
    )
    assert scheduling.tick(at(5, 16)) == []
    assert len(scheduling.tick(at(6, 12))) == 1
    assert scheduling.due_times() == [at(2, 12), at(3, 14), at(6, 12)]


def test_other_changes_do_not_push_back_a_due_run_that_was_not_queued_yet(scheduling: Scheduling) -> None:
    integration = scheduling.add("daily", DAILY_NOON_UTC)  # set at 09:00, first due at 12:00
    # The scheduler was down over noon; meanwhile a manual run finished and its state was saved.
    scheduling.clock.now = at(2, 12, 30)
    scheduling.store.set_sync_state(integration.id, {"cursor": "after a manual run"})
    scheduling.store.update_integration(integration.id, name="daily-renamed")
    # Back up: the noon run came due and was never queued, so it is queued now (the latest due time).
    assert len(scheduling.tick(at(2, 13))) == 1
    assert scheduling.due_times() == [at(2, 12)]


# -- DST ---------------------------------------------------------------------------------------


def ticks_between(start: datetime, end: datetime, expected: list[datetime]) -> list[datetime]:
    """Every half hour from `start` to `end`, plus a second before and at each expected due time."""
    grid = {start + timedelta(minutes=30 * i) for i in range(int((end - start) / timedelta(minutes=30)) + 1)}
    exact = {moment for due in expected for moment in (due - timedelta(seconds=1), due)}
    return sorted(grid | exact)


@pytest.mark.parametrize(
    ("hour", "minute", "created", "expected_local"),
    [
        pytest.param(
            2,
            30,
            datetime(2026, 3, 6, 12, tzinfo=UTC),
            # 8 March: 02:30 does not exist (02:00 EST -> 03:00 EDT); the run moves to 03:30 EDT.
            ["2026-03-07T02:30-05:00", "2026-03-08T03:30-04:00", "2026-03-09T02:30-04:00"],
            id="spring-forward-02:30",
        ),
        pytest.param(
            2,
            30,
            datetime(2026, 10, 30, 12, tzinfo=UTC),
            # 1 November: 02:30 happens once, at 02:30 EST (25 real hours after the day before's run).
            ["2026-10-31T02:30-04:00", "2026-11-01T02:30-05:00", "2026-11-02T02:30-05:00"],
            id="fall-back-02:30",
        ),
        pytest.param(
            1,
            30,
            datetime(2026, 10, 30, 12, tzinfo=UTC),
            # 1 November: 01:30 happens twice; the run is at the first, 01:30 EDT, and only then.
            ["2026-10-31T01:30-04:00", "2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00"],
            id="fall-back-01:30",
        ),
    ],
)
def test_a_new_york_daily_run_happens_once_a_day_across_dst_at_the_documented_instant(
    scheduling: Scheduling, hour: int, minute: int, created: datetime, expected_local: list[str]
) -> None:
    scheduling.clock.now = created
    schedule = {"schedule_type": "DAILY", "hour": hour, "minute": minute, "timezone": "America/New_York"}
    scheduling.add("new-york", schedule)
    expected = [datetime.fromisoformat(text).astimezone(UTC) for text in expected_local]

    queued_at: dict[datetime, datetime] = {}
    for now in ticks_between(created, created + timedelta(days=3, hours=12), expected):
        for queued in scheduling.tick(now):
            assert queued.created
            queued_at[due_of(queued.task)] = now

    assert scheduling.due_times() == expected
    # Each was queued by the tick at its due instant: not a second early, not a tick late.
    assert queued_at == {due: due for due in expected}
