"""The webhook inbox's group commit, on SQLite and PostgreSQL: every delivery is answered only once
its event is committed, duplicates (stored before, or twice in one batch) are told apart, a burst
costs a handful of transactions, and a failed commit fails its deliveries without storing any."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert as insert_row
from sqlalchemy.exc import OperationalError
from tests.integration.test_store import make_integration

from monday_snowflake.model.events import WebhookEvent
from monday_snowflake.realtime.inbox import EventInbox
from monday_snowflake.store import Store
from monday_snowflake.store.tables import WebhookEventRow


def event(item_id: int, trigger: str | None = None) -> WebhookEvent:
    return WebhookEvent(
        trigger_uuid=trigger or uuid.uuid4().hex,
        event_type="update_column_value",
        board_id="1234567890",
        item_id=str(item_id),
        parent_item_id=None,
        column_id="text",
        parent_board_id=None,
    )


def test_add_events_tells_new_from_redelivered_and_from_copies_in_the_same_batch(store: Store) -> None:
    integration = make_integration(store)
    first, second = event(1), event(2)
    assert store.add_events([(integration.id, first)]) == [True]
    again = [(integration.id, first), (integration.id, second), (integration.id, second)]
    assert store.add_events(again) == [False, True, False]
    assert store.pending_event_count(integration.id) == 2


async def test_a_burst_is_stored_in_a_few_commits_and_every_delivery_gets_its_own_answer(
    store: Store,
) -> None:
    integration = make_integration(store)
    commits: list[int] = []
    add_events = store.add_events

    def counted(events: Any) -> list[bool]:
        commits.append(len(events))
        return add_events(events)

    store.add_events = counted  # type: ignore[method-assign]
    inbox = EventInbox(store)
    burst = [event(n % 50) for n in range(500)]
    redelivered = burst[:100]
    answers = await asyncio.gather(*(inbox.add(integration.id, e) for e in [*burst, *redelivered]))
    assert answers == [True] * 500 + [False] * 100
    assert store.pending_event_count(integration.id) == 500
    assert sum(commits) == 600 and len(commits) <= 10, commits


async def test_a_failed_commit_fails_every_delivery_in_it_and_stores_none(store: Store) -> None:
    integration = make_integration(store)
    add_events = store.add_events
    failing = [True]

    def fails_once(events: Any) -> list[bool]:
        if failing:
            failing.clear()
            raise OperationalError("INSERT INTO webhook_events", {}, Exception("database is locked"))
        return add_events(events)

    store.add_events = fails_once  # type: ignore[method-assign]
    inbox = EventInbox(store)
    first = [event(n) for n in range(20)]
    answers = await asyncio.gather(*(inbox.add(integration.id, e) for e in first), return_exceptions=True)
    assert all(isinstance(a, OperationalError) for a in answers)
    assert store.pending_event_count(integration.id) == 0
    # monday's retry of the same deliveries is stored
    assert await asyncio.gather(*(inbox.add(integration.id, e) for e in first)) == [True] * 20
    assert store.pending_event_count(integration.id) == 20


@pytest.mark.parametrize("size", [1, 3])
async def test_batches_never_exceed_their_size(store: Store, size: int) -> None:
    integration = make_integration(store)
    sizes: list[int] = []
    add_events = store.add_events

    def recorded(events: Any) -> list[bool]:
        sizes.append(len(events))
        return add_events(events)

    store.add_events = recorded  # type: ignore[method-assign]
    inbox = EventInbox(store, max_batch=size)
    assert await asyncio.gather(*(inbox.add(integration.id, event(n)) for n in range(10))) == [True] * 10
    assert max(sizes) <= size and sum(sizes) == 10


def test_a_flush_marks_only_the_events_it_read_so_one_committed_late_with_a_lower_id_stays_pending(
    store: Store,
) -> None:
    """PostgreSQL hands out ids when a row is inserted, not when it commits: an event with a lower id
    can become visible after a flush read a batch with higher ids."""
    integration = make_integration(store)
    received = datetime.now(UTC)

    def insert(event_id: int) -> None:
        with store.engine.begin() as conn:
            conn.execute(
                insert_row(WebhookEventRow).values(
                    id=event_id, integration_id=integration.id, trigger_uuid=uuid.uuid4().hex,
                    event_type="update_name", item_id="1", received_at=received,
                )
            )  # fmt: skip

    insert(10)
    insert(11)
    batch = store.pending_events(integration.id, 100)
    assert [e.id for e in batch] == [10, 11]
    insert(5)  # committed late
    assert store.mark_events_applied(integration.id, [e.id for e in batch], received) == 2
    assert [e.id for e in store.pending_events(integration.id, 100)] == [5]
