"""Reverse-sync values round-trip through the monday sandbox over HTTP.

For every writable column type of the generated board: convert Snowflake-style values with
`to_monday`, write them with `change_multiple_column_values`, read the item back with the product's
own items query, and check that `from_board` equals what was sent (so a second run sends nothing)
and differs from the other values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import graphql
import pytest

from monday_sandbox.generator import seed_account
from monday_sandbox.model import Board
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import BoardSpec, ColumnSpec
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.monday.codecs import normalise_type
from monday_snowflake.reverse.values import (
    READ_ONLY_TYPES,
    WRITABLE_TYPES,
    WriteContext,
    check_writable,
    from_board,
    to_monday,
)
from monday_snowflake.settings import MondaySettings

TOKEN = "reverse-values-token"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "src" / "monday_sandbox" / "schema-2026-10.graphql"

WRITE = """mutation WriteValues($boardId: ID!, $itemId: ID!, $values: JSON!) {
  change_multiple_column_values(
    board_id: $boardId, item_id: $itemId, column_values: $values, create_labels_if_missing: true
  ) { id }
}
"""
USERS = "query Users { users(limit: 100) { id email } }"


@dataclass(frozen=True)
class World:
    """What the values refer to: the sandbox's users, teams, tags and items."""

    server: SandboxServer
    board: Board
    emails: list[str]
    user_ids: list[int]
    team_ids: list[int]
    tag_ids: list[int]
    customer_ids: list[int]
    item_ids: list[int]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    sandbox = Sandbox()
    board = seed_account(sandbox, boards=1, items=12, subitems=0, seed=17)[0]
    sandbox.add_token(TOKEN)
    users = list(sandbox.data.users.values())
    customers = sandbox.get_board(board.columns["board_relation"].settings["boardIds"][0])
    with SandboxServer(sandbox) as server:
        yield World(
            server=server,
            board=board,
            emails=[user.email for user in users],
            user_ids=[user.id for user in users],
            team_ids=list(sandbox.data.teams),
            tag_ids=list(sandbox.data.tags)[:4],
            customer_ids=[item.id for item in sandbox.active_items(customers)][:4],
            item_ids=[item.id for item in sandbox.active_items(board)],
        )


def client_for(world: World) -> MondayClient:
    settings = MondaySettings(api_url=f"{world.server.url}/v2", backoff_base_seconds=0.01, max_attempts=2)
    return MondayClient(settings, TOKEN)


def snowflake_values(kind: str, w: World) -> list[Any]:
    """A few distinct Snowflake-style values per column type, as the connector would return them."""
    customers, items, users, tags = w.customer_ids, w.item_ids, w.user_ids, w.tag_ids
    return {
        "text": ["Hello, world", 'She said "ship it"\nthen left', 12345],
        "long_text": ["A longer note\nover two lines", "é" * 2100],
        "numbers": [Decimal("42.000000000"), -17.25, "12345678901234.5678", 0],
        "status": ["Done", "Waiting, on client", "Brand new label"],
        "dropdown": [
            "Marketing, Sales",
            '["R&D, Europe", "Données"]',
            "R&D, Europe, A new option",
            ["Support"],
        ],
        "people": [
            users[0],
            f"{users[1]}, {users[2]}",
            w.emails[3].upper(),
            json.dumps([w.emails[4], users[0], {"id": w.team_ids[0], "kind": "team"}]),
        ],
        "team": [w.team_ids[0], str(w.team_ids[1])],
        "tags": [tags[0], f"{tags[2]},{tags[1]}", json.dumps(tags[:3])],
        "board_relation": [customers[0], f"{customers[2]}, {customers[1]}", json.dumps(customers[:3])],
        "dependency": [items[0], f"{items[2]},{items[1]}"],
        "date": [
            date(2026, 3, 1),
            datetime(2026, 3, 1, 14, 30, 15),
            datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
            "2026-12-31T08:00:00+02:00",
        ],
        "timeline": ['{"from": "2026-01-05", "to": "2026-01-20"}', "2026-02-01 - 2026-02-01"],
        "week": [date(2026, 1, 7), "2026-W10", {"startDate": "2026-03-01", "endDate": "2026-03-07"}],
        "hour": ["14:30", time(9, 5), "0:00"],
        "world_clock": ["Europe/London", "Asia/Tokyo"],
        "checkbox": [True, "false", 1],
        "email": [
            "ann@example.com",
            "bob@example.org Bob at work",
            {"email": "c@example.co.uk", "label": "C"},
        ],
        "phone": ["+12025550169 US", "+44 20 7183 8750 gb"],
        "link": ["https://example.com/a?b=c,d", "https://monday.com go to monday!"],
        "location": ["29.9772962 31.1324955 Giza Pyramid Complex", '{"lat": -33.85, "lng": 151.215}'],
        "country": ["FR", "united kingdom", '{"countryCode": "JP", "countryName": "Japan"}'],
        "rating": [4, Decimal("1"), "5"],
        "color_picker": ["#00c875", "FF5AC4"],
    }[kind]


