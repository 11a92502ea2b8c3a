"""`Sandbox`: the whole in-memory account and every change that can be made to it.

The GraphQL resolvers, the admin endpoints and the data generator all go through these methods, so
validation, `updated_at` bookkeeping and webhook events happen in one place. The sandbox is also
the `ColumnContext` that `columns.py` reads users, tags and linked items through.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monday_sandbox import columns
from monday_sandbox.clock import Clock
from monday_sandbox.data import SandboxSettings, column_suffix, new_data
from monday_sandbox.errors import SandboxError, invalid_argument
from monday_sandbox.model import (
    Account,
    Board,
    ChangeEvent,
    Column,
    Group,
    Item,
    Tag,
    Team,
    Token,
    User,
    Workspace,
)

SUBTASKS_COLUMN_ID = "subitems"


@dataclass
class RetypeResult:
    """What `Sandbox.change_column_type` did: the column, and how many stored values it kept
    (converted) or dropped."""

    column: Column
    kept: int = 0
    dropped: int = 0


class Sandbox:
    """One monday account in memory. Methods raise `SandboxError` with monday's codes."""

    def __init__(self, clock: Clock | None = None, settings: SandboxSettings | None = None) -> None:
        self.clock = clock or Clock()
        self.settings = settings or SandboxSettings()
        self.lock = threading.RLock()
        self.data = new_data()
        self.listeners: list[Callable[[ChangeEvent], None]] = []
        self.acting_user_id: int | None = None  # the token's user while a request runs
        self.on_change: list[Callable[[], None]] = []  # persistence hooks (admin-level changes)

    # ----------------------------------------------------------------- ColumnContext
    def user(self, user_id: int | str) -> User | None:
        return self.data.users.get(_int(user_id))

    def team(self, team_id: int | str) -> Team | None:
        return self.data.teams.get(_int(team_id))

    def tag(self, tag_id: int | str) -> Tag | None:
        return self.data.tags.get(_int(tag_id))

    def item(self, item_id: int | str) -> Item | None:
        return self.data.items.get(_int(item_id))

    def board(self, board_id: int | str) -> Board | None:
        return self.data.boards.get(_int(board_id))

    def user_timezone(self) -> str:
        user = self.data.users.get(self.acting_user_id or 0)
        return user.timezone if user else "UTC"

    # ----------------------------------------------------------------- account entities
    @property
    def account(self) -> Account:
        return self.data.account

    def create_user(
        self,
        name: str,
        email: str,
        *,
        timezone: str = "UTC",
        kind: str = "member",
        user_id: int | None = None,
    ) -> User:
        user = User(
            id=user_id or self.data.ids["user"](),
            account_id=self.account.id,
            name=name,
            email=email,
            timezone=timezone,
            kind=kind,
        )
        self.data.users[user.id] = user
        return user

    def default_user(self) -> User:
        if not self.data.users:
            return self.create_user("Sandbox Admin", "admin@sandbox.example", kind="admin")
        return next(iter(self.data.users.values()))

    def create_team(self, name: str, user_ids: Iterable[int] = ()) -> Team:
        team = Team(id=self.data.ids["team"](), name=name, user_ids=list(user_ids))
        self.data.teams[team.id] = team
        for uid in team.user_ids:
            if uid in self.data.users:
                self.data.users[uid].team_ids.append(team.id)
        return team

    def create_tag(self, name: str, color: str = "#00c875") -> Tag:
        tag = Tag(id=self.data.ids["tag"](), name=name, color=color)
        self.data.tags[tag.id] = tag
        return tag

    def create_or_get_tag(self, name: str) -> Tag:
        """monday strips every space from the name ("My Tag" -> "MyTag")."""
        clean = re.sub(r"\s+", "", name or "")
        if not clean:
            raise invalid_argument("Tag name can't be blank", tag_name=name)
        for tag in self.data.tags.values():
            if tag.name == clean:
                return tag
        return self.create_tag(clean)

    def create_workspace(self, name: str, kind: str = "open") -> Workspace:
        ws = Workspace(id=self.data.ids["workspace"](), name=name, kind=kind)
        self.data.workspaces[ws.id] = ws
        return ws

    def add_token(
        self,
        value: str,
        user_id: int | None = None,
        *,
        kind: str = "personal",
        scopes: Iterable[str] = (),
        client_id: str | None = None,
    ) -> Token:
        uid = user_id if user_id is not None else self.default_user().id
        token = Token(value, uid, self.account.id, kind, tuple(scopes), client_id)
        self.data.tokens[value] = token
        return token

    def revoke_token(self, value: str) -> None:
        """The token stops working, as when its user regenerates a personal token."""
        self.data.tokens.pop(value, None)

    # ----------------------------------------------------------------- boards
    def get_board(self, board_id: int | str) -> Board:
        board = self.data.boards.get(_int(board_id))
        if board is None or board.state == "deleted":
            raise SandboxError(
                "Board not found", "InvalidBoardIdException", error_data={"board_id": _int(board_id)}
            )
        return board

    def create_board(
        self,
        name: str,
        owner_id: int | None = None,
        workspace_id: int | None = None,
        board_kind: str = "public",
        *,
        board_type: str = "board",
        description: str | None = None,
        default_group: bool = False,
    ) -> Board:
        if not name or not name.strip():
            raise SandboxError("Board name can't be blank", "CreateBoardException")
        now = self.clock.now()
        board = Board(
            id=self.data.ids["board"](),
            name=name,
            workspace_id=workspace_id,
            owner_id=owner_id or self.default_user().id,
            type=board_type,
            board_kind=board_kind,
            description=description,
            updated_at=now,
        )
        board.columns["name"] = Column(id="name", title="Name", type="name")
        self.data.boards[board.id] = board
        if default_group:
            self.create_group(board.id, "Group Title", group_id="topics")
        return board

    def create_group(
        self, board_id: int | str, title: str, color: str | None = None, *, group_id: str | None = None
    ) -> Group:
        board = self.get_board(board_id)
        if group_id is None:
            group_id = "topics" if not board.groups else f"group_mk{column_suffix(self.data.ids['group']())}"
        group = Group(
            id=group_id,
            title=title,
            color=color or "#579bfc",
            position=float(len(board.groups) + 1) * 1000.0,
            board_id=board.id,
        )
        board.groups[group.id] = group
        board.updated_at = self.clock.now()
        return group

    def create_column(
        self,
        board_id: int | str,
        title: str,
        column_type: str,
        settings: dict[str, Any] | None = None,
        column_id: str | None = None,
        *,
        description: str | None = None,
    ) -> Column:
        board = self.get_board(board_id)
        if column_id is not None and (column_id in board.columns or column_id == "name"):
            raise SandboxError(
                "Column id already exists on the board",
                "InvalidColumnIdException",
                error_data={"column_id": column_id},
            )
        if column_id is None:
            column_id = self._new_column_id(board, column_type)
        merged = dict(columns.default_settings(column_type))
        merged.update(settings or {})
        column = Column(id=column_id, title=title, type=column_type, settings=merged, description=description)
        board.columns[column.id] = column
        board.updated_at = self.clock.now()
        if column_type == "subtasks":
            self._link_subitems_board(board, column)
        self._emit(ChangeEvent("create_column", board.id, None, self._actor(), self.clock.now(), column.id))
        return column

    def get_column(self, board_id: int | str, column_id: str) -> Column:
        """A live column of the board; a missing or deleted one is `InvalidColumnIdException`."""
        board = self.get_board(board_id)
        column = board.columns.get(column_id)
        if column is None or column.archived:
            raise SandboxError(
                "This column ID doesn't exist for the board",
                "InvalidColumnIdException",
                error_data={"column_id": column_id, "board_id": board.id},
            )
        return column

    def change_column_title(self, board_id: int | str, column_id: str, title: str) -> Column:
        """Rename a column (the name column too). When the title changes, bumps `board.updated_at`
        and the column's revision; items are untouched, so no item's `updated_at` changes."""
        board = self.get_board(board_id)
        column = self.get_column(board.id, column_id)
        if not isinstance(title, str) or not title.strip():
            raise invalid_argument("Column title can't be blank", column_id=column_id, title=title)
        if title != column.title:
            column.title = title
            column.revision += 1
            board.updated_at = self.clock.now()
        return column

    def delete_column(self, board_id: int | str, column_id: str) -> Column:
        """Delete a column: it is archived (`Column.archived`), so it leaves `Board.columns`,
        `Item.column_values`, `query_params` and writes, and its id stays taken. The values stay
        stored but unreachable. Bumps `board.updated_at`, not any item's `updated_at`.

        The name column is mandatory, as on monday. The sandbox also refuses the subitems
        (`subtasks`) column: on monday that deletes every subitem, which it does not model."""
        board = self.get_board(board_id)
        column = self.get_column(board.id, column_id)
        if column.type == "name":
            raise invalid_argument("Cannot delete mandatory columns (e.g., name column)", column_id=column_id)
        if column.type == "subtasks":
            raise invalid_argument("The sandbox can't delete the subitems column", column_id=column_id)
        column.archived = True
        column.revision += 1
        board.updated_at = self.clock.now()
        return column

    def change_column_type(
        self,
        board_id: int | str,
        column_id: str,
        column_type: str,
        settings: dict[str, Any] | None = None,
    ) -> RetypeResult:
        """Change a column's type, as a user can in monday's UI (the API has no mutation for it).

        The column keeps its id, title and position. Its settings become the new type's defaults
        updated with `settings`. Each item's stored value (archived and deleted items included) is
        converted through its text: the old column's `text` is written to the new column as
        `change_simple_column_value` would, so text -> numbers keeps values that parse as numbers,
        numbers/status/date -> text keep their text, text -> status/dropdown creates the missing
        labels, and a value the new type can't hold (or any value when the new type is read-only,
        derived or takes JSON only, e.g. checkbox, tags, timeline) is dropped. Derived types
        (formula, mirror, creation_log...) store nothing, so nothing carries over from them.
        Retyping to the same type only updates the settings and keeps the values as they are.

        Bumps `board.updated_at` and the column's revision. Item `updated_at` is NOT changed:
        monday records the type change on the board, not as an edit of each item, so an
        incremental sync that filters on item `updated_at` won't see the converted values; it
        has to notice the new type in `boards { columns }` (or `updated_at` of the board).
        """
        board = self.get_board(board_id)
        column = self.get_column(board.id, column_id)
        if column_type not in columns.SUPPORTED_TYPES or column_type == "subtasks":
            raise invalid_argument(
                f"Unknown or unsupported column type for a type change: {column_type}",
                column_type=column_type,
            )
        if column.type in ("name", "subtasks"):
            raise invalid_argument(
                f"The type of the {column.type} column can't be changed", column_id=column_id
            )
        old = Column(
            id=column.id,
            title=column.title,
            type=column.type,
            settings=column.settings,
            description=column.description,
        )
        same_type = column_type == column.type
        merged = dict(column.settings) if same_type else dict(columns.default_settings(column_type))
        merged.update(settings or {})
        column.type = column_type
        column.settings = merged
        column.revision += 1
        result = RetypeResult(column)
        if not same_type:
            for item_id in board.item_ids:
                item = self.data.items.get(item_id)
                if item is None or column.id not in item.values:
                    continue
                stored = item.values.pop(column.id)
                columns.forget_rendered(stored)
                if stored is None:
                    continue
                converted = self._convert_value(old, column, stored, item)
                if converted is None:
                    result.dropped += 1
                else:
                    item.values[column.id] = converted
                    result.kept += 1
        board.updated_at = self.clock.now()
        return result

    def _convert_value(self, old: Column, new: Column, stored: Any, item: Item) -> Any:
        codec = columns.codec_for(new.type)
        if not codec.is_writable or not codec.accepts_simple:
            return None
        text = columns.render_text(old, stored, self, item)
        if not text:
            return None
        try:
            return columns.write_simple(
                new, text, self, create_labels_if_missing=new.type in ("status", "dropdown")
            )
        except columns.ColumnError:
            return None

    def _new_column_id(self, board: Board, column_type: str) -> str:
        if column_type == "subtasks" and SUBTASKS_COLUMN_ID not in board.columns:
            return SUBTASKS_COLUMN_ID
        prefix = {"board_relation": "board_relation", "long_text": "long_text"}.get(column_type, column_type)
        while True:
            candidate = f"{prefix}_mk{column_suffix(self.data.ids['column']())}"
            if candidate not in board.columns:
                return candidate

    def _link_subitems_board(self, board: Board, column: Column) -> Board:
        sub = self.create_board(
            f"Subitems of {board.name}",
            board.owner_id,
            board.workspace_id,
            board.board_kind,
            board_type="sub_items_board",
        )
        sub.parent_board_id = board.id
        self.create_group(sub.id, "Subitems", group_id="topics")
        column.settings["boardIds"] = [sub.id]
        return sub

    def subitems_board(self, board: Board) -> Board | None:
        for column in board.columns.values():
            if column.type == "subtasks":
                ids = column.settings.get("boardIds") or []
                if ids and ids[0] in self.data.boards:
                    return self.data.boards[ids[0]]
        return None

    def ensure_subitems_board(self, board_id: int | str) -> Board:
        board = self.get_board(board_id)
        sub = self.subitems_board(board)
        if sub is None:
            self.create_column(board.id, "Subitems", "subtasks")
            sub = self.subitems_board(board)
            assert sub is not None
        return sub

    # ----------------------------------------------------------------- items
    def get_item(self, item_id: int | str, *, active_only: bool = False) -> Item:
        item = self.data.items.get(_int(item_id))
        if item is None or (active_only and item.state != "active"):
            raise SandboxError(
                "Item not found", "InvalidItemIdException", error_data={"item_id": _int(item_id)}
            )
        return item

    def create_item(
        self,
        board_id: int | str,
        name: str,
        group_id: str | None = None,
        column_values: dict[str, Any] | None = None,
        creator_id: int | None = None,
        create_labels_if_missing: bool = False,
        notify: bool = True,
        *,
        parent_item_id: int | None = None,
    ) -> Item:
        board = self.get_board(board_id)
        _check_name(name)
        if group_id is None:
            group = next(iter(board.groups.values()), None) or self.create_group(
                board.id, "Group Title", group_id="topics"
            )
        else:
            found = board.groups.get(group_id)
            if found is None:
                raise SandboxError(
                    "Group not found", "InvalidGroupIdException", error_data={"group_id": group_id}
                )
            group = found
        now = self.clock.now()
        creator = creator_id or self._actor()
        item = Item(
            id=self.data.ids["item"](),
            board_id=board.id,
            group_id=group.id,
            name=name,
            creator_id=creator,
            created_at=now,
            updated_at=now,
            parent_item_id=parent_item_id,
        )
        # validate every value before the item exists, so a bad value creates nothing
        staged = self._stage_values(board, item, column_values or {}, create_labels_if_missing)
        for column_id, stored in staged.items():
            item.values[column_id] = stored
        self.data.items[item.id] = item
        board.item_ids.append(item.id)
        board.updated_at = now
        if notify:
            self._emit(ChangeEvent("create_item", board.id, item.id, creator, now, name=name))
        return item

    def create_subitem(
        self,
        parent_item_id: int | str,
        name: str,
        column_values: dict[str, Any] | None = None,
        creator_id: int | None = None,
        create_labels_if_missing: bool = False,
        notify: bool = True,
    ) -> Item:
        parent = self.get_item(parent_item_id)
        if parent.state == "deleted":
            raise SandboxError("Item not found", "InvalidItemIdException", error_data={"item_id": parent.id})
        sub_board = self.ensure_subitems_board(parent.board_id)
        item = self.create_item(
            sub_board.id,
            name,
            None,
            column_values,
            creator_id,
            create_labels_if_missing,
            notify,
            parent_item_id=parent.id,
        )
        parent.subitem_ids.append(item.id)
        parent.updated_at = item.created_at
        return item

    def _stage_values(
        self, board: Board, item: Item, values: dict[str, Any], create_labels: bool, *, mode: str = "multiple"
    ) -> dict[str, Any]:
        staged: dict[str, Any] = {}
        for column_id, raw in values.items():
            if column_id == "name":
                continue
            column = board.columns.get(column_id)
            if column is None or column.archived:
                raise SandboxError(
                    "This column ID doesn't exist for the board",
                    "InvalidColumnIdException",
                    error_data={"column_id": column_id, "board_id": board.id},
                )
            try:
                if mode == "simple":
                    staged[column_id] = columns.write_simple(
                        column, raw, self, create_labels_if_missing=create_labels
                    )
                else:
                    staged[column_id] = columns.write_json(
                        column,
                        raw,
                        self,
                        create_labels_if_missing=create_labels,
                        via_change_column_value=mode == "column",
                    )
            except columns.ColumnError as exc:
                raise _column_error(exc) from exc
        return staged

    def change_column_values(
        self,
        board_id: int | str,
        item_id: int | str,
        values: dict[str, Any],
        *,
        create_labels_if_missing: bool = False,
        mode: str = "multiple",
        user_id: int | None = None,
    ) -> Item:
        """Apply `{column_id: value}`; `{"name": ...}` renames. All values validate before any is written.

        `mode` is how monday would read the values: "multiple" (change_multiple_column_values,
        create_item), "column" (change_column_value) or "simple" (change_simple_column_value).
        """
        board = self.get_board(board_id)
        item = self.get_item(item_id)
        if item.board_id != board.id or item.state == "deleted":
            raise SandboxError(
                "Item not found in board",
                "InvalidItemIdException",
                error_data={"item_id": item.id, "board_id": board.id},
            )
        new_name = values.get("name")
        if "name" in values:
            if not isinstance(new_name, str):
                raise SandboxError(
                    "Item name must be a string", "ColumnValueException", error_data={"column_id": "name"}
                )
            _check_name(new_name)
        staged = self._stage_values(board, item, values, create_labels_if_missing, mode=mode)
        now = self.clock.now()
        actor = user_id or self._actor()
        changed = False
        if isinstance(new_name, str) and new_name != item.name:
            previous = item.name
            item.name = new_name
            changed = True
            self._emit(
                ChangeEvent(
                    "change_name", board.id, item.id, actor, now, name=new_name, previous_name=previous
                )
            )
        for column_id, stored in staged.items():
            previous_value = item.values.get(column_id)
            item.values[column_id] = stored
            changed = True
            if previous_value != stored:
                self._emit(
                    ChangeEvent(
                        "change_column_value",
                        board.id,
                        item.id,
                        actor,
                        now,
                        column_id=column_id,
                        value=stored,
                        previous_value=previous_value,
                    )
                )
        if changed:
            item.updated_at = now
            board.updated_at = now
        return item

    def archive_item(self, item_id: int | str, *, user_id: int | None = None) -> Item:
        return self._set_state(item_id, "archived", "item_archived", user_id)

    def delete_item(self, item_id: int | str, *, user_id: int | None = None) -> Item:
        return self._set_state(item_id, "deleted", "item_deleted", user_id)

    def restore_item(self, item_id: int | str, *, user_id: int | None = None) -> Item:
        return self._set_state(item_id, "active", "item_restored", user_id)

    def _set_state(self, item_id: int | str, state: str, kind: str, user_id: int | None) -> Item:
        item = self.get_item(item_id)
        if item.state == "deleted" and state != "active":
            raise SandboxError("Item not found", "InvalidItemIdException", error_data={"item_id": item.id})
        now = self.clock.now()
        actor = user_id or self._actor()
        for target in [item, *(self.data.items[i] for i in item.subitem_ids if i in self.data.items)]:
            if target.state == state:
                continue
            target.state = state
            target.updated_at = now
            self._emit(ChangeEvent(kind, target.board_id, target.id, actor, now, name=target.name))
        parent = self.data.items.get(item.parent_item_id) if item.parent_item_id is not None else None
        if parent is not None:
            # a subitem deleted on its own leaves its parent's subitems column; restored, it comes back
            if state == "deleted" and item.id in parent.subitem_ids:
                parent.subitem_ids.remove(item.id)
            elif state != "deleted" and item.id not in parent.subitem_ids:
                parent.subitem_ids.append(item.id)
        self.data.boards[item.board_id].updated_at = now
        return item

    # ----------------------------------------------------------------- events
    def _actor(self) -> int:
        return self.acting_user_id or self.default_user().id

    def _emit(self, event: ChangeEvent) -> None:
        for listener in list(self.listeners):
            listener(event)

    def active_items(self, board: Board, group_id: str | None = None) -> list[Item]:
        items = self.data.items
        out = []
        for item_id in board.item_ids:
            item = items[item_id]
            if item.state == "active" and (group_id is None or item.group_id == group_id):
                out.append(item)
        return out

    def reset(self) -> None:
        """Forget every entity (tokens included) and start over with a fresh account."""
        self.data = new_data()

    def now(self) -> datetime:
        return self.clock.now()


def _int(value: int | str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise SandboxError(
            "Item name must be between 1 and 255 characters long",
            "ItemNameTooLongException",
            error_data={"name_length": len(name) if isinstance(name, str) else 0},
        )


def _column_error(exc: columns.ColumnError) -> SandboxError:
    return SandboxError(exc.message, exc.code, error_data=dict(exc.error_data))
