"""Where the webhook endpoint stores events: a group commit.

Each delivery waits until its event is committed, and only then is monday answered. Deliveries that
arrive while a commit is in flight wait together for the next one, so a burst costs one transaction
per batch rather than one per event, and no two requests of this process fight for the database's
write lock. A failed commit fails every delivery in it (they are answered 503 and monday retries
them); nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio

from monday_snowflake.model.events import WebhookEvent
from monday_snowflake.store import Store

MAX_EVENTS_PER_COMMIT = 1_000


class EventInbox:
    def __init__(self, store: Store, max_batch: int = MAX_EVENTS_PER_COMMIT) -> None:
        self._store = store
        self._max_batch = max_batch
        self._waiting: list[tuple[str, WebhookEvent, asyncio.Future[bool]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def add(self, integration_id: str, event: WebhookEvent) -> bool:
        """Store the event; True once committed, False if its delivery was stored before."""
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((integration_id, event, stored))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_all())
        return await stored

    async def _commit_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            pairs = [(integration_id, event) for integration_id, event, _ in batch]
            try:
                answers = await asyncio.to_thread(self._store.add_events, pairs)
            except Exception as exc:  # each delivery in the batch answers with it (503 for a DB error)
                for _, _, stored in batch:
                    if not stored.done():
                        stored.set_exception(exc)
                continue
            for (_, _, stored), answer in zip(batch, answers, strict=True):
                if not stored.done():  # the client may have gone; the event is kept all the same
                    stored.set_result(answer)
