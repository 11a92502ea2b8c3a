"""The sandbox's in-memory picture of a monday.com account: boards, columns, items and the rest.

Column values are stored as monday stores them (a JSON-compatible Python value per column id);
how each type is written, rendered as `value`/`text` and exposed through typed fields lives in
`columns.py`. The GraphQL layer reads and changes this model only through `Sandbox`'s methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Account:
    id: int
    name: str
    slug: str
    tier: str = "enterprise"


@dataclass
class User:
    id: int
    account_id: int
    name: str
    email: str
    timezone: str = "UTC"  # the token user's timezone: date filters are evaluated in it
    kind: str = "member"
    team_ids: list[int] = field(default_factory=list)


@dataclass
class Team:
    id: int
    name: str
    user_ids: list[int] = field(default_factory=list)


@dataclass
class Workspace:
    id: int
    name: str
    kind: str = "open"


@dataclass
class Tag:
    id: int
    name: str
    color: str = "#00c875"


@dataclass
class Group:
    id: str
    title: str
    color: str = "#579bfc"
    position: float = 0.0
    archived: bool = False
    deleted: bool = False
    board_id: int = 0


@dataclass
class Column:
    id: str
    title: str
    type: str  # the current API name (ColumnType enum), e.g. "status", "people", "subtasks"
    settings: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    archived: bool = False
    width: int | None = None
    revision: int = 1


@dataclass
class Item:
    id: int
    board_id: int
    group_id: str
    name: str
    creator_id: int
    created_at: datetime
    updated_at: datetime
    state: str = "active"  # active | archived | deleted
    parent_item_id: int | None = None
    values: dict[str, Any] = field(default_factory=dict)  # column id -> stored JSON value (None = empty)
    subitem_ids: list[int] = field(default_factory=list)


@dataclass
class Board:
    id: int
    name: str
    workspace_id: int | None
    owner_id: int
    type: str = "board"  # board | sub_items_board
    board_kind: str = "public"
    state: str = "active"
    description: str | None = None
    columns: dict[str, Column] = field(default_factory=dict)  # insertion order = board order
    groups: dict[str, Group] = field(default_factory=dict)
    item_ids: list[int] = field(default_factory=list)  # board order, active and not
    updated_at: datetime = field(default_factory=utcnow)
    parent_board_id: int | None = None  # for sub_items_board


@dataclass
class Webhook:
    id: int
    board_id: int
    url: str
    event: str
    config: dict[str, Any] | None
    app_token: bool  # created with an app token: deliveries carry a signed JWT
    user_id: int = 0  # who created it (the JWT's userId)
    account_id: int = 0


@dataclass
class Token:
    """An API token: a personal token acts as its user with every scope; an app token is scoped."""

    value: str
    user_id: int
    account_id: int
    kind: str = "personal"  # personal | app
    scopes: tuple[str, ...] = ()
    client_id: str | None = None


@dataclass
class ChangeEvent:
    """Something that happened to a board, as webhooks see it (one event per change)."""

    kind: str  # create_item | change_column_value | change_name | item_archived | item_deleted | ...
    board_id: int
    item_id: int | None
    user_id: int
    at: datetime
    column_id: str | None = None
    value: Any = None
    previous_value: Any = None
    name: str | None = None
    previous_name: str | None = None


class Ids:
    """Monotonic id sources that look like monday's (large integers)."""

    def __init__(self, start: int = 1_000_000_000) -> None:
        self.next_id = start

    def __call__(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value
