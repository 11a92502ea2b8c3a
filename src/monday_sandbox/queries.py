"""Read resolvers: the root queries and the fields of the types the sandbox models.

Resolvers take `(parent, args, ctx)` and return plain values or model objects; the executor walks
into them. Anything not listed here answers an empty value of the right type.

Boards hidden from the caller (`ctx.hidden_boards`, the `hidden_boards` fault knob) behave as if
the user had no access: `boards` leaves them out, `items(ids:)` leaves out their items,
`Item.subitems` leaves out subitems on a hidden subitems board (so [] when it is hidden; monday's
answer is undocumented), `Item.parent_item` is null when the parent's board is hidden, and
`next_items_page` (or `items_page(cursor:)`) with a cursor of a hidden board is a
`UserUnauthorizedException` error. A parent's `subtasks` column value still lists the subitem ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from monday_sandbox import columns
from monday_sandbox.context import RequestContext
from monday_sandbox.errors import invalid_argument, user_unauthorized
from monday_sandbox.executor import Resolver
from monday_sandbox.filters import QueryCompiler
from monday_sandbox.model import Board, Column, Group, Item, Tag, Team, User, Webhook, Workspace
from monday_sandbox.paging import check_limit
from monday_sandbox.schema import CURRENT_VERSION

MAX_ITEM_IDS = 100
BASE_URL = "https://sandbox.monday.com"
VERSIONS = [
    ("2026-07", "maintenance", "Maintenance"),
    ("2026-10", "current", "Current"),
    ("2027-01", "release_candidate", "Release candidate"),
]


class ColumnValueRef:
    """One cell: an item's stored value for a column, rendered on demand."""

    __slots__ = ("column", "item", "stored", "typed")

    def __init__(self, item: Item, column: Column, stored: Any) -> None:
        self.item = item
        self.column = column
        self.stored = stored
        self.typed: dict[str, Any] | None = None


_TYPE_NAMES: dict[str, str] = {}


def column_value_type(ref: Any) -> str:
    if type(ref) is not ColumnValueRef:
        return "UnsupportedValue"
    column_type = ref.column.type
    name = _TYPE_NAMES.get(column_type)
    if name is None:
        name = _TYPE_NAMES[column_type] = columns.graphql_type_name(column_type)
    return name


def _typed(name: str, is_list: bool = False) -> Resolver:
    """A typed ColumnValue field from `typed_fields`; a list field it does not model answers []."""
    missing: Any = () if is_list else None

    def resolve(ref: ColumnValueRef, args: dict[str, Any], ctx: RequestContext) -> Any:
        typed = ref.typed
        if typed is None:
            typed = ref.typed = columns.typed_fields(ref.column, ref.stored, ctx.sandbox, ref.item)
        return typed.get(name, missing)

    return resolve


def _attr(name: str) -> Resolver:
    def resolve(obj: Any, args: dict[str, Any], ctx: RequestContext) -> Any:
        if type(obj) is dict:
            return obj.get(name)
        return getattr(obj, name, None)

    return resolve


def _ids(args: dict[str, Any], key: str = "ids") -> set[int] | None:
    raw = args.get(key)
    if not raw:
        return None
    out = set()
    for value in raw:
        try:
            out.add(int(value))
        except (TypeError, ValueError):
            continue
    return out


def _page(values: list[Any], args: dict[str, Any]) -> list[Any]:
    limit = args.get("limit")
    page = max(1, int(args.get("page") or 1))
    if not limit:
        return values
    start = (page - 1) * int(limit)
    return values[start : start + int(limit)]


# ----------------------------------------------------------------------------- root queries
def q_me(_: Any, args: dict[str, Any], ctx: RequestContext) -> User:
    return ctx.user


def q_account(_: Any, args: dict[str, Any], ctx: RequestContext) -> Any:
    return ctx.sandbox.account


def q_users(_: Any, args: dict[str, Any], ctx: RequestContext) -> list[User]:
    ids = _ids(args)
    emails = {e.lower() for e in args.get("emails") or []}
    name = (args.get("name") or "").lower()
    kind = args.get("kind")
    users = [
        u
        for u in ctx.sandbox.data.users.values()
        if (ids is None or u.id in ids)
        and (not emails or u.email.lower() in emails)
        and (not name or name in u.name.lower())
        and (kind in (None, "all") or (kind == "guests") == (u.kind == "guest"))
    ]
    return _page(users, args)


def q_teams(_: Any, args: dict[str, Any], ctx: RequestContext) -> list[Team]:
    ids = _ids(args)
    return [t for t in ctx.sandbox.data.teams.values() if ids is None or t.id in ids]


def q_tags(_: Any, args: dict[str, Any], ctx: RequestContext) -> list[Tag]:
    ids = _ids(args)
    return [t for t in ctx.sandbox.data.tags.values() if ids is None or t.id in ids]


