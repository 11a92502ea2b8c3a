"""The real-time half of `Store`: each integration's webhook registration, and the inbox of webhook
events waiting to be applied.

An event is stored (once per `triggerUuid`) before monday is answered, and stays pending until a
flush applied it, so a crash between the two costs a second read of the item, never the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monday_snowflake.model.events import WebhookEvent
from monday_snowflake.store.base import StoreBase, find_integration
from monday_snowflake.store.tables import DisplayedErrorRow, WebhookEventRow


@dataclass(frozen=True)
class PendingEvent:
    id: int
    event_type: str
    item_id: str | None
    parent_item_id: str | None
    column_id: str | None
    received_at: datetime

    @property
    def subitem(self) -> bool:
        return self.parent_item_id is not None


@dataclass(frozen=True)
class Realtime:
    """An integration's real-time switch as stored; `secret` is the URL secret, decrypted."""

    integration_id: str
    account_id: str
    board_id: str
    enabled: bool
    signed: bool
    webhooks: tuple[dict[str, str], ...]
    secret: str | None


class RealtimeStore(StoreBase):
    def realtime(self, integration_id: str, account_id: str | None = None) -> Realtime:
        with self._read() as session:
            row = find_integration(session, integration_id, account_id)
            state = dict(row.realtime or {})
            secret = self._box.decrypt(row.webhook_secret)["secret"] if row.webhook_secret else None
            return Realtime(
                integration_id=row.id,
                account_id=row.account_id,
                board_id=row.board_id,
                enabled=bool(state.get("enabled")),
                signed=bool(state.get("signed")),
                webhooks=tuple(state.get("webhooks") or ()),
                secret=secret,
            )

    def set_realtime(
        self,
        integration_id: str,
        *,
        enabled: bool,
        signed: bool,
        webhooks: list[dict[str, str]],
        secret: str | None,
        account_id: str | None = None,
    ) -> None:
        with self._write() as session:
            row = find_integration(session, integration_id, account_id)
            row.realtime = {"enabled": enabled, "signed": signed, "webhooks": list(webhooks)}
            row.webhook_secret = self._box.encrypt({"secret": secret}) if secret else None
            row.updated_at = self._clock()

    # -- the inbox ---------------------------------------------------------------------------------------

    def add_events(self, events: Sequence[tuple[str, WebhookEvent]]) -> list[bool]:
        """Store (integration id, event) pairs in one transaction; for each, False if its delivery
        (its triggerUuid) was stored before, or earlier in the same batch."""
        received_at = self._clock()
        seen: set[tuple[str, str]] = set()
        rows: list[dict[str, Any]] = []
        for integration_id, event in events:
            key = (integration_id, event.trigger_uuid)
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "integration_id": integration_id,
                    "trigger_uuid": event.trigger_uuid,
                    "event_type": event.event_type,
                    "item_id": event.item_id,
                    "parent_item_id": event.parent_item_id,
                    "column_id": event.column_id,
                    "received_at": received_at,
                }
            )
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(WebhookEventRow)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(WebhookEventRow.integration_id, WebhookEventRow.trigger_uuid)
        )
        with self._write() as session:
            stored = {(row[0], row[1]) for row in session.execute(statement)}
        answers: list[bool] = []
        for integration_id, event in events:
            key = (integration_id, event.trigger_uuid)
            answers.append(key in stored)
            stored.discard(key)  # a second copy in the same batch is a duplicate
        return answers

    def add_event(self, integration_id: str, event: WebhookEvent) -> bool:
        """Store one event; False if this delivery (its triggerUuid) was stored before."""
        return self.add_events([(integration_id, event)])[0]

    def due_event_integrations(self, *, older_than: datetime, at_least: int) -> list[str]:
        """Integrations whose oldest pending event arrived before `older_than`, or that have at least
        `at_least` pending events."""
        oldest = func.min(WebhookEventRow.received_at)
        count = func.count(WebhookEventRow.id)
        statement = (
            select(WebhookEventRow.integration_id, oldest, count)
            .where(WebhookEventRow.applied_at.is_(None))
            .group_by(WebhookEventRow.integration_id)
        )
        with self._read() as session:
            return [
                integration_id
                for integration_id, first, pending in session.execute(statement)
                if pending >= at_least or _aware(first) <= older_than
            ]

    def pending_events(self, integration_id: str, limit: int) -> list[PendingEvent]:
        statement = (
            select(WebhookEventRow)
            .where(WebhookEventRow.integration_id == integration_id, WebhookEventRow.applied_at.is_(None))
            .order_by(WebhookEventRow.id)
            .limit(limit)
        )
        with self._read() as session:
            return [
                PendingEvent(r.id, r.event_type, r.item_id, r.parent_item_id, r.column_id, r.received_at)
                for r in session.scalars(statement)
            ]

    def mark_events_applied(self, integration_id: str, event_ids: Sequence[int], at: datetime) -> int:
        """These events of the integration are applied. Exactly these: on PostgreSQL, ids from a
        sequence can commit out of order, so an event with a lower id may arrive after a flush read
        its batch, and must stay pending."""
        done = 0
        with self._write() as session:
            for start in range(0, len(event_ids), 1_000):
                chunk = list(event_ids[start : start + 1_000])
                result = session.execute(
                    update(WebhookEventRow)
                    .where(
                        WebhookEventRow.integration_id == integration_id,
                        WebhookEventRow.applied_at.is_(None),
                        WebhookEventRow.id.in_(chunk),
                    )
                    .values(applied_at=at)
                )
                done += int(result.rowcount)  # type: ignore[attr-defined]
        return done

    def purge_applied_events(self, before: datetime) -> int:
        with self._write() as session:
            result = session.execute(delete(WebhookEventRow).where(WebhookEventRow.applied_at < before))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def pending_event_count(self, integration_id: str) -> int:
        statement = select(func.count(WebhookEventRow.id)).where(
            WebhookEventRow.integration_id == integration_id, WebhookEventRow.applied_at.is_(None)
        )
        with self._read() as session:
            return int(session.scalar(statement) or 0)


