"""Asking for every field of every ColumnValue type on a seeded board answers data, never an error."""

from __future__ import annotations

from typing import Any

import httpx

from monday_sandbox.schema import load_schema
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

from .conftest import TOKEN


def _needs_arguments(field: Any) -> bool:
    """Whether a field has a required argument (non-null, without a default)."""
    from graphql import GraphQLNonNull, Undefined

    return any(
        isinstance(a.type, GraphQLNonNull) and a.default_value in (None, Undefined)
        for a in field.args.values()
    )


def selection(type_: Any, depth: int, alias_prefix: str = "") -> str | None:
    """Every field without required arguments, `depth` levels deep; aliases avoid merge conflicts."""
    from graphql import get_named_type, is_leaf_type

    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if depth == 0:
        return None
    if not hasattr(named, "fields"):
        return "__typename"
    parts = []
    for name, field in named.fields.items():
        if _needs_arguments(field):
            continue
        inner = selection(field.type, depth - 1)
        if inner is None:
            continue
        alias = f"{alias_prefix}{name}: " if alias_prefix else ""
        parts.append(f"{alias}{name}" + (f" {{ {inner} }}" if inner else ""))
    return " ".join(parts) or None


def test_every_column_value_field_resolves_on_a_seeded_board(sandbox: Sandbox, server: SandboxServer) -> None:
    from monday_sandbox.generator import seed_account

    schema = load_schema()
    boards = seed_account(sandbox, boards=1, items=30, subitems=1, seed=11)
    main = max(boards, key=lambda b: len(b.item_ids))
    implementations = schema.get_possible_types(schema.type_map["ColumnValue"])  # type: ignore[arg-type]
    fragments = " ".join(f"... on {t.name} {{ {selection(t, 2, t.name + '_')} }}" for t in implementations)
    query = (
        "query($b:[ID!]) { boards(ids:$b) { items_page(limit: 500) { items { id "
        "subitems { id column_values { id text value } } column_values { id type text value "
        + fragments
        + " } } } } }"
    )
    response = httpx.post(
        f"{server.url}/v2",
        json={"query": query, "variables": {"b": [main.id]}},
        headers={"Authorization": TOKEN},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert "errors" not in body, body["errors"][:3]
    items = body["data"]["boards"][0]["items_page"]["items"]
    assert len(items) == 30
    types = {cell["type"] for item in items for cell in item["column_values"]}
    assert {"status", "people", "file", "board_relation", "mirror", "formula", "subtasks"} <= types


def _list_fields(type_: Any) -> list[str]:
    from graphql import GraphQLList, get_nullable_type

    return [
        name
        for name, field in type_.fields.items()
        if isinstance(get_nullable_type(field.type), GraphQLList) and not _needs_arguments(field)
    ]


def test_every_board_and_item_field_answers_and_unmodelled_lists_are_empty(
    sandbox: Sandbox, server: SandboxServer
) -> None:
    """monday answers list fields with [], never null: so does every field the sandbox does not model."""
    schema = load_schema()
    owner = next(iter(sandbox.data.users.values()))
    board = sandbox.create_board("Everything", owner.id)
    sandbox.create_column(board.id, "Status", "status", None, "status")
    item = sandbox.create_item(board.id, "first")
    board_type, item_type = schema.type_map["Board"], schema.type_map["Item"]
    query = (
        "query($b:[ID!], $i:[ID!]) { boards(ids:$b) { "
        + str(selection(board_type, 2))
        + " } items(ids:$i) { "
        + str(selection(item_type, 2))
        + " } docs { id } updates { id } assets(ids: [1]) { id } }"
    )
    response = httpx.post(
        f"{server.url}/v2",
        json={"query": query, "variables": {"b": [board.id], "i": [item.id]}},
        headers={"Authorization": TOKEN},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert "errors" not in body, body["errors"][:3]
    (got_board,) = body["data"]["boards"]
    (got_item,) = body["data"]["items"]
    for name in _list_fields(board_type):
        assert isinstance(got_board[name], list), f"Board.{name} is {got_board[name]!r}"
    for name in _list_fields(item_type):
        assert isinstance(got_item[name], list), f"Item.{name} is {got_item[name]!r}"
    for name in ("updates", "activity_logs", "views", "tags"):
        assert got_board[name] == [], name
    for name in ("assets", "updates"):
        assert got_item[name] == [], name
    assert body["data"]["docs"] == [] and body["data"]["updates"] == [] and body["data"]["assets"] == []
    assert got_board["columns"] and got_item["column_values"]  # modelled lists still answer data
    assert (
        got_board["top_group"] is not None and got_board["object_type_unique_key"] is None
    )  # nullable scalar
