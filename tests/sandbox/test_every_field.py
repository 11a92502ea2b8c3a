"""Asking for every field of every ColumnValue type on a seeded board answers data, never an error."""

from __future__ import annotations

from typing import Any

import httpx

from monday_sandbox.schema import load_schema
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

from .conftest import TOKEN


def selection(type_: Any, depth: int, alias_prefix: str = "") -> str | None:
    """Every field without required arguments, `depth` levels deep; aliases avoid merge conflicts."""
    from graphql import GraphQLNonNull, get_named_type, is_leaf_type

    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if depth == 0:
        return None
    if not hasattr(named, "fields"):
        return "__typename"
    parts = []
    for name, field in named.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) and a.default_value is None for a in field.args.values()):
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
