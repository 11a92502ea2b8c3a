"""The task queue contract, run on SQLite and on PostgreSQL: enqueue, claim, limits, leases, retries,
pause, de-duplication and tenant isolation; worker processes; and the management API keys."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from monday_snowflake.errors import (
    AlreadyRunningError,
    AuthenticationError,
    ConfigurationError,
    InvalidDataError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from monday_snowflake.queue import (
    MAX_PAYLOAD_BYTES,
    LeaseLostError,
    TaskContext,
    TaskQueue,
    Worker,
    classify,
)
from monday_snowflake.settings import QueueSettings
from monday_snowflake.store import Store

HELPER = Path(__file__).with_name("queue_worker.py")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def queue(store: Store) -> TaskQueue:
    """A queue on the store's database, on the real clock, with quick retries."""
    return TaskQueue(store.engine, QueueSettings(backoff_base_seconds=0.01, backoff_max_seconds=0.05))


@pytest.fixture
def timed_queue(store: Store, clock: ManualClock) -> TaskQueue:
    """A queue on the store's database seen through a manual clock; jitter always at its ceiling."""
    settings = QueueSettings(backoff_base_seconds=5, backoff_max_seconds=600, max_attempts=3)
    return TaskQueue(store.engine, settings, clock=clock, random=lambda: 1.0)


@pytest.fixture
def account(store: Store) -> str:
    return store.create_account("acme").id


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


async def run_worker_until(worker: Worker, done: Callable[[], bool], timeout: float = 15) -> None:
    """Run `worker` until `done()` holds (checked in a thread), then stop it and let it finish."""
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    deadline = time.monotonic() + timeout
    try:
        while not await asyncio.to_thread(done):
            if time.monotonic() > deadline:
                raise AssertionError(f"worker did not get there in {timeout}s")
            if running.done():
                running.result()
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)


def run_in_threads(count: int, target: Callable[[int], Any]) -> list[BaseException]:
    """Start `count` threads together (behind a barrier) and collect what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def when(value: datetime | None) -> datetime:
    assert value is not None
    return value


def count_rows(store: Store, where: str = "1=1", **params: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM tasks WHERE {where}"), params).scalar_one())


@pytest.fixture
def worker_processes(database_url: str) -> Iterator[Callable[..., list[subprocess.Popen[str]]]]:
    """Starts `queue_worker.py` processes on the test database; stops whatever is left at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(worker_id: str, *, lease: float = 30) -> subprocess.Popen[str]:
        options = {"--url": database_url, "--worker-id": worker_id, "--lease": lease}
        arguments = [str(part) for option in options.items() for part in option]
        process = subprocess.Popen(
            [sys.executable, str(HELPER), *arguments], stdout=subprocess.PIPE, text=True
        )
        started.append(process)
        return process

    def start_all(worker_ids: list[str], *, lease: float = 30) -> list[subprocess.Popen[str]]:
        """Start the workers and return once every one of them is about to claim."""
        processes = [start(worker_id, lease=lease) for worker_id in worker_ids]
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        return processes

    yield start_all
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


# -- enqueue and claim -------------------------------------------------------------------------


