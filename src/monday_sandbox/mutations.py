"""Mutation resolvers: thin adapters from monday's arguments to `Sandbox` methods.

A mutation aimed at a board hidden from the caller (the `hidden_boards` fault knob), through
`board_id`, `item_id` or `parent_item_id`, fails with `UserUnauthorizedException` and changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from monday_sandbox.context import RequestContext
from monday_sandbox.errors import SandboxError, invalid_argument, user_unauthorized
from monday_sandbox.executor import Resolver
from monday_sandbox.model import Board, Column, Group, Item, Tag, Webhook
from monday_sandbox.queries import q_complexity
from monday_sandbox.state import Sandbox


def _decode_json(raw: Any, argument: str) -> Any:
    """A `JSON` argument arrives as a JSON-encoded string (or, from variables, already decoded)."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        raise SandboxError(
            "Syntax error in JSON input",
            "JsonParseException",
            error_data={"json": raw, "argument": argument},
            status_code=400,
        ) from None


def _column_values(raw: Any, argument: str = "column_values") -> dict[str, Any]:
    if raw is None:
        return {}
    decoded = _decode_json(raw, argument)
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        raise invalid_argument(f"{argument} must be a JSON object keyed by column id", argument=argument)
    return decoded


def _id(raw: Any, name: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise invalid_argument(f"Invalid {name}: {raw!r}", **{name: raw}) from None


def _board_item(ctx: RequestContext, args: dict[str, Any]) -> tuple[int, int]:
    if args.get("item_id") is None:
        raise invalid_argument("item_id is required", argument="item_id")
    return _id(args["board_id"], "board_id"), _id(args["item_id"], "item_id")


def m_create_item(_: Any, args: dict[str, Any], ctx: RequestContext) -> Item:
    return ctx.sandbox.create_item(
        _id(args["board_id"], "board_id"),
        args["item_name"],
        args.get("group_id"),
        _column_values(args.get("column_values")),
        ctx.user.id,
        bool(args.get("create_labels_if_missing")),
    )


def m_create_subitem(_: Any, args: dict[str, Any], ctx: RequestContext) -> Item:
    return ctx.sandbox.create_subitem(
        _id(args["parent_item_id"], "parent_item_id"),
        args["item_name"],
        _column_values(args.get("column_values")),
        ctx.user.id,
        bool(args.get("create_labels_if_missing")),
    )


def m_change_multiple(_: Any, args: dict[str, Any], ctx: RequestContext) -> Item:
    board_id, item_id = _board_item(ctx, args)
    return ctx.sandbox.change_column_values(
        board_id,
        item_id,
        _column_values(args["column_values"]),
        create_labels_if_missing=bool(args.get("create_labels_if_missing")),
        user_id=ctx.user.id,
    )


def m_change_column_value(_: Any, args: dict[str, Any], ctx: RequestContext) -> Item:
    board_id, item_id = _board_item(ctx, args)
    column_id = args["column_id"]
    value = _decode_json(args["value"], "value")
    if column_id == "name":
        value = value.get("name") if isinstance(value, dict) else value
        return ctx.sandbox.change_column_values(board_id, item_id, {"name": value}, user_id=ctx.user.id)
    return ctx.sandbox.change_column_values(
        board_id,
        item_id,
        {column_id: value},
        create_labels_if_missing=bool(args.get("create_labels_if_missing")),
        mode="column",
        user_id=ctx.user.id,
    )


def m_change_simple(_: Any, args: dict[str, Any], ctx: RequestContext) -> Item:
    board_id, item_id = _board_item(ctx, args)
    column_id = args["column_id"]
    if column_id == "name":
        return ctx.sandbox.change_column_values(
            board_id, item_id, {"name": args.get("value")}, user_id=ctx.user.id
        )
    return ctx.sandbox.change_column_values(
        board_id,
        item_id,
        {column_id: args.get("value")},
        create_labels_if_missing=bool(args.get("create_labels_if_missing")),
        mode="simple",
        user_id=ctx.user.id,
    )


def m_delete_item(_: Any, args: dict[str, Any], ctx: RequestContext) -> Item:
    return ctx.sandbox.delete_item(_id(args.get("item_id"), "item_id"), user_id=ctx.user.id)


def m_archive_item(_: Any, args: dict[str, Any], ctx: RequestContext) -> Item:
    return ctx.sandbox.archive_item(_id(args.get("item_id"), "item_id"), user_id=ctx.user.id)


def m_create_board(_: Any, args: dict[str, Any], ctx: RequestContext) -> Board:
    workspace_id = args.get("workspace_id")
    if workspace_id is not None and _id(workspace_id, "workspace_id") not in ctx.sandbox.data.workspaces:
        raise SandboxError(
            "Workspace not found", "InvalidWorkspaceIdException", error_data={"workspace_id": workspace_id}
        )
    return ctx.sandbox.create_board(
        args["board_name"],
        ctx.user.id,
        int(workspace_id) if workspace_id is not None else None,
        args["board_kind"],
        description=args.get("description"),
        default_group=True,
    )


def m_create_group(_: Any, args: dict[str, Any], ctx: RequestContext) -> Group:
    title = args["group_name"]
    if not title or len(title) > 255:
        raise invalid_argument("Group name must be between 1 and 255 characters", group_name=title)
    return ctx.sandbox.create_group(_id(args["board_id"], "board_id"), title, args.get("group_color"))


def m_create_column(_: Any, args: dict[str, Any], ctx: RequestContext) -> Column:
    defaults = _decode_json(args.get("defaults"), "defaults")
    if defaults is not None and not isinstance(defaults, dict):
        raise invalid_argument("defaults must be a JSON object", argument="defaults")
    column_id = args.get("id")
    if column_id is not None and not (1 <= len(column_id) <= 20 and column_id.replace("_", "").isalnum()):
        raise SandboxError(
            "Column id must be 1-20 characters of letters, digits and underscores",
            "InvalidColumnIdException",
            error_data={"column_id": column_id},
        )
    return ctx.sandbox.create_column(
        _id(args["board_id"], "board_id"),
        args["title"],
        args["column_type"],
        defaults,
        column_id,
        description=args.get("description"),
    )


def m_change_column_title(_: Any, args: dict[str, Any], ctx: RequestContext) -> Column:
    board_id = _id(args["board_id"], "board_id")
    return ctx.sandbox.change_column_title(board_id, args["column_id"], args["title"])


def m_delete_column(_: Any, args: dict[str, Any], ctx: RequestContext) -> Column:
    return ctx.sandbox.delete_column(_id(args["board_id"], "board_id"), args["column_id"])


def m_create_or_get_tag(_: Any, args: dict[str, Any], ctx: RequestContext) -> Tag:
    return ctx.sandbox.create_or_get_tag(args.get("tag_name") or "")


def m_create_webhook(_: Any, args: dict[str, Any], ctx: RequestContext) -> Webhook:
    if ctx.webhooks is None:
        raise SandboxError("Webhooks are not available", "InternalServerError", status_code=500)
    config = _decode_json(args.get("config"), "config")
    return ctx.webhooks.create(
        ctx.sandbox.get_board(_id(args["board_id"], "board_id")),
        args["url"],
        args["event"],
        config,
        ctx.token,
    )


def m_delete_webhook(_: Any, args: dict[str, Any], ctx: RequestContext) -> Webhook:
    hook = ctx.sandbox.data.webhooks.pop(_id(args["id"], "id"), None)
    if hook is None:
        raise SandboxError(
            "Webhook not found", "ResourceNotFoundException", error_data={"id": args["id"]}, status_code=404
        )
    return hook


def _target_boards(sandbox: Sandbox, args: dict[str, Any]) -> set[int]:
    """The boards a mutation's arguments point at (unknown ids are left to the resolver)."""
    boards: set[int] = set()
    if args.get("board_id") is not None and str(args["board_id"]).isdigit():
        boards.add(int(args["board_id"]))
    for key in ("item_id", "parent_item_id"):
        item = sandbox.item(args[key]) if args.get(key) is not None else None
        if item is None:
            continue
        boards.add(item.board_id)
        if key == "parent_item_id":
            sub = sandbox.subitems_board(sandbox.data.boards[item.board_id])
            if sub is not None:
                boards.add(sub.id)
    return boards


def _guarded(resolver: Resolver) -> Resolver:
    """Refuse the mutation when it targets a board hidden from the caller."""

    def guarded(parent: Any, args: dict[str, Any], ctx: RequestContext) -> Any:
        if ctx.hidden_boards:
            hidden = _target_boards(ctx.sandbox, args) & ctx.hidden_boards
            if hidden:
                raise user_unauthorized(board_id=min(hidden))
        return resolver(parent, args, ctx)

    return guarded


def build_mutation_resolvers() -> dict[str, Resolver]:
    resolvers: dict[str, Resolver] = {
        "create_item": m_create_item,
        "create_subitem": m_create_subitem,
        "change_multiple_column_values": m_change_multiple,
        "change_column_value": m_change_column_value,
        "change_simple_column_value": m_change_simple,
        "delete_item": m_delete_item,
        "archive_item": m_archive_item,
        "create_board": m_create_board,
        "create_group": m_create_group,
        "create_column": m_create_column,
        "change_column_title": m_change_column_title,
        "delete_column": m_delete_column,
        "create_or_get_tag": m_create_or_get_tag,
        "create_webhook": m_create_webhook,
        "delete_webhook": m_delete_webhook,
    }
    guarded = {name: _guarded(resolver) for name, resolver in resolvers.items()}
    return {**guarded, "complexity": q_complexity}  # a mutation can ask what it cost, as a query can
