"""monday board webhooks as the product keeps them: what happened to which item, nothing more.

A webhook only says that an item changed; what the row should hold is read from monday when the
event is applied. So an event keeps the item, whether it is a subitem, and the column it touched
(to skip edits of columns the integration does not copy), and never the values it carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ITEM_EVENTS = frozenset(
    {
        "create_pulse",
        "update_column_value",
        "update_name",
        "archive_pulse",
        "delete_pulse",
        "restore_pulse",
        "move_pulse_into_group",
    }
)
"""Legacy `event.type` names (API-FACTS 8.3) after which an item's row may have to change."""
SCHEMA_EVENTS = frozenset({"create_column"})
"""Events after which the table may need a new column."""


class InvalidEventError(ValueError):
    """A webhook body that is not a monday event this product understands the shape of."""


@dataclass(frozen=True)
class WebhookEvent:
    trigger_uuid: str
    event_type: str
    board_id: str
    item_id: str | None
    parent_item_id: str | None
    """A subitem's parent item; None for items of the main board."""
    column_id: str | None
    parent_board_id: str | None
    """The main board of a subitem event (its `boardId` is the subitems board)."""

    @property
    def subitem(self) -> bool:
        return self.parent_item_id is not None

    @property
    def relevant(self) -> bool:
        """Whether applying it could change a table (updates, replies and moves of subitems cannot)."""
        return self.event_type in ITEM_EVENTS or self.event_type in SCHEMA_EVENTS

    def on_board(self, board_id: str) -> bool:
        return board_id in (self.board_id, self.parent_board_id)


def parse_event(body: Any) -> WebhookEvent:
    """Read `{"event": {...}}` as monday sends it; InvalidEventError names what is wrong."""
    if not isinstance(body, Mapping) or not isinstance(body.get("event"), Mapping):
        raise InvalidEventError('the body must be a JSON object with an "event" object')
    event: Mapping[str, Any] = body["event"]
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 64:
        raise InvalidEventError("event.type must be a non-empty string")
    trigger = event.get("triggerUuid")
    if not isinstance(trigger, str) or not 0 < len(trigger) <= 64:
        raise InvalidEventError("event.triggerUuid must be a string of at most 64 characters")
    board_id = _id(event, "boardId", required=True)
    assert board_id is not None
    parent_item = _id(event, "parentItemId")
    parent_board = _id(event, "parentItemBoardId") or _id(event, "parentBoardId")
    item_id = _id(event, "pulseId") or _id(event, "itemId")
    if event_type in ITEM_EVENTS and item_id is None:
        raise InvalidEventError(f"event.pulseId or event.itemId is needed for a {event_type} event")
    column = event.get("columnId")
    if column is not None and (not isinstance(column, str) or len(column) > 255):
        raise InvalidEventError("event.columnId must be a string")
    return WebhookEvent(
        trigger_uuid=trigger,
        event_type=event_type,
        board_id=board_id,
        item_id=item_id,
        parent_item_id=parent_item,
        column_id=column,
        parent_board_id=parent_board,
    )


def _id(event: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    """monday ids arrive as numbers or as strings of digits."""
    value = event.get(name)
    if value is None:
        if required:
            raise InvalidEventError(f"event.{name} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidEventError(f"event.{name} must be a monday id (digits), not {value!r}")
    if len(str(value)) > 20:
        raise InvalidEventError(f"event.{name} is too long to be a monday id")
    return str(value)