async def write(client: MondayClient, world: World, item_id: int, values: dict[str, Any]) -> None:
    variables = {"boardId": str(world.board.id), "itemId": str(item_id), "values": json.dumps(values)}
    await client.execute(WRITE, variables)


async def read(client: MondayClient, item_id: int, columns: list[ColumnSpec]) -> dict[str, dict[str, Any]]:
    """One item's cells, read with the product's items query and column selection."""
    [item] = await client.get_items([str(item_id)], column_ids=[c.id for c in columns])
    return {cell["id"]: cell for cell in item["column_values"]}


def writable_columns(spec: BoardSpec) -> list[ColumnSpec]:
    return [c for c in spec.columns if normalise_type(c.type) in WRITABLE_TYPES]


def test_the_mutation_document_is_valid_against_the_schema() -> None:
    schema = graphql.build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    for document in (WRITE, USERS):
        assert graphql.validate(schema, graphql.parse(document)) == []


async def test_every_column_type_of_the_board_is_either_writable_or_refused(world: World) -> None:
    async with client_for(world) as client:
        spec = await client.get_board(str(world.board.id))
    kinds = {normalise_type(col.type) for col in spec.columns}
    assert kinds & READ_ONLY_TYPES  # the board has read-only columns too
    for col in spec.columns:
        if normalise_type(col.type) in WRITABLE_TYPES:
            check_writable(col)
            assert snowflake_values(normalise_type(col.type), world)
        else:  # read-only types, and the item name (written apart from column values)
            with pytest.raises(ConfigurationError):
                check_writable(col)


async def test_written_values_read_back_equal_and_other_values_unequal(world: World) -> None:
    async with client_for(world) as client:
        spec = await client.get_board(str(world.board.id))  # settings read once, before labels are added
        data = await client.execute(USERS)
        ctx = WriteContext(users_by_email={str(u["email"]).lower(): int(u["id"]) for u in data["users"]})
        columns = writable_columns(spec)
        rounds = max(len(snowflake_values(normalise_type(c.type), world)) for c in columns)
        item_id = world.item_ids[-1]
        checked: set[str] = set()
        for n in range(rounds):
            sent: dict[str, Any] = {}
            for col in columns:
                choices = snowflake_values(normalise_type(col.type), world)
                sent[col.id] = to_monday(col, choices[n % len(choices)], ctx)[0]
            await write(client, world, item_id, sent)
            cells = await read(client, item_id, columns)
            for col in columns:
                held = from_board(col, cells.get(col.id))
                assert held == sent[col.id], f"{col.type}: sent {sent[col.id]!r}, board holds {held!r}"
                for other in snowflake_values(normalise_type(col.type), world):
                    converted = to_monday(col, other, ctx)[0]
                    if converted != sent[col.id]:
                        assert held != converted
                checked.add(normalise_type(col.type))
    assert checked == {normalise_type(c.type) for c in columns}
    assert len(checked) >= 22


async def test_none_clears_every_writable_cell_and_reads_back_as_none(world: World) -> None:
    async with client_for(world) as client:
        spec = await client.get_board(str(world.board.id))
        columns = writable_columns(spec)
        item_id = world.item_ids[0]
        before = await read(client, item_id, columns)
        filled = [c.id for c in columns if from_board(c, before.get(c.id)) is not None]
        assert len(filled) >= 10  # the seeded item had values to clear
        await write(client, world, item_id, {c.id: to_monday(c, None, WriteContext())[0] for c in columns})
        cells = await read(client, item_id, columns)
    for col in columns:
        assert from_board(col, cells.get(col.id)) is None, col.type


async def test_unchanged_board_values_convert_to_what_the_board_holds(world: World) -> None:
    """Seeded values (written by the generator in monday's own formats) read back in normal form and,
    fed through to_monday again, give the same value: a board copied to Snowflake and back is stable."""
    async with client_for(world) as client:
        spec = await client.get_board(str(world.board.id))
        columns = writable_columns(spec)
        items = await client.get_items(
            [str(i) for i in world.item_ids[1:9]], column_ids=[c.id for c in columns]
        )
    compared = 0
    for item in items:
        cells = {cell["id"]: cell for cell in item["column_values"]}
        for col in columns:
            held = from_board(col, cells.get(col.id))
            assert "unreadable" not in (held if isinstance(held, dict) else {}), (col.type, cells.get(col.id))
            if held is not None:
                assert to_monday(col, held, WriteContext())[0] == held, col.type
                compared += 1
    assert compared > 50