def test_an_enqueued_task_is_claimed_once_and_completed_with_its_result(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    queue = timed_queue
    task = queue.enqueue(account, "sync", {"integration_id": "i-1"})
    assert (task.status, task.attempts, task.run_after, task.max_attempts) == ("QUEUED", 0, T0, 3)
    assert queue.get(task.id, account) == task
    assert queue.stats(account).depth == 1

    [claimed] = queue.claim("w1", lease_seconds=60)
    assert (claimed.id, claimed.payload, claimed.attempt, claimed.lease_token) == (
        task.id,
        {"integration_id": "i-1"},
        1,
        1,
    )
    assert claimed.lease_expires_at == T0 + timedelta(seconds=60)
    assert queue.claim("w2") == []  # held
    stats = queue.stats(account)
    assert (stats.depth, stats.running, stats.paused, stats.max_running) == (0, 1, False, 50)

    clock.advance(3)
    queue.complete(task.id, claimed.lease_token, {"rows": 42})
    done = queue.get(task.id)
    assert (done.status, done.result, done.attempts, done.lease_owner) == ("SUCCEEDED", {"rows": 42}, 1, "w1")
    assert (done.started_at, done.finished_at) == (T0, T0 + timedelta(seconds=3))
    assert queue.claim("w2") == []
    assert queue.stats(account).running == 0


def test_claims_take_higher_priority_first_then_the_oldest_and_wait_for_run_after(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    queue = timed_queue
    old_low = queue.enqueue(account, "k", {"n": 1})
    clock.advance(1)
    later = queue.enqueue(account, "k", {"n": 2}, priority=9, run_after=T0 + timedelta(minutes=5))
    new_low = queue.enqueue(account, "k", {"n": 3})
    high = queue.enqueue(account, "k", {"n": 4}, priority=5)

    assert [t.id for t in queue.claim("w", limit=10)] == [high.id, old_low.id, new_low.id]
    assert queue.claim("w") == []
    clock.advance(4 * 60)
    assert queue.claim("w") == []  # still a minute early
    clock.advance(60)
    assert [t.id for t in queue.claim("w")] == [later.id]


def test_claims_can_be_limited_to_the_kinds_a_worker_handles(queue: TaskQueue, account: str) -> None:
    sync = queue.enqueue(account, "sync", {})
    email = queue.enqueue(account, "email", {})
    assert [t.id for t in queue.claim("w", limit=5, kinds=["email"])] == [email.id]
    assert queue.claim("w", kinds=[]) == []
    assert [t.id for t in queue.claim("w", limit=5)] == [sync.id]


def test_a_payload_over_1_mb_is_rejected_and_nothing_is_written(
    queue: TaskQueue, store: Store, account: str
) -> None:
    overhead = len('{"data":""}')
    fits = queue.enqueue(account, "k", {"data": "x" * (MAX_PAYLOAD_BYTES - overhead)})
    assert len(fits.payload["data"]) == MAX_PAYLOAD_BYTES - overhead
    with pytest.raises(ConfigurationError, match=r"task payload is 1,048,577 bytes; at most 1 MB"):
        queue.enqueue(account, "k", {"data": "x" * (MAX_PAYLOAD_BYTES - overhead + 1)})
    with pytest.raises(ConfigurationError, match="JSON object"):
        queue.enqueue(account, "k", ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not JSON-serialisable"):
        queue.enqueue(account, "k", {"when": datetime.now(UTC)})
    with pytest.raises(NotFoundError, match="account"):
        queue.enqueue("no-such-account", "k", {})
    assert count_rows(store) == 1


# -- de-duplication ----------------------------------------------------------------------------


def test_a_dedup_key_enqueues_one_task_even_when_many_enqueue_it_at_once(
    queue: TaskQueue, store: Store, account: str
) -> None:
    key = "scheduled:integration-1:2026-03-01T12:00:00+00:00"
    ids: list[str] = []
    assert (
        run_in_threads(8, lambda i: ids.append(queue.enqueue(account, "sync", {"i": i}, dedup_key=key).id))
        == []
    )
    assert len(set(ids)) == 1
    assert count_rows(store) == 1

    [claimed] = queue.claim("w")
    queue.complete(claimed.id, claimed.lease_token)
    again = queue.enqueue(account, "sync", {"i": 99}, dedup_key=key)  # another scheduler, later
    assert (again.id, again.status) == (ids[0], "SUCCEEDED")
    assert count_rows(store) == 1

    other = store.create_account("other").id  # keys are per account
    assert queue.enqueue(other, "sync", {}, dedup_key=key).id != ids[0]
    assert queue.enqueue(account, "sync", {}).id != queue.enqueue(account, "sync", {}).id  # no key, no dedup
    assert count_rows(store) == 4


# -- pause, resume and the running limit -------------------------------------------------------


def test_a_paused_queue_keeps_its_tasks_and_runs_none_until_resumed(
    queue: TaskQueue, store: Store, account: str
) -> None:
    tasks = [queue.enqueue(account, "k", {"n": n}) for n in range(3)]
    other = store.create_account("other").id
    theirs = queue.enqueue(other, "k", {})
    assert queue.pause(account).paused

    assert [t.id for t in queue.claim("w", limit=10)] == [theirs.id]  # other queues carry on
    ran: list[int] = []

    async def handler(context: TaskContext) -> None:
        ran.append(context.payload["n"])

    worker = Worker(queue, {"k": handler}, worker_id="w", poll_interval=0.05)
    assert asyncio.run(worker.run_once()) == 0
    assert ran == []
    assert queue.stats(account).depth == 3
    assert {queue.get(t.id).status for t in tasks} == {"QUEUED"}

    assert not queue.resume(account).paused
    assert asyncio.run(worker.run_once()) == 3
    assert sorted(ran) == [0, 1, 2]
    assert {queue.get(t.id).status for t in tasks} == {"SUCCEEDED"}


def test_the_running_limit_holds_when_many_claim_at_once(
    queue: TaskQueue, store: Store, account: str
) -> None:
    queue.set_max_running(account, 3)
    other = store.create_account("other").id
    for n in range(20):
        queue.enqueue(account, "k", {"n": n})
    for n in range(4):
        queue.enqueue(other, "k", {"n": n})
    claimed: list[str] = []

    def claim_two(i: int) -> None:
        claimed.extend(t.account_id for t in queue.claim(f"w{i}", limit=2))

    assert run_in_threads(8, claim_two) == []
    assert claimed.count(account) == 3
    assert queue.stats(account).running == 3
    # The full account's backlog does not hold the other account back.
    assert [t.account_id for t in queue.claim("late", limit=10)] == [other] * (4 - claimed.count(other))
    assert queue.claim("late", limit=5) == []
    assert queue.set_max_running(account, None).max_running == 50
    assert len(queue.claim("late", limit=5)) == 5


def test_the_running_limit_holds_across_four_worker_processes(
    store: Store, account: str, worker_processes: Callable[..., list[subprocess.Popen[str]]]
) -> None:
    queue = TaskQueue(store.engine)
    queue.set_max_running(account, 3)
    other = store.create_account("other").id
    processes = worker_processes([f"w{n}" for n in range(4)])  # all polling before any work arrives
    mine = [queue.enqueue(account, "probe", {"seconds": 0.4}).id for _ in range(12)]
    theirs = [queue.enqueue(other, "probe", {"seconds": 0.4}).id for _ in range(4)]
    sampled = 0

    def all_done() -> bool:
        nonlocal sampled
        mine_now, theirs_now = queue.stats(account), queue.stats(other)
        sampled = max(sampled, mine_now.running)
        return mine_now.depth + mine_now.running + theirs_now.depth + theirs_now.running == 0

    wait_until(all_done, 40, "every task to finish")
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        assert process.wait(timeout=15) == 0

    done = {task_id: queue.get(task_id) for task_id in mine + theirs}
    assert {t.status for t in done.values()} == {"SUCCEEDED"}
    seen_by_mine = [done[i].result["running_seen"] for i in mine]
    assert max(seen_by_mine) == 3  # it ran at the limit...
    assert sampled <= 3  # ...and never above it
    assert len({t.result["worker"] for t in done.values()}) >= 2  # several processes shared the work
    # The other account did not queue behind the full one's backlog.
    assert max(when(done[i].finished_at) for i in theirs) < max(when(done[i].started_at) for i in mine)


# -- leases, heartbeats and fencing ------------------------------------------------------------


def test_a_killed_workers_task_is_taken_over_after_its_lease_and_finished(
    queue: TaskQueue, account: str, worker_processes: Callable[..., list[subprocess.Popen[str]]]
) -> None:
    task = queue.enqueue(account, "probe", {"seconds": 60, "first_attempt_only": True})
    [doomed] = worker_processes(["doomed"], lease=2)
    wait_until(lambda: queue.get(task.id).lease_owner == "doomed", 20, "the worker to claim the task")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    held_until = queue.get(task.id).lease_expires_at
    assert held_until is not None
    assert queue.claim("impatient") == []  # the lease is still live

    async def probe(context: TaskContext) -> dict[str, Any]:
        return {"worker": "rescuer", "attempt": context.attempt}

    rescuer = Worker(queue, {"probe": probe}, worker_id="rescuer", poll_interval=0.05, lease_seconds=2)
    asyncio.run(run_worker_until(rescuer, lambda: queue.get(task.id).is_finished))
    done = queue.get(task.id)
    assert (done.status, done.attempts, done.result) == ("SUCCEEDED", 2, {"worker": "rescuer", "attempt": 2})
    assert done.started_at is not None and done.started_at >= held_until


def test_a_stale_holder_cannot_complete_fail_or_extend_a_task_taken_over(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    queue = timed_queue
    task = queue.enqueue(account, "k", {})
    [stale] = queue.claim("slow", lease_seconds=10)
    clock.advance(10)
    [fresh] = queue.claim("fast", lease_seconds=10)
    assert (fresh.id, fresh.lease_token, fresh.attempt) == (task.id, stale.lease_token + 1, 2)

    with pytest.raises(LeaseLostError, match="lease on task"):
        queue.complete(task.id, stale.lease_token, {"by": "slow"})
    with pytest.raises(LeaseLostError):
        queue.fail(task.id, stale.lease_token, "boom", retry=False)
    assert queue.heartbeat(task.id, stale.lease_token, 10) is False
    assert queue.release(task.id, stale.lease_token) is False

    queue.complete(task.id, fresh.lease_token, {"by": "fast"})
    assert queue.get(task.id).result == {"by": "fast"}
    with pytest.raises(LeaseLostError):  # finished: nobody holds it any more
        queue.complete(task.id, fresh.lease_token)


def test_a_task_whose_last_attempt_lost_its_worker_fails_instead_of_being_taken_over_forever(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    queue = timed_queue
    task = queue.enqueue(account, "k", {}, max_attempts=2)
    for _ in range(2):  # a task that kills its worker each time
        assert [t.id for t in queue.claim("w", lease_seconds=10)] == [task.id]
        clock.advance(10)
    assert queue.claim("w") == []
    failed = queue.get(task.id)
    assert (failed.status, failed.attempts, failed.error_class) == ("FAILED", 2, "LeaseExpired")
    assert "lease ran out" in (failed.last_error or "")
    assert (queue.stats(account).depth, queue.stats(account).failed) == (0, 1)


def test_heartbeats_extend_a_lease(timed_queue: TaskQueue, account: str, clock: ManualClock) -> None:
    queue = timed_queue
    task = queue.enqueue(account, "k", {})
    [held] = queue.claim("w1", lease_seconds=10)
    clock.advance(8)
    assert queue.heartbeat(task.id, held.lease_token, 10)
    clock.advance(8)  # past the first lease, inside the extended one
    assert queue.claim("w2") == []
    clock.advance(2)
    assert [t.lease_owner for t in queue.claim("w2")] == ["w2"]


def test_a_worker_keeps_a_long_task_by_heartbeating(queue: TaskQueue, account: str) -> None:
    task = queue.enqueue(account, "slow", {})
    taken_by_others: list[int] = []

    async def slow(context: TaskContext) -> str:
        for _ in range(6):  # 1.5 s under a 1 s lease
            await asyncio.sleep(0.25)
            taken_by_others.append(len(await asyncio.to_thread(queue.claim, "thief")))
        return "done"

    worker = Worker(queue, {"slow": slow}, worker_id="w", lease_seconds=1.0, heartbeat_every=0.1)
    assert asyncio.run(worker.run_once()) == 1
    done = queue.get(task.id)
    assert (done.status, done.result, done.attempts) == ("SUCCEEDED", "done", 1)
    assert sum(taken_by_others) == 0


def test_a_worker_drops_a_task_whose_lease_was_cancelled(queue: TaskQueue, account: str) -> None:
    task = queue.enqueue(account, "slow", {})
    finished: list[str] = []

    async def slow(context: TaskContext) -> None:
        await asyncio.to_thread(queue.cancel, context.task_id, context.account_id)
        await asyncio.sleep(5)
        finished.append(context.task_id)

    worker = Worker(queue, {"slow": slow}, worker_id="w", lease_seconds=3, heartbeat_every=0.05)
    started = time.monotonic()
    assert asyncio.run(worker.run_once()) == 1
    assert time.monotonic() - started < 4
    assert finished == []
    assert queue.get(task.id).status == "CANCELLED"


def test_stopping_with_a_grace_period_gives_unfinished_tasks_back(queue: TaskQueue, account: str) -> None:
    task = queue.enqueue(account, "slow", {})

    async def slow(context: TaskContext) -> None:
        await asyncio.sleep(30)

    async def start_then_stop() -> None:
        stop = asyncio.Event()
        worker = Worker(queue, {"slow": slow}, worker_id="w", poll_interval=0.02)
        running = asyncio.create_task(worker.run(stop, grace_seconds=0.1))
        while (await asyncio.to_thread(queue.get, task.id)).status != "RUNNING":
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(running, timeout=5)

    asyncio.run(start_then_stop())
    back = queue.get(task.id)
    assert (back.status, back.attempts) == ("QUEUED", 0)
    assert [t.id for t in queue.claim("another")] == [task.id]


# -- retries -----------------------------------------------------------------------------------


def test_a_retried_task_backs_off_exponentially_then_fails_for_good_keeping_the_error(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    queue = timed_queue  # 3 attempts, 5 s base, jitter at its ceiling
    task = queue.enqueue(account, "k", {})
    for attempt, delay in ((1, 5), (2, 10)):
        [held] = queue.claim("w")
        assert held.attempt == attempt
        after = queue.fail(task.id, held.lease_token, TransientError(f"blip {attempt}"), retry=True)
        assert (after.status, after.attempts, after.last_error) == ("QUEUED", attempt, f"blip {attempt}")
        assert after.run_after == clock.now + timedelta(seconds=delay)
        clock.advance(delay - 1)
        assert queue.claim("w") == []
        clock.advance(1)
    [held] = queue.claim("w")
    final = queue.fail(task.id, held.lease_token, TransientError("blip 3"), retry=True)
    assert (final.status, final.attempts, final.last_error, final.error_class) == (
        "FAILED",
        3,
        "blip 3",
        "TransientError",
    )
    assert final.finished_at == clock.now
    clock.advance(3600)
    assert queue.claim("w") == []
    assert queue.stats(account).failed == 1


def test_a_rate_limited_task_waits_as_long_as_it_was_asked(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    task = timed_queue.enqueue(account, "k", {})
    [held] = timed_queue.claim("w")
    after = timed_queue.fail(
        task.id, held.lease_token, RateLimitedError("slow down"), retry=True, retry_after=90
    )
    assert after.run_after == clock.now + timedelta(seconds=90)


def test_waiting_for_an_integrations_lock_uses_up_no_attempt(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    queue = timed_queue  # 3 attempts, 5 s base
    task = queue.enqueue(account, "k", {})
    for _ in range(10):  # far more waits than attempts: a long run, or a dead worker's lock
        clock.advance(queue.settings.backoff_max_seconds)
        [held] = queue.claim("w")
        outcome = classify(AlreadyRunningError("i-1"))
        assert outcome.retry and outcome.waiting
        after = queue.fail(task.id, held.lease_token, outcome.error or "", retry=True, counted=False)
        assert (after.status, after.attempts) == ("QUEUED", 0)
        assert (
            clock.now < after.run_after <= clock.now + timedelta(seconds=queue.settings.backoff_max_seconds)
        )
    clock.advance(queue.settings.backoff_max_seconds)
    [held] = queue.claim("w")
    assert held.attempt == 1
    queue.complete(task.id, held.lease_token, "done")
    assert queue.get(task.id).status == "SUCCEEDED"


def test_a_worker_retries_transient_errors_and_fails_permanent_ones_at_once(
    queue: TaskQueue, account: str
) -> None:
    flaky = queue.enqueue(account, "flaky", {}, max_attempts=3)
    broken = queue.enqueue(account, "broken", {}, max_attempts=3)
    crashy = queue.enqueue(account, "crashy", {}, max_attempts=2)
    unknown = queue.enqueue(account, "nobody-handles-this", {})
    attempts: list[int] = []

    async def flaky_handler(context: TaskContext) -> str:
        attempts.append(context.attempt)
        if context.attempt < 3:
            raise TransientError("try again")
        return "third time lucky"

    async def broken_handler(context: TaskContext) -> None:
        raise InvalidDataError("column 'x' rejected the value")

    async def crashy_handler(context: TaskContext) -> None:
        raise RuntimeError("a bug")

    handlers = {"flaky": flaky_handler, "broken": broken_handler, "crashy": crashy_handler}
    worker = Worker(queue, handlers, worker_id="w", poll_interval=0.02)
    finished = (flaky.id, broken.id, crashy.id)
    asyncio.run(run_worker_until(worker, lambda: all(queue.get(i).is_finished for i in finished)))

    assert attempts == [1, 2, 3]
    assert (queue.get(flaky.id).status, queue.get(flaky.id).result) == ("SUCCEEDED", "third time lucky")
    failed = queue.get(broken.id)
    assert (failed.status, failed.attempts, failed.error_class) == ("FAILED", 1, "InvalidDataError")
    assert failed.last_error == "column 'x' rejected the value"
    crashed = queue.get(crashy.id)
    assert (crashed.status, crashed.attempts, crashed.last_error) == ("FAILED", 2, "a bug")
    assert queue.get(unknown.id).status == "QUEUED"  # this worker does not claim kinds it cannot run


def test_an_authentication_error_pauses_the_accounts_queue(queue: TaskQueue, account: str) -> None:
    first = queue.enqueue(account, "sync", {}, priority=1)
    second = queue.enqueue(account, "sync", {})

    async def expired(context: TaskContext) -> None:
        raise AuthenticationError("the monday token expired")

    worker = Worker(queue, {"sync": expired}, worker_id="w", concurrency=1)
    assert asyncio.run(worker.run_once()) == 1
    assert (queue.get(first.id).status, queue.get(first.id).attempts) == ("FAILED", 1)
    assert queue.stats(account).paused
    assert asyncio.run(worker.run_once()) == 0
    assert queue.get(second.id).status == "QUEUED"


# -- cancelling and tenant isolation -----------------------------------------------------------


def test_cancelling_stops_a_queued_task_and_revokes_a_running_ones_lease(
    queue: TaskQueue, account: str
) -> None:
    waiting = queue.enqueue(account, "k", {}, priority=0)
    running = queue.enqueue(account, "k", {}, priority=1)
    [held] = queue.claim("w")
    assert held.id == running.id

    assert queue.cancel(waiting.id, account).status == "CANCELLED"
    assert queue.cancel(running.id, account).status == "CANCELLED"
    assert queue.heartbeat(running.id, held.lease_token) is False
    with pytest.raises(LeaseLostError):
        queue.complete(running.id, held.lease_token)
    assert queue.claim("w", limit=5) == []
    assert queue.cancel(waiting.id, account).status == "CANCELLED"  # again: unchanged
    assert [t.status for t in queue.list_tasks(account, "CANCELLED")] == ["CANCELLED", "CANCELLED"]


def test_one_account_cannot_see_list_cancel_or_pause_another_accounts_tasks(
    queue: TaskQueue, store: Store, account: str
) -> None:
    other = store.create_account("other").id
    mine = queue.enqueue(account, "k", {"secret": "mine"})
    theirs = queue.enqueue(other, "k", {"secret": "theirs"})

    with pytest.raises(NotFoundError):
        queue.get(theirs.id, account)
    with pytest.raises(NotFoundError):
        queue.cancel(theirs.id, account)
    assert [t.id for t in queue.list_tasks(account)] == [mine.id]
    assert [t.id for t in queue.list_tasks(other)] == [theirs.id]
    queue.pause(account)
    assert not queue.stats(other).paused
    assert queue.stats(other).depth == 1
    assert queue.get(theirs.id, other).status == "QUEUED"
    with pytest.raises(NotFoundError):
        queue.pause("no-such-account")


def test_listing_tasks_is_newest_first_and_filters_by_status(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    queue = timed_queue
    first = queue.enqueue(account, "k", {})
    clock.advance(1)
    second = queue.enqueue(account, "k", {})
    assert [t.id for t in queue.list_tasks(account)] == [second.id, first.id]
    assert [t.id for t in queue.list_tasks(account, limit=1, offset=1)] == [first.id]
    assert queue.list_tasks(account, "RUNNING") == []
    with pytest.raises(ConfigurationError):
        queue.list_tasks(account, "DONE")


def test_finished_tasks_can_be_purged_which_frees_their_dedup_keys(
    timed_queue: TaskQueue, account: str, clock: ManualClock
) -> None:
    queue = timed_queue
    task = queue.enqueue(account, "k", {}, dedup_key="once")
    [held] = queue.claim("w")
    queue.complete(task.id, held.lease_token)
    waiting = queue.enqueue(account, "k", {})
    clock.advance(60)
    assert queue.delete_finished(clock.now) == 1
    assert [t.id for t in queue.list_tasks(account)] == [waiting.id]
    assert queue.enqueue(account, "k", {}, dedup_key="once").id != task.id


# -- API keys ----------------------------------------------------------------------------------


def test_api_keys_are_stored_hashed_authenticate_their_account_and_can_be_revoked(
    store: Store, account: str
) -> None:
    plaintext, record = store.create_api_key(account, "ci")
    assert plaintext.startswith("msk_") and len(plaintext) > 40
    assert (record.prefix, record.name, record.revoked_at) == (plaintext[:8], "ci", None)
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
    assert stored["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert not any(plaintext in str(value) for value in stored.values())

    assert store.authenticate_api_key(plaintext) == account
    assert store.list_api_keys(account)[0].last_used_at is not None
    with pytest.raises(AuthenticationError, match="invalid or revoked API key"):
        store.authenticate_api_key(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B"))

    other = store.create_account("other").id
    with pytest.raises(NotFoundError):
        store.revoke_api_key(record.id, other)
    assert store.list_api_keys(other) == []
    assert store.revoke_api_key(record.id, account).is_revoked
    with pytest.raises(AuthenticationError) as refused:
        store.authenticate_api_key(plaintext)
    assert plaintext not in str(refused.value)

    second, _ = store.create_api_key(account, "deploy")
    assert second != plaintext
    assert store.authenticate_api_key(second) == account
    assert [k.name for k in store.list_api_keys(account)] == ["deploy", "ci"]
    with pytest.raises(NotFoundError):
        store.create_api_key("no-such-account", "x")
    with pytest.raises(ConfigurationError):
        store.create_api_key(account, "  ")