def q_workspaces(_: Any, args: dict[str, Any], ctx: RequestContext) -> list[Workspace]:
    ids = _ids(args)
    return _page([w for w in ctx.sandbox.data.workspaces.values() if ids is None or w.id in ids], args)


def q_boards(_: Any, args: dict[str, Any], ctx: RequestContext) -> list[Board]:
    ids = _ids(args)
    state = args.get("state") or "active"
    kind = args.get("board_kind")
    workspace_ids = _ids(args, "workspace_ids")
    boards = []
    for board in ctx.sandbox.data.boards.values():
        if ids is not None and board.id not in ids:
            continue
        if ids is None and board.type == "sub_items_board":
            continue
        if board.id in ctx.hidden_boards:
            continue
        if state != "all" and board.state != state:
            continue
        if kind and board.board_kind != kind:
            continue
        if workspace_ids is not None and board.workspace_id not in workspace_ids:
            continue
        boards.append(board)
    if args.get("order_by") == "created_at" or args.get("latest"):
        boards.reverse()
    return _page(boards, args)


def q_items(_: Any, args: dict[str, Any], ctx: RequestContext) -> list[Item]:
    raw_ids = args.get("ids") or []
    if len(raw_ids) > MAX_ITEM_IDS:
        raise invalid_argument(
            f"The ids argument can contain at most {MAX_ITEM_IDS} ids, got {len(raw_ids)}",
            ids_count=len(raw_ids),
        )
    items_by_id = ctx.sandbox.data.items
    if raw_ids:
        wanted = []
        seen = set()
        for raw in raw_ids:
            try:
                item_id = int(raw)
            except (TypeError, ValueError):
                continue
            if item_id in items_by_id and item_id not in seen:
                seen.add(item_id)
                wanted.append(items_by_id[item_id])
        items = wanted
    else:
        items = list(items_by_id.values())
    hidden = ctx.hidden_boards
    if hidden:
        items = [i for i in items if i.board_id not in hidden]
    if args.get("exclude_nonactive"):
        items = [i for i in items if i.state == "active"]
    if args.get("newest_first"):
        items = sorted(items, key=lambda i: (i.created_at, i.id), reverse=True)
    limit = min(int(args.get("limit") or 25), MAX_ITEM_IDS)
    return _page(items, {"limit": limit, "page": args.get("page")})


def q_complexity(_: Any, args: dict[str, Any], ctx: RequestContext) -> dict[str, int]:
    report = ctx.budget
    if report is None:
        return {"before": 0, "after": 0, "query": 0, "reset_in_x_seconds": 0}
    return {
        "before": report.before,
        "after": report.after,
        "query": report.query,
        "reset_in_x_seconds": report.reset_in_x_seconds,
    }


def q_webhooks(_: Any, args: dict[str, Any], ctx: RequestContext) -> list[Webhook]:
    board_id = int(args["board_id"]) if str(args["board_id"]).isdigit() else -1
    hooks = [w for w in ctx.sandbox.data.webhooks.values() if w.board_id == board_id]
    if args.get("app_webhooks_only"):
        hooks = [w for w in hooks if w.app_token]
    return hooks


def q_version(_: Any, args: dict[str, Any], ctx: RequestContext) -> dict[str, str]:
    for value, kind, display in VERSIONS:
        if value == ctx.api_version:
            return {"value": value, "kind": kind, "display_name": display}
    return {"value": CURRENT_VERSION, "kind": "current", "display_name": "Current"}


def q_versions(_: Any, args: dict[str, Any], ctx: RequestContext) -> list[dict[str, str]]:
    return [{"value": v, "kind": k, "display_name": d} for v, k, d in VERSIONS]


# ----------------------------------------------------------------------------- items_page
def _limit(args: dict[str, Any]) -> int:
    raw = args.get("limit")
    limit = 25 if raw is None else int(raw)
    check_limit(limit)
    return limit


def items_page(
    ctx: RequestContext, board: Board, group_id: str | None, args: dict[str, Any]
) -> dict[str, Any]:
    limit = _limit(args)
    if board.id in ctx.hidden_boards:
        raise user_unauthorized(board_id=board.id)
    cursor = args.get("cursor")
    params = args.get("query_params")
    if cursor and params:
        raise invalid_argument(
            "You can't pass both cursor and query_params. Use the cursor alone to get the next page",
            board_id=board.id,
        )
    if cursor:
        return _page_from_cursor(ctx, str(cursor), limit)
    items = ctx.sandbox.active_items(board, group_id)
    if params:
        items = QueryCompiler(ctx.sandbox, board, ctx.user.timezone).apply(items, params)
    ids = [item.id for item in items]
    now = ctx.sandbox.clock.now()
    return {"items": items[:limit], "cursor": ctx.cursors.issue(board.id, ids, limit, now)}