def _aware(value: datetime) -> datetime:
    """`min()` bypasses the column type on SQLite: the value comes back naive (UTC) or as text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class DisplayedErrors(StoreBase):
    """Errors real-time sync wrote on items, so each is written once and cleared once."""

    def displayed_errors(self, integration_id: str, item_ids: Iterable[str]) -> dict[str, str]:
        wanted = list(item_ids)
        found: dict[str, str] = {}
        with self._read() as session:
            for start in range(0, len(wanted), 500):
                statement = select(DisplayedErrorRow.item_id, DisplayedErrorRow.message).where(
                    DisplayedErrorRow.integration_id == integration_id,
                    DisplayedErrorRow.item_id.in_(wanted[start : start + 500]),
                )
                found.update({item_id: message for item_id, message in session.execute(statement)})
        return found

    def set_displayed_errors(self, integration_id: str, messages: Mapping[str, str]) -> None:
        """Record what was written on each item (replacing what was there)."""
        if not messages:
            return
        with self._write() as session:
            session.execute(
                delete(DisplayedErrorRow).where(
                    DisplayedErrorRow.integration_id == integration_id,
                    DisplayedErrorRow.item_id.in_(list(messages)),
                )
            )
            now = self._clock()
            session.add_all(
                DisplayedErrorRow(integration_id=integration_id, item_id=i, message=m, written_at=now)
                for i, m in messages.items()
            )

    def clear_displayed_errors(self, integration_id: str, item_ids: Iterable[str]) -> None:
        wanted = list(item_ids)
        with self._write() as session:
            for start in range(0, len(wanted), 500):
                session.execute(
                    delete(DisplayedErrorRow).where(
                        DisplayedErrorRow.integration_id == integration_id,
                        DisplayedErrorRow.item_id.in_(wanted[start : start + 500]),
                    )
                )
