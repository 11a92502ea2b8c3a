"""Choosing, excluding and naming columns, and the sync modes' reads, end to end: the sandbox over HTTP
-> the product (Python, API and CLI) -> the embedded warehouse.

After every run that loads, the warehouse tables are compared with the board as it is now
(`assert_tables_equal_board`, planned from the stored mapping as the runs plan it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.e2e.conftest import TOKEN, Served, make_settings
from tests.e2e.test_api import Api, api_settings, named, serving
from tests.e2e.test_cli import run as cli
from tests.e2e.test_incremental import (
    admin,
    assert_tables_equal_board,
    change,
    column_values,
    compare_tables,
    free_items,
    graphql,
    replicate,
    table_columns,
)

from monday_sandbox.generator import seed_account
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.integrations import create_integration
from monday_snowflake.model import ColumnMapping, Integration, IntegrationOptions
from monday_snowflake.runtime import Runtime
from monday_snowflake.sync.layout import METADATA_COLUMNS

SEEDED_AGO = timedelta(days=7)
METADATA = {c.name for c in METADATA_COLUMNS}


@pytest.fixture
def served() -> Iterator[Served]:
    """Overrides conftest's: the board was filled in a week ago, so incremental runs read only what a
    test changes."""
    sandbox = Sandbox()
    sandbox.clock.advance(-SEEDED_AGO.total_seconds())
    board = seed_account(sandbox, boards=1, items=120, subitems=1, seed=17)[0]
    sandbox.clock.advance(SEEDED_AGO.total_seconds())
    sandbox.add_token(TOKEN)
    with SandboxServer(sandbox) as server:
        yield Served(server, board)


def add(
    runtime: Runtime,
    served: Served,
    *,
    columns: Sequence[str | ColumnMapping] | None = None,
    exclude: Sequence[str] = (),
    sync_mode: str = "incremental",
    **options: Any,
) -> Integration:
    return create_integration(
        runtime,
        board_id=str(served.board.id),
        monday_token=TOKEN,
        monday_url=served.api_url,
        column_ids=columns,
        exclude_columns=exclude,
        sync_mode=sync_mode,
        options=IntegrationOptions(**{"reconcile_every_hours": 0, **options}),
    )


def board_columns(runtime: Runtime, integration: Integration, table: Any) -> set[str]:
    return set(table_columns(runtime, table)) - METADATA


# -- targets and exclusions ---------------------------------------------------------------------------


def test_chosen_columns_land_under_their_target_names_across_incremental_runs(
    runtime: Runtime, served: Served
) -> None:
    board = served.board
    one, two = free_items(served, 2)
    mapping: list[str | ColumnMapping] = [
        ColumnMapping("text", "Customer notes"),
        ColumnMapping("status", "phase"),
        "numbers",
    ]
    integration = add(runtime, served, columns=mapping)

    first = replicate(runtime, integration)

    assert first.kind == "full" and first.items == len(served.sandbox.active_items(board))
    assert board_columns(runtime, integration, first.table) == {"Customer notes", "phase", "BUDGET"}
    notes = column_values(runtime, first.table, "Customer notes")
    assert notes[one.id] == one.values.get("text")
    assert_tables_equal_board(runtime, integration, served)

    change(served, board.id, one.id, {"text": "said yes", "status": {"label": "Done"}})
    change(served, board.id, two.id, {"numbers": "41.5"})

    second = replicate(runtime, integration)

    assert second.kind == "incremental" and second.items == 2 and second.schema_changes == {}
    assert board_columns(runtime, integration, first.table) == {"Customer notes", "phase", "BUDGET"}
    assert column_values(runtime, first.table, "Customer notes")[one.id] == "said yes"
    assert column_values(runtime, first.table, "phase")[one.id] == "Done"
    assert float(column_values(runtime, first.table, "BUDGET")[two.id]) == 41.5
    assert_tables_equal_board(runtime, integration, served)


def test_excluded_columns_stay_out_of_the_table_as_the_board_grows(runtime: Runtime, served: Served) -> None:
    board = served.board
    (one,) = free_items(served, 1)
    integration = add(runtime, served, exclude=["text", "phone"], include_subitems=True)

    first = replicate(runtime, integration)

    loaded = board_columns(runtime, integration, first.table)
    assert "NOTES" not in loaded and "PHONE" not in loaded
    assert {"STATUS", "BUDGET", "DUE_DATE"} <= loaded
    assert_tables_equal_board(runtime, integration, served)

    added = admin(served, f"/boards/{board.id}/columns", {"title": "Risk", "type": "text"})
    change(served, board.id, one.id, {added["id"]: "low", "text": "not copied"})

    second = replicate(runtime, integration)

    assert second.schema_changes == {"items": {"added": ["RISK"]}}
    assert board_columns(runtime, integration, first.table) == loaded | {"RISK"}
    assert column_values(runtime, first.table, "RISK")[one.id] == "low"
    assert_tables_equal_board(runtime, integration, served)


# -- schema evolution with chosen names ----------------------------------------------------------------


def test_an_explicit_target_whose_column_is_retyped_gets_a_suffixed_column_and_the_load_succeeds(
    runtime: Runtime, served: Served
) -> None:
    board = served.board
    one, two, three = free_items(served, 3)
    risk = admin(served, f"/boards/{board.id}/columns", {"title": "Risk score", "type": "text"})
    for item, value in ((one, "12.5"), (two, "7"), (three, "high")):
        change(served, board.id, item.id, {risk["id"]: value})
    integration = add(runtime, served, columns=[ColumnMapping(risk["id"], "Risk"), "status"])
    first = replicate(runtime, integration)
    table = first.table
    assert table_columns(runtime, table)["Risk"] == "VARCHAR"

    admin(served, f"/boards/{board.id}/columns/{risk['id']}/retype", {"type": "numbers"})

    second = replicate(runtime, integration)

    assert second.kind == "full"
    assert second.schema_changes == {"items": {"retyped": [("Risk", "Risk_NUMBERS")]}}
    columns = table_columns(runtime, table)
    assert columns["Risk"] == "VARCHAR" and columns["Risk_NUMBERS"].startswith("NUMBER")
    numbers = column_values(runtime, table, "Risk_NUMBERS")
    assert {i: float(v) for i, v in numbers.items() if v is not None} == {one.id: 12.5, two.id: 7.0}
    assert column_values(runtime, table, "Risk")[three.id] == "high", "the old column keeps its data"
    assert_tables_equal_board(runtime, integration, served)

    change(served, board.id, one.id, {risk["id"]: "3"})

    third = replicate(runtime, integration)

    assert third.kind == "incremental" and third.schema_changes == {}
    assert float(column_values(runtime, table, "Risk_NUMBERS")[one.id]) == 3.0
    assert column_values(runtime, table, "Risk")[three.id] == "high"
    assert_tables_equal_board(runtime, integration, served)


def test_a_new_column_titled_like_a_deleted_one_never_writes_into_its_warehouse_column(
    runtime: Runtime, served: Served
) -> None:
    board = served.board
    one, two = free_items(served, 2)
    integration = add(runtime, served)
    first = replicate(runtime, integration)
    table = first.table
    notes_before = column_values(runtime, table, "NOTES")
    assert sum(v is not None for v in notes_before.values()) > 0

    graphql(
        served,
        'mutation($b: ID!) { delete_column(board_id: $b, column_id: "text") { id } }',
        {"b": str(board.id)},
    )
    second = replicate(runtime, integration)
    assert second.schema_changes == {"items": {"removed_from_board": ["NOTES"]}}

    # the next run, a new column with the same title (and type) appears
    again = admin(served, f"/boards/{board.id}/columns", {"title": "Notes", "type": "text"})
    change(served, board.id, one.id, {again["id"]: "a new note"})
    change(served, board.id, two.id, {"numbers": "5"})

    third = replicate(runtime, integration)

    changes = third.schema_changes["items"]
    (name,) = changes["added"]
    assert name != "NOTES" and name.startswith("NOTES__")
    assert changes["collisions"] == {again["id"]: name}
    assert column_values(runtime, table, "NOTES") == notes_before, "the deleted column's data is untouched"
    assert {i: v for i, v in column_values(runtime, table, name).items() if v is not None} == {
        one.id: "a new note"
    }
    assert_tables_equal_board(runtime, integration, served)

    change(served, board.id, two.id, {again["id"]: "another"})
    fourth = replicate(runtime, integration)

    assert fourth.kind == "incremental" and fourth.schema_changes == {}
    assert column_values(runtime, table, name)[two.id] == "another"
    assert column_values(runtime, table, "NOTES") == notes_before
    assert_tables_equal_board(runtime, integration, served)


def test_a_chosen_column_deleted_from_the_board_is_reported_and_keeps_its_data(
    runtime: Runtime, served: Served
) -> None:
    board = served.board
    (one,) = free_items(served, 1)
    integration = add(runtime, served, columns=[ColumnMapping("text", "Customer notes"), "numbers"])
    first = replicate(runtime, integration)
    notes_before = column_values(runtime, first.table, "Customer notes")

    graphql(
        served,
        'mutation($b: ID!) { delete_column(board_id: $b, column_id: "text") { id } }',
        {"b": str(board.id)},
    )
    change(served, board.id, one.id, {"numbers": "7"})
    second = replicate(runtime, integration)

    assert second.schema_changes == {"items": {"removed_from_board": ["Customer notes"]}}
    assert column_values(runtime, first.table, "Customer notes") == notes_before
    assert float(column_values(runtime, first.table, "BUDGET")[one.id]) == 7


# -- bad mappings are refused when saved -----------------------------------------------------------


@pytest.fixture
def api(warehouse_data_dir: Path, tmp_path: Path, served: Served) -> Iterator[Api]:
    settings = api_settings(warehouse_data_dir, f"sqlite:///{tmp_path / 'api.db'}", served.api_url)
    with serving(settings, served, run_worker=False) as running:
        yield running


def post_integration(api: Api, client: httpx.Client, **body: Any) -> httpx.Response:
    body = {"board_id": str(api.board.board.id), "monday_token": TOKEN, "monday_api_url": api.board.api_url,
            **body}  # fmt: skip
    return client.post("/integrations", json=body)


# (body, what the message says, the field it names)
BAD_MAPPINGS: list[tuple[dict[str, Any], str, str]] = [
    ({"columns": ["text", "no_such_column"]}, "has no column(s) no_such_column", "columns"),
    ({"exclude_columns": ["gone"]}, "has no column(s) gone", "exclude_columns"),
    ({"primary_key": "numbers", "exclude_columns": ["numbers"]}, "column numbers is the key", "primary_key"),
    ({"primary_key": "numbers", "columns": ["text"]}, "column numbers is the key", "primary_key"),
    ({"columns": ["text", "text"]}, "text listed more than once", "columns"),
    ({"columns": ["text"], "exclude_columns": ["text"]}, "both included (columns) and excluded",
     "exclude_columns"),
    ({"columns": [{"id": "text", "target": ""}]}, "target name of column text is empty", "columns"),
    ({"columns": [{"id": "text", "target": "   "}]}, "target name of column text is empty", "columns"),
    ({"columns": [{"id": "text", "target": " Notes"}]}, "starts or ends with a space", "columns"),
    ({"columns": [{"id": "text", "target": "N" * 256}]}, "longer than 255 characters", "columns"),
    ({"columns": [{"id": "text", "target": "a\nb"}]}, "contains a control character", "columns"),
    ({"columns": [{"id": "text", "target": "item_id"}]}, "is a metadata column's name", "columns"),
    ({"columns": [{"id": "text", "target": "_SYNCED_AT"}]}, "is a metadata column's name", "columns"),
    ({"columns": [{"id": "text", "target": "_deleted_at"}]}, "is a metadata column's name", "columns"),
    (
        {"columns": [{"id": "text", "target": "Same"}, {"id": "status", "target": "SAME"}]},
        "columns text and status both target 'SAME'",
        "columns",
    ),
]  # fmt: skip


def test_bad_mappings_are_refused_by_the_api_with_nothing_created(api: Api) -> None:
    acme = api.tenant("acme")
    for body, message, field in BAD_MAPPINGS:
        response = post_integration(api, acme.client, **body)
        assert response.status_code == 422, (body, response.text)
        assert message in response.json()["error"], (body, response.text)
        assert field in named(response), (body, response.text)
        assert "Traceback" not in response.text
    assert acme.client.get("/integrations").json() == []
    assert api.runtime.store.list_connections(acme.account_id) == []


def test_the_api_saves_targets_and_exclusions_and_patches_them_against_the_board(api: Api) -> None:
    acme = api.tenant("acme")
    response = post_integration(
        api,
        acme.client,
        columns=["numbers", {"id": "text", "target": "Customer notes"}],
        exclude_columns=["phone"],
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["columns"] == [
        {"column_id": "numbers", "target": None},
        {"column_id": "text", "target": "Customer notes"},
    ]
    assert created["options"]["exclude_columns"] == ["phone"]
    integration = api.runtime.store.get_integration(created["id"])
    table = replicate(api.runtime, integration).table
    assert board_columns(api.runtime, integration, table) == {"BUDGET", "Customer notes"}

    path = f"/integrations/{created['id']}"
    for body, message, field in [
        ({"exclude_columns": ["nope"]}, "has no column(s) nope", "exclude_columns"),
        ({"exclude_columns": ["text"]}, "text both included (columns) and excluded", "exclude_columns"),
        ({"columns": [{"id": "status", "target": "NAME"}]}, "is a metadata column's name", "columns"),
        ({"columns": ["status", "nope"]}, "has no column(s) nope", "columns"),
    ]:
        refused = acme.client.patch(path, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert message in refused.text and field in named(refused), refused.text
    assert acme.client.get(path).json() == created, "a refused change changes nothing"

    patched = acme.client.patch(path, json={"exclude_columns": ["phone", "email"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["options"]["exclude_columns"] == ["phone", "email"]
    assert patched.json()["columns"] == created["columns"]

    # a new target for a column renames its warehouse column and keeps its data
    integration = api.runtime.store.get_integration(created["id"])
    notes_before = column_values(api.runtime, table, "Customer notes")
    moved = acme.client.patch(path, json={"columns": ["numbers", {"id": "text", "target": "Notes"}]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["columns"][1] == {"column_id": "text", "target": "Notes"}
    integration = api.runtime.store.get_integration(created["id"])
    replicate(api.runtime, integration)
    assert board_columns(api.runtime, integration, table) == {"BUDGET", "Notes"}
    assert column_values(api.runtime, table, "Notes") == notes_before


def test_bad_mappings_are_refused_by_the_cli_in_one_line_with_nothing_created(
    served: Served, tmp_path: Path
) -> None:
    cli("db", "upgrade", data_dir=tmp_path)
    base = ("integrations", "add", "--board", str(served.board.id), "--monday-token", TOKEN,
            "--monday-url", served.api_url)  # fmt: skip
    for args, message in [
        (("--columns", "text,nope"), "has no column(s) nope"),
        (("--columns", "text=ITEM_ID"), "is a metadata column's name"),
        (("--columns", "text=Same,status=same"), "both target"),
        (("--columns", "text=,status"), "target name of column text is empty"),
        (("--columns", "text", "--exclude", "text"), "both included (columns) and excluded"),
        (("--exclude", "nope"), "has no column(s) nope"),
    ]:
        done = cli(*base, *args, data_dir=tmp_path, check=False)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        (error,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert message in error, (args, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout
    assert "board-" not in cli("integrations", "list", data_dir=tmp_path).stdout

    cli(
        *base,
        "--name",
        "crm",
        "--columns",
        "text=Customer notes,numbers",
        "--exclude",
        "phone",
        data_dir=tmp_path,
    )
    recipe = json.loads(cli("integrations", "show", "crm", data_dir=tmp_path).stdout)
    assert recipe["columns"] == [
        {"column_id": "text", "target": "Customer notes"},
        {"column_id": "numbers", "target": None},
    ]
    assert recipe["options"]["exclude_columns"] == ["phone"]


# -- sync modes and subitems ------------------------------------------------------------------------


def test_an_integration_in_full_mode_reads_every_item_on_every_run(runtime: Runtime, served: Served) -> None:
    board = served.board
    edited, deleted = free_items(served, 2)
    integration = add(runtime, served, sync_mode="full", include_subitems=True)

    first = replicate(runtime, integration)
    assert first.kind == "full" and first.read == len(served.sandbox.active_items(board))
    assert_tables_equal_board(runtime, integration, served)

    change(served, board.id, edited.id, {"text": "edited", "name": "Edited in full mode"})
    graphql(served, "mutation($i: ID!) { delete_item(item_id: $i) { id } }", {"i": str(deleted.id)})
    graphql(
        served,
        'mutation($b: ID!) { create_item(board_id: $b, item_name: "Added", column_values: "{}") { id } }',
        {"b": str(board.id)},
    )

    for _ in range(2):  # after the edits, and again with nothing changed
        again = replicate(runtime, integration)
        active = served.sandbox.active_items(board)
        assert again.kind == "full" and again.read == again.items == len(active)
        assert again.deleted == (1 if _ == 0 else 0)
        assert_tables_equal_board(runtime, integration, served)


class CountRequests:
    """ASGI middleware for the sandbox: counts the GraphQL requests it answers, in `counter[0]`."""

    def __init__(self, app: ASGIApp, counter: list[int]) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v2":
            self.counter[0] += 1
        await self.app(scope, receive, send)


def requests_for_full_run(warehouse_data_dir: Path, tmp_path: Path, subitems: int, include: bool) -> int:
    """GraphQL requests a full run makes of a 120-item board with `subitems` per item, 40 items a page."""
    sandbox = Sandbox()
    board = seed_account(sandbox, boards=1, items=120, subitems=subitems, seed=23)[0]
    sandbox.add_token(TOKEN)
    server = SandboxServer(sandbox)
    counter = [0]
    server.app.add_middleware(CountRequests, counter=counter)
    with server:
        url = f"{server.url}/v2"
        settings = make_settings(warehouse_data_dir, tmp_path, url)
        settings = settings.model_copy(
            update={"monday": settings.monday.model_copy(update={"page_size": 40})}
        )
        runtime = Runtime(settings)
        try:
            served = Served(server, board)
            integration = add(runtime, served, include_subitems=include)
            counter[0] = 0
            result = replicate(runtime, integration, full=True)
            counted = counter[0]
            assert result.items == 120
            assert (result.subitems.inserted if result.subitems else 0) == (120 * subitems if include else 0)
            for role, c in compare_tables(runtime, integration, served).items():  # tables equal the boards
                assert c.ok and c.board_items == c.table_rows, (role, c)
        finally:
            runtime.close()
    return counted


def test_subitems_come_nested_in_the_item_pages_without_calls_per_parent(
    warehouse_data_dir: Path, tmp_path: Path
) -> None:
    counts = {
        (subitems, include): requests_for_full_run(
            warehouse_data_dir, tmp_path / f"{subitems}-{include}", subitems, include
        )
        for subitems, include in ((0, True), (2, True), (2, False))
    }
    assert counts[(2, True)] == counts[(0, True)], counts  # 240 subitems cost no request
    # with subitems on, only the subitems board's description is read besides
    assert counts[(2, True)] - counts[(2, False)] <= 1, counts
    assert counts[(2, False)] >= 3, counts  # the board, then 120 items in pages of 40