def _page_from_cursor(ctx: RequestContext, cursor: str, limit: int) -> dict[str, Any]:
    state = ctx.cursors.take(cursor)
    if state.board_id in ctx.hidden_boards:
        raise user_unauthorized(board_id=state.board_id)
    items_by_id = ctx.sandbox.data.items
    end = state.position + limit
    page = []
    for item_id in state.item_ids[state.position : end]:
        item = items_by_id.get(item_id)
        if item is not None and item.state == "active":
            page.append(item)
    return {"items": page, "cursor": ctx.cursors.issue(state.board_id, state.item_ids, end, state.issued_at)}


def q_next_items_page(_: Any, args: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    limit = _limit(args)
    return _page_from_cursor(ctx, str(args["cursor"]), limit)


# ----------------------------------------------------------------------------- boards, groups, columns
def b_columns(board: Board, args: dict[str, Any], ctx: RequestContext) -> list[Column]:
    ids = set(args.get("ids") or [])
    types = set(args.get("types") or [])
    return [
        c
        for c in board.columns.values()
        if not c.archived and (not ids or c.id in ids) and (not types or c.type in types)
    ]


def b_groups(board: Board, args: dict[str, Any], ctx: RequestContext) -> list[Group]:
    ids = set(args.get("ids") or [])
    return [g for g in board.groups.values() if not g.deleted and (not ids or g.id in ids)]


def b_items_count(board: Board, args: dict[str, Any], ctx: RequestContext) -> int:
    items = ctx.sandbox.data.items
    return sum(1 for i in board.item_ids if items[i].state == "active")


def b_items_page(board: Board, args: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return items_page(ctx, board, None, args)


def b_top_group(board: Board, args: dict[str, Any], ctx: RequestContext) -> Group | dict[str, Any]:
    return next(iter(board.groups.values()), {})


def g_items_page(group: Group, args: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return items_page(ctx, ctx.sandbox.get_board(group.board_id), group.id, args)


def c_settings_str(column: Column, args: dict[str, Any], ctx: RequestContext) -> str:
    return json.dumps(column.settings)


# ----------------------------------------------------------------------------- items
def i_column_values(item: Item, args: dict[str, Any], ctx: RequestContext) -> list[ColumnValueRef]:
    board = ctx.sandbox.data.boards[item.board_id]
    ids = args.get("ids")
    types = args.get("types")
    values = item.values
    out = []
    if ids:
        for column_id in ids:
            column = board.columns.get(column_id)
            if (
                column is not None
                and column.type != "name"
                and not column.archived
                and (not types or column.type in types)
            ):
                out.append(ColumnValueRef(item, column, values.get(column.id)))
        return out
    for column in board.columns.values():
        if column.type == "name" or column.archived or (types and column.type not in types):
            continue
        out.append(ColumnValueRef(item, column, values.get(column.id)))
    return out


def i_subitems(item: Item, args: dict[str, Any], ctx: RequestContext) -> list[Item]:
    items = ctx.sandbox.data.items
    hidden = ctx.hidden_boards
    return [
        items[i]
        for i in item.subitem_ids
        if i in items and items[i].state == "active" and items[i].board_id not in hidden
    ]


def i_parent(item: Item, args: dict[str, Any], ctx: RequestContext) -> Item | None:
    parent = ctx.sandbox.data.items.get(item.parent_item_id) if item.parent_item_id else None
    if parent is not None and parent.board_id in ctx.hidden_boards:
        return None
    return parent


def _const(value: Any) -> Resolver:
    return lambda obj, args, ctx: value


def _get_user(attr: str) -> Resolver:
    return lambda obj, args, ctx: ctx.sandbox.data.users.get(getattr(obj, attr))


def build_query_resolvers() -> dict[str, dict[str, Resolver]]:
    """The resolver table for reads, keyed by GraphQL type name then field name."""
    resolvers: dict[str, dict[str, Resolver]] = {
        "Query": {
            "me": q_me,
            "account": q_account,
            "users": q_users,
            "teams": q_teams,
            "tags": q_tags,
            "workspaces": q_workspaces,
            "boards": q_boards,
            "items": q_items,
            "complexity": q_complexity,
            "next_items_page": q_next_items_page,
            "webhooks": q_webhooks,
            "version": q_version,
            "versions": q_versions,
        },
        "Board": {
            "id": _attr("id"),
            "name": _attr("name"),
            "state": _attr("state"),
            "board_kind": _attr("board_kind"),
            "type": _attr("type"),
            "description": _attr("description"),
            "workspace_id": _attr("workspace_id"),
            "updated_at": _attr("updated_at"),
            "columns": b_columns,
            "groups": b_groups,
            "items_count": b_items_count,
            "items_page": b_items_page,
            "top_group": b_top_group,
            "hierarchy_type": _const("classic"),
            "permissions": _const("everyone"),
            "access_level": _const("edit"),
            "workspace": lambda b, a, c: c.sandbox.data.workspaces.get(b.workspace_id),
            "owner": _get_user("owner_id"),
            "creator": _get_user("owner_id"),
            "owners": lambda b, a, c: [u for u in [c.sandbox.data.users.get(b.owner_id)] if u],
            "url": lambda b, a, c: f"{BASE_URL}/boards/{b.id}",
        },
        "Group": {
            "id": _attr("id"),
            "title": _attr("title"),
            "color": _attr("color"),
            "archived": _attr("archived"),
            "deleted": _attr("deleted"),
            "position": lambda g, a, c: f"{g.position:.2f}",
            "items_page": g_items_page,
        },
        "Column": {
            "id": _attr("id"),
            "title": _attr("title"),
            "type": _attr("type"),
            "description": _attr("description"),
            "width": _attr("width"),
            "archived": _attr("archived"),
            "settings": _attr("settings"),
            "settings_str": c_settings_str,
            "revision": lambda col, a, c: str(col.revision),
        },
        "Item": {
            "id": _attr("id"),
            "name": _attr("name"),
            "state": _attr("state"),
            "created_at": _attr("created_at"),
            "updated_at": _attr("updated_at"),
            "creator_id": _attr("creator_id"),
            "creator": _get_user("creator_id"),
            "column_values": i_column_values,
            "subitems": i_subitems,
            "parent_item": i_parent,
            "board": lambda i, a, c: c.sandbox.data.boards.get(i.board_id),
            "group": lambda i, a, c: c.sandbox.data.boards[i.board_id].groups.get(i.group_id),
            "url": lambda i, a, c: f"{BASE_URL}/boards/{i.board_id}/pulses/{i.id}",
            "relative_link": lambda i, a, c: f"/boards/{i.board_id}/pulses/{i.id}",
            "email": lambda i, a, c: f"pulse-{i.id}@sandbox.monday.com",
        },
        "User": {
            "id": _attr("id"),
            "name": _attr("name"),
            "email": _attr("email"),
            "kind": _attr("kind"),
            "account_id": _attr("account_id"),
            "time_zone_identifier": _attr("timezone"),
            "account": lambda u, a, c: c.sandbox.account,
            "status": _const("ACTIVE"),
            "is_email_confirmed": _const(True),
            "title": _const(""),
            "teams": lambda u, a, c: [
                c.sandbox.data.teams[t] for t in u.team_ids if t in c.sandbox.data.teams
            ],
            "url": lambda u, a, c: f"{BASE_URL}/users/{u.id}",
        },
        "Account": {
            "id": _attr("id"),
            "name": _attr("name"),
            "slug": _attr("slug"),
            "tier": _attr("tier"),
            "first_day_of_the_week": _const("sunday"),
            "active_members_count": lambda a_, a, c: len(c.sandbox.data.users),
        },
        "Team": {
            "id": _attr("id"),
            "name": _attr("name"),
            "users": lambda t, a, c: [
                c.sandbox.data.users[u] for u in t.user_ids if u in c.sandbox.data.users
            ],
        },
        "Tag": {"id": _attr("id"), "name": _attr("name"), "color": _attr("color")},
        "Workspace": {
            "id": _attr("id"),
            "name": _attr("name"),
            "kind": _attr("kind"),
            "state": _const("active"),
        },
        "Webhook": {
            "id": _attr("id"),
            "board_id": _attr("board_id"),
            "event": _attr("event"),
            "config": lambda w, a, c: json.dumps(w.config) if w.config is not None else None,
        },
    }
    return resolvers


def add_column_value_resolvers(
    resolvers: dict[str, dict[str, Resolver]],
    type_names: list[str],
    fields_of: Callable[[str], dict[str, bool]],
) -> None:
    """Every ColumnValue implementation: shared fields from the cell, the rest from `typed_fields`.

    `fields_of(type_name)` maps each field name to whether its type is a list."""
    common: dict[str, Resolver] = {
        "id": lambda r, a, c: r.column.id,
        "type": lambda r, a, c: r.column.type,
        "column": lambda r, a, c: r.column,
        "is_leaf": lambda r, a, c: True,
        "text": lambda r, a, c: columns.render_text(r.column, r.stored, c.sandbox, r.item),
        "value": lambda r, a, c: columns.render_value(r.column, r.stored, r.item),
    }
    for type_name in type_names:
        table = resolvers.setdefault(type_name, {})
        for field_name, is_list in fields_of(type_name).items():
            table[field_name] = common.get(field_name) or _typed(field_name, is_list)
