"""JSON admin endpoints under `/sandbox/`: inspect and seed data, play a person editing the board,
read webhook deliveries, and turn the fault, budget and clock knobs. Local use only: no auth."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from monday_sandbox import columns
from monday_sandbox.errors import SandboxError
from monday_sandbox.model import Board, Column

if TYPE_CHECKING:
    from monday_sandbox.app import Runtime


def board_summary(runtime: Runtime, board: Board) -> dict[str, Any]:
    sandbox = runtime.sandbox
    sub = sandbox.subitems_board(board)
    return {
        "id": board.id,
        "name": board.name,
        "type": board.type,
        "state": board.state,
        "items_count": len(sandbox.active_items(board)),
        "subitems_board_id": sub.id if sub else None,
        "groups": [{"id": g.id, "title": g.title} for g in board.groups.values()],
        "columns": [
            {"id": c.id, "title": c.title, "type": c.type} for c in board.columns.values() if not c.archived
        ],
    }


def column_summary(column: Column) -> dict[str, Any]:
    return {
        "id": column.id,
        "title": column.title,
        "type": column.type,
        "settings": column.settings,
        "archived": column.archived,
        "revision": column.revision,
    }


def _error(err: SandboxError) -> JSONResponse:
    return JSONResponse(
        {"error": err.message, "code": err.code, "error_data": err.error_data}, status_code=400
    )


def admin_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/sandbox", tags=["sandbox admin"])
    sandbox = runtime.sandbox

    def changed() -> None:
        runtime.save()

    @router.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "now": sandbox.clock.now().isoformat()}

    @router.get("/boards")
    def boards() -> list[dict[str, Any]]:
        with sandbox.lock:
            return [board_summary(runtime, b) for b in sandbox.data.boards.values() if b.state != "deleted"]

    @router.post("/seed")
    def seed(spec: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        from monday_sandbox.generator import seed_account

        with sandbox.lock:
            made = seed_account(
                sandbox,
                boards=int(spec.get("boards", 1)),
                items=int(spec.get("items", 100)),
                subitems=int(spec.get("subitems", 0)),
                seed=int(spec.get("seed", 7)),
            )
            result = {"board_ids": [b.id for b in made]}
        changed()
        return result

    @router.post("/reset")
    def reset() -> dict[str, Any]:
        with sandbox.lock:
            tokens = dict(sandbox.data.tokens)
            users = {
                t.user_id: sandbox.data.users[t.user_id]
                for t in tokens.values()
                if t.user_id in sandbox.data.users
            }
            sandbox.reset()
            sandbox.data.users.update(users)
            sandbox.data.tokens.update({k: t for k, t in tokens.items() if t.user_id in users})
            runtime.service.cursors.clear()
        changed()
        return {"ok": True}

    @router.post("/items/{item_id}/edit")
    def edit_item(item_id: int, change: dict[str, Any] = Body(...)) -> Any:
        """Change an item as a person in monday's UI would: `{"name"?, "column_values"?, "user_id"?}`."""
        values = dict(change.get("column_values") or {})
        if "name" in change:
            values["name"] = change["name"]
        try:
            with sandbox.lock:
                item = sandbox.get_item(item_id)
                sandbox.change_column_values(
                    item.board_id,
                    item.id,
                    values,
                    create_labels_if_missing=bool(change.get("create_labels_if_missing")),
                    user_id=change.get("user_id"),
                )
                result = {"id": item.id, "name": item.name, "updated_at": item.updated_at.isoformat()}
        except SandboxError as err:
            return _error(err)
        changed()
        return result

    def state_change(item_id: int, action: str, user_id: int | None) -> Any:
        try:
            with sandbox.lock:
                method = {
                    "delete": sandbox.delete_item,
                    "archive": sandbox.archive_item,
                    "restore": sandbox.restore_item,
                }[action]
                item = method(item_id, user_id=user_id)
                result = {"id": item.id, "state": item.state}
        except SandboxError as err:
            return _error(err)
        changed()
        return result

    @router.post("/items/{item_id}/delete")
    def delete_item(item_id: int, body: dict[str, Any] = Body(default_factory=dict)) -> Any:
        return state_change(item_id, "delete", body.get("user_id"))

    @router.post("/items/{item_id}/archive")
    def archive_item(item_id: int, body: dict[str, Any] = Body(default_factory=dict)) -> Any:
        return state_change(item_id, "archive", body.get("user_id"))

    @router.post("/items/{item_id}/restore")
    def restore_item(item_id: int, body: dict[str, Any] = Body(default_factory=dict)) -> Any:
        return state_change(item_id, "restore", body.get("user_id"))

    def column_change(action: Callable[[], dict[str, Any]]) -> Any:
        try:
            with sandbox.lock:
                result = action()
        except SandboxError as err:
            return _error(err)
        changed()
        return result

    @router.post("/boards/{board_id}/columns")
    def create_column(board_id: int, body: dict[str, Any] = Body(...)) -> Any:
        """Add a column as a person in monday's UI would: `{"title", "type", "id"?, "settings"?,
        "description"?}` (`type` is a monday API column type; GraphQL `create_column` does the
        same). An `id` already on the board, deleted columns included, is refused."""
        title, column_type = body.get("title"), body.get("type")
        if not isinstance(title, str) or not title.strip() or not isinstance(column_type, str):
            return JSONResponse({"error": "title and type are required strings"}, status_code=400)
        if column_type not in columns.SUPPORTED_TYPES:
            return JSONResponse({"error": f"unknown column type {column_type}"}, status_code=400)
        settings = body.get("settings")
        if settings is not None and not isinstance(settings, dict):
            return JSONResponse({"error": "settings must be an object"}, status_code=400)
        if body.get("id") is not None and not (isinstance(body["id"], str) and body["id"]):
            return JSONResponse({"error": "id must be a non-empty string"}, status_code=400)

        def create() -> dict[str, Any]:
            column = sandbox.create_column(
                board_id,
                title,
                column_type,
                settings,
                body.get("id"),
                description=body.get("description"),
            )
            return column_summary(column)

        return column_change(create)

    @router.post("/boards/{board_id}/columns/{column_id}/rename")
    def rename_column(board_id: int, column_id: str, body: dict[str, Any] = Body(...)) -> Any:
        """`{"title"}`: the same as GraphQL `change_column_title` (board `updated_at` moves, items' don't)."""
        title = str(body.get("title") or "")
        return column_change(lambda: column_summary(sandbox.change_column_title(board_id, column_id, title)))

    @router.post("/boards/{board_id}/columns/{column_id}/delete")
    def delete_column(board_id: int, column_id: str) -> Any:
        """No body: the same as GraphQL `delete_column` (the column is archived and disappears)."""
        return column_change(lambda: column_summary(sandbox.delete_column(board_id, column_id)))

    @router.post("/boards/{board_id}/columns/{column_id}/retype")
    def retype_column(board_id: int, column_id: str, body: dict[str, Any] = Body(...)) -> Any:
        """Change a column's type as a person in monday's UI can (monday's API can't):
        `{"type": "<monday column type>", "settings"?: {...}}`. Each item's value is converted
        through its text or dropped (see `Sandbox.change_column_type`); item `updated_at` does
        not change, board `updated_at` does. Answers the column plus `kept` and `dropped` counts."""
        column_type = body.get("type")
        settings = body.get("settings")
        if not isinstance(column_type, str):
            return JSONResponse({"error": "type is required"}, status_code=400)
        if settings is not None and not isinstance(settings, dict):
            return JSONResponse({"error": "settings must be an object"}, status_code=400)

        def retype() -> dict[str, Any]:
            result = sandbox.change_column_type(board_id, column_id, column_type, settings)
            return {**column_summary(result.column), "kept": result.kept, "dropped": result.dropped}

        return column_change(retype)

    @router.get("/webhooks/deliveries")
    def deliveries() -> list[dict[str, Any]]:
        return runtime.webhooks.listing()

    @router.post("/webhooks/deliver")
    def deliver() -> dict[str, Any]:
        return {"attempted": runtime.webhooks.deliver_due()}

    @router.get("/faults")
    def faults() -> dict[str, Any]:
        return runtime.faults.public()

    @router.post("/faults")
    def set_faults(knobs: dict[str, Any] = Body(...)) -> Any:
        """`{"token"?, "fail_next"?, "fail_with"? (500|502|429|drop), "latency_ms"?, "locked_boards"?,
        "hidden_boards"?}`; without `token` the knobs are global. `hidden_boards` (board ids) makes
        those boards behave as if the token's user had no access (see `queries.py`); `[]` unhides.
        `{"clear": true}` removes every knob."""
        if knobs.get("clear"):
            runtime.faults.clear()
            return runtime.faults.public()
        token = knobs.pop("token", None)
        try:
            runtime.faults.configure(token, **{k: v for k, v in knobs.items() if k != "clear"})
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return runtime.faults.public()

    @router.post("/clock")
    def clock(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """`{"advance_seconds": 3600}` or `{"now": "2026-12-01T10:00:00Z"}`; due webhook retries run."""
        if "now" in body:
            sandbox.clock.set(datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00")))
        if "advance_seconds" in body:
            sandbox.clock.advance(float(body["advance_seconds"]))
        attempted = runtime.webhooks.deliver_due()
        return {"now": sandbox.clock.now().isoformat(), "webhook_attempts": attempted}

    @router.get("/tokens")
    def tokens() -> list[dict[str, Any]]:
        with sandbox.lock:
            return [
                {
                    "token": t.value,
                    "user_id": t.user_id,
                    "account_id": t.account_id,
                    "kind": t.kind,
                    "scopes": list(t.scopes),
                }
                for t in sandbox.data.tokens.values()
            ]

    @router.post("/tokens")
    def add_token(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """`{"token"?, "user_id"?, "kind"? (personal|app), "timezone"?}`; a new user when `name` is given."""
        with sandbox.lock:
            user_id = body.get("user_id")
            if body.get("name"):
                user = sandbox.create_user(
                    str(body["name"]),
                    str(body.get("email") or f"user{len(sandbox.data.users)}@sandbox.example"),
                    timezone=str(body.get("timezone") or "UTC"),
                )
                user_id = user.id
            value = str(body.get("token") or "sbx_" + secrets.token_urlsafe(24))
            token = sandbox.add_token(value, user_id, kind=str(body.get("kind") or "personal"))
        changed()
        return {"token": token.value, "user_id": token.user_id, "kind": token.kind}

    @router.post("/settings")
    def settings(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """`{"complexity_budget"?, "query_complexity_limit"?, "minute_rate_limit"?,
        "concurrency_limit"?}`."""
        names = ("complexity_budget", "query_complexity_limit", "minute_rate_limit", "concurrency_limit")
        for name in names:
            if name in body:
                setattr(sandbox.settings, name, int(body[name]))
        return {name: getattr(sandbox.settings, name) for name in names}

    return router
