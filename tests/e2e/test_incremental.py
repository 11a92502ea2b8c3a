"""Incremental runs, deletions, subitems and schema evolution, end to end: the sandbox over HTTP ->
the product -> the embedded warehouse.

The board here was filled in a week ago (as `demo` does it), so an incremental run reads only what
the test changes. After every incremental run both warehouse tables are compared with the board and
its subitems board as they are now (`compare_integration`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import TOKEN, Served

from monday_sandbox.generator import seed_account
from monday_sandbox.model import Item
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.integrations import create_integration
from monday_snowflake.model import Integration, IntegrationOptions, TableRef
from monday_snowflake.runtime import Runtime
from monday_snowflake.snowflake.naming import quote_identifier
from monday_snowflake.store.records import RunRecord
from monday_snowflake.sync.layout import plan_table
from monday_snowflake.sync.replicate import Progress, ReplicationResult
from monday_snowflake.sync.state import SyncState
from monday_snowflake.sync.verify import Comparison, compare_board_and_table, compare_integration

SEEDED_AGO = timedelta(days=7)
DELETED_AT = "_DELETED_AT"


@pytest.fixture
def served() -> Iterator[Served]:
    """Overrides conftest's: the same board, but filled in a week ago, then the clock comes back."""
    sandbox = Sandbox()
    sandbox.clock.advance(-SEEDED_AGO.total_seconds())
    board = seed_account(sandbox, boards=1, items=160, subitems=1, seed=11)[0]
    sandbox.clock.advance(SEEDED_AGO.total_seconds())
    sandbox.add_token(TOKEN)
    with SandboxServer(sandbox) as server:
        yield Served(server, board)


# -- helpers ------------------------------------------------------------------------------------------


def add(runtime: Runtime, served: Served, **options: Any) -> Integration:
    """An integration of the board, with subitems and reconciliation on every run unless told."""
    chosen: dict[str, Any] = {"include_subitems": True, "reconcile_every_hours": 0, **options}
    table, name = chosen.pop("table", None), chosen.pop("name", None)
    return create_integration(
        runtime,
        board_id=str(served.board.id),
        name=name,
        monday_token=TOKEN,
        monday_url=served.api_url,
        table=table,
        options=IntegrationOptions(**chosen),
    )


def replicate(
    runtime: Runtime, integration: Integration, *, full: bool = False, progress: Progress | None = None
) -> ReplicationResult:
    return asyncio.run(runtime.replicator().replicate(integration.id, full=full, progress=progress))


def compare_tables(runtime: Runtime, integration: Integration, served: Served) -> dict[str, Comparison]:
    async def run() -> dict[str, Comparison]:
        async with runtime.monday_client(TOKEN, served.api_url) as client:
            warehouse = runtime.open_warehouse(integration.snowflake_connection_id)
            try:
                return await compare_integration(runtime.store, integration, client, warehouse)
            finally:
                warehouse.close()

    return asyncio.run(run())


def items_table_equals_board(runtime: Runtime, integration: Integration, served: Served) -> bool:
    """The items table alone against the board, planned as the integration's runs plan it."""

    async def run() -> bool:
        async with runtime.monday_client(TOKEN, served.api_url) as client:
            board = await client.get_board(integration.board_id)
            state = SyncState.from_json(runtime.store.sync_state(integration.id))
            layout = plan_table(integration, board, previous=state.columns("items"))
            warehouse = runtime.open_warehouse(integration.snowflake_connection_id)
            try:
                return (await compare_board_and_table(client, board.id, layout, warehouse)).ok
            finally:
                warehouse.close()

    return asyncio.run(run())


def assert_tables_equal_board(runtime: Runtime, integration: Integration, served: Served) -> None:
    """The items table equals the board and (with subitems) the subitems table its subitems board."""
    comparisons = compare_tables(runtime, integration, served)
    expected_roles = {"items", "subitems"} if integration.options.include_subitems else {"items"}
    assert set(comparisons) == expected_roles
    for role, c in comparisons.items():
        assert c.ok, (role, c.missing, c.unexpected, c.mismatches[:5])
        assert c.board_items == c.table_rows > 0, role
    assert comparisons["items"].board_items == len(served.sandbox.active_items(served.board))


def graphql(served: Served, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        served.api_url,
        json={"query": query, "variables": variables},
        headers={"Authorization": TOKEN},
        timeout=30,
    )
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


def admin(served: Served, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{served.server.url}/sandbox{path}", json=body or {}, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


CHANGE_VALUES = (
    "mutation($b: ID!, $i: ID!, $v: JSON!) "
    "{ change_multiple_column_values(board_id: $b, item_id: $i, column_values: $v) { id } }"
)


def change(served: Served, board_id: int, item_id: int, values: dict[str, Any]) -> None:
    graphql(served, CHANGE_VALUES, {"b": str(board_id), "i": str(item_id), "v": json.dumps(values)})


def sub_board_id(served: Served) -> int:
    with served.sandbox.lock:
        sub = served.sandbox.subitems_board(served.board)
    assert sub is not None
    return int(sub.id)


def free_items(served: Served, count: int) -> list[Item]:
    """Active items, each with a subitem, that no other item depends on: deleting one changes no
    other item's `Blocked by` value (which monday does without touching that item's `updated_at`,
    so no incremental sync could see it)."""
    sandbox = served.sandbox
    with sandbox.lock:
        active = sandbox.active_items(served.board)
        dependency = [c.id for c in served.board.columns.values() if c.type == "dependency"]
        referenced = {
            int(link["linkedPulseId"])
            for item in active
            for column_id in dependency
            if isinstance(item.values.get(column_id), dict)
            for link in item.values[column_id].get("linkedPulseIds", ())
        }
        chosen = [i for i in active if i.id not in referenced and len(i.subitem_ids) == 1]
    assert len(chosen) >= count
    # spread over the board, so they are not all on one page
    step = len(chosen) // count
    return [chosen[n * step] for n in range(count)]


def run_detail(runtime: Runtime, result: ReplicationResult) -> RunRecord:
    return runtime.store.get_run(result.run_id)


def subitems_table(result: ReplicationResult) -> TableRef:
    return replace(result.table, name=result.table.name + "_SUBITEMS")


def qualified(table: TableRef) -> str:
    return ".".join(quote_identifier(p) for p in (table.database, table.schema, table.name))


def query(runtime: Runtime, sql: str) -> list[tuple[Any, ...]]:
    warehouse = runtime.open_warehouse()
    try:
        return list(warehouse.query(sql)[1])
    finally:
        warehouse.close()


def column_values(runtime: Runtime, table: TableRef, column: str) -> dict[int, Any]:
    rows = query(runtime, f"SELECT ITEM_ID, {quote_identifier(column)} FROM {qualified(table)}")
    return {int(item_id): value for item_id, value in rows}


def table_columns(runtime: Runtime, table: TableRef) -> dict[str, str]:
    warehouse = runtime.open_warehouse()
    try:
        return warehouse.table_columns(table)
    finally:
        warehouse.close()


# -- 1. incremental after edits -----------------------------------------------------------------------


def test_incremental_run_reads_and_writes_only_what_changed(runtime: Runtime, served: Served) -> None:
    sandbox, board = served.sandbox, served.board
    subs = sub_board_id(served)
    (early, renamed_1, renamed_2, edited_1, edited_2, deleted, archived, gets_sub, loses_sub, sub_edited) = (
        free_items(served, 10)
    )
    # edited two hours ago: monday's whole-day filter returns it, the engine must skip it
    sandbox.clock.advance(-7200)
    with sandbox.lock:
        sandbox.change_column_values(board.id, early.id, {"text": "edited two hours ago"})
    sandbox.clock.advance(7200)
    integration = add(runtime, served, on_delete="delete")

    first = replicate(runtime, integration)
    assert first.kind == "full" and first.items == 160 and first.subitems is not None
    assert first.subitems.inserted == 160
    assert_tables_equal_board(runtime, integration, served)

    change(served, board.id, renamed_1.id, {"name": 'Renamed, with a "quote"'})
    change(served, board.id, renamed_2.id, {"name": "Renamed ∑ twice"})
    change(served, board.id, edited_1.id, {"text": "new notes", "numbers": "-12.75"})
    change(served, board.id, edited_2.id, {"status": {"label": "Done"}, "text": ""})
    created = [
        graphql(
            served,
            "mutation($b: ID!, $n: String!, $v: JSON) "
            "{ create_item(board_id: $b, item_name: $n, column_values: $v) { id } }",
            {"b": str(board.id), "n": name, "v": '{"text": "fresh", "numbers": "3"}'},
        )["create_item"]["id"]
        for name in ("Brand new one", "Brand new two")
    ]
    graphql(served, "mutation($i: ID!) { delete_item(item_id: $i) { id } }", {"i": str(deleted.id)})
    graphql(served, "mutation($i: ID!) { archive_item(item_id: $i) { id } }", {"i": str(archived.id)})
    new_sub = graphql(
        served,
        'mutation($p: ID!) { create_subitem(parent_item_id: $p, item_name: "A new subitem",'
        ' column_values: "{\\"text\\": \\"sub note\\"}") { id } }',
        {"p": str(gets_sub.id)},
    )["create_subitem"]["id"]
    (gone_sub,) = loses_sub.subitem_ids
    graphql(served, "mutation($i: ID!) { delete_item(item_id: $i) { id } }", {"i": str(gone_sub)})
    (only_sub,) = sub_edited.subitem_ids
    change(served, subs, only_sub, {"name": "Subitem edited alone", "text": "changed"})

    second = replicate(runtime, integration)

    assert second.kind == "incremental" and second.reconciled
    # changed parents: 2 renamed, 2 edited, 2 created, 1 that got a subitem; plus `early`, skipped
    assert second.read == 8 and second.items == 7
    assert (second.inserted, second.updated, second.deleted) == (2, 5, 2)
    assert second.subitems is not None
    assert (second.subitems.inserted, second.subitems.updated) == (1, 1)
    run = run_detail(runtime, second)
    assert run.kind == "incremental" and run.status == "COMPLETED"
    assert run.metrics["kind"] == "incremental" and run.metrics["reconciled"] is True
    tables = run.metrics["tables"]
    counts = ("read", "written", "skipped", "inserted", "updated", "deleted")
    assert {k: tables["items"][k] for k in counts} == {
        "read": 8, "written": 7, "skipped": 1, "inserted": 2, "updated": 5, "deleted": 2,
    }  # fmt: skip
    # deleted: the deleted subitem, and the subitems of the deleted and of the archived item
    assert {k: tables["subitems"][k] for k in counts} == {
        "read": 2, "written": 2, "skipped": 0, "inserted": 1, "updated": 1, "deleted": 3,
    }  # fmt: skip
    assert run.rows_processed == 9
    assert_tables_equal_board(runtime, integration, served)

    items = column_values(runtime, second.table, "NAME")
    assert items[renamed_1.id] == 'Renamed, with a "quote"'
    assert {int(i) for i in created} <= set(items)
    assert deleted.id not in items and archived.id not in items
    sub_table = qualified(subitems_table(second))
    sub_rows = query(runtime, f"SELECT ITEM_ID, PARENT_ITEM_ID, NAME FROM {sub_table}")
    parents = {int(i): (int(p), n) for i, p, n in sub_rows}
    assert parents[int(new_sub)] == (gets_sub.id, "A new subitem")
    assert parents[only_sub] == (sub_edited.id, "Subitem edited alone")
    assert gone_sub not in parents
    assert not ({*deleted.subitem_ids, *archived.subitem_ids} & set(parents))


@pytest.mark.xfail(
    strict=True,
    reason="an incremental run does not rewrite items whose dependency (Blocked by) column pointed at an "
    "item that was deleted: monday drops the link without touching their updated_at, and reconciliation "
    "only removes the deleted rows, so the other rows keep the stale id until a full run",
)
def test_deleting_an_item_others_depend_on_updates_their_links(runtime: Runtime, served: Served) -> None:
    with served.sandbox.lock:
        links = {
            int(link["linkedPulseId"]): item.id
            for item in served.sandbox.active_items(served.board)
            for link in (item.values.get("dependency") or {}).get("linkedPulseIds", ())
        }
    target, holder = min(links.items())
    integration = add(runtime, served, on_delete="delete")
    replicate(runtime, integration)
    graphql(served, "mutation($i: ID!) { delete_item(item_id: $i) { id } }", {"i": str(target)})

    second = replicate(runtime, integration)

    assert second.kind == "incremental" and second.reconciled and second.deleted == 1
    assert target not in json.loads(column_values(runtime, second.table, "BLOCKED_BY")[holder] or "[]")
    assert_tables_equal_board(runtime, integration, served)


# -- 2. reconciliation off ----------------------------------------------------------------------------


def test_without_reconciliation_deleted_items_stay_until_a_full_run(runtime: Runtime, served: Served) -> None:
    board = served.board
    deleted, archived, edited = free_items(served, 3)
    integration = add(runtime, served, on_delete="delete", reconcile_every_hours=1000)
    first = replicate(runtime, integration)
    assert first.reconciled

    graphql(served, "mutation($i: ID!) { delete_item(item_id: $i) { id } }", {"i": str(deleted.id)})
    graphql(served, "mutation($i: ID!) { archive_item(item_id: $i) { id } }", {"i": str(archived.id)})
    change(served, board.id, edited.id, {"name": "Edited while reconciliation is off"})

    second = replicate(runtime, integration)

    assert second.kind == "incremental" and not second.reconciled
    assert second.deleted == 0 and second.items == 1
    assert run_detail(runtime, second).metrics["reconciled"] is False
    # documented: without reconciliation an incremental run cannot see deletions, so the rows stay
    comparisons = compare_tables(runtime, integration, served)
    gone = sorted([deleted.id, archived.id])
    gone_subs = sorted([*deleted.subitem_ids, *archived.subitem_ids])
    for role, unexpected in (("items", gone), ("subitems", gone_subs)):
        c = comparisons[role]
        assert (c.missing, c.mismatches, c.unexpected) == ([], [], unexpected), role
    assert column_values(runtime, second.table, "NAME")[edited.id] == "Edited while reconciliation is off"

    third = replicate(runtime, integration, full=True)

    assert third.kind == "full" and third.reconciled
    assert third.deleted == 2
    assert third.subitems is not None and third.subitems.deleted == 2
    assert not set(gone) & set(column_values(runtime, third.table, "NAME"))
    assert_tables_equal_board(runtime, integration, served)


# -- 3. soft deletes ----------------------------------------------------------------------------------


def test_soft_deleted_rows_keep_a_deleted_at_that_a_restore_clears(runtime: Runtime, served: Served) -> None:
    deleted, archived = free_items(served, 2)
    integration = add(runtime, served, on_delete="soft_delete")
    first = replicate(runtime, integration)
    items_table, subs_table = first.table, subitems_table(first)
    assert not any(column_values(runtime, items_table, DELETED_AT).values())

    admin(served, f"/items/{deleted.id}/delete")
    graphql(served, "mutation($i: ID!) { archive_item(item_id: $i) { id } }", {"i": str(archived.id)})

    second = replicate(runtime, integration)

    assert second.kind == "incremental" and second.reconciled and second.deleted == 2
    marks = column_values(runtime, items_table, DELETED_AT)
    assert len(marks) == 160, "soft-deleted rows stay in the table"
    assert {i for i, at in marks.items() if at is not None} == {deleted.id, archived.id}
    sub_marks = column_values(runtime, subs_table, DELETED_AT)
    assert len(sub_marks) == 160
    gone_subs = {*deleted.subitem_ids, *archived.subitem_ids}
    assert {i for i, at in sub_marks.items() if at is not None} == gone_subs
    assert_tables_equal_board(runtime, integration, served)  # the comparison skips soft-deleted rows

    admin(served, f"/items/{archived.id}/restore")

    third = replicate(runtime, integration)

    assert third.kind == "incremental"
    marks = column_values(runtime, items_table, DELETED_AT)
    assert {i for i, at in marks.items() if at is not None} == {deleted.id}
    sub_marks = column_values(runtime, subs_table, DELETED_AT)
    assert {i for i, at in sub_marks.items() if at is not None} == set(deleted.subitem_ids)
    assert_tables_equal_board(runtime, integration, served)


# -- 4. schema evolution ------------------------------------------------------------------------------


def test_columns_added_renamed_deleted_and_retyped_follow_the_board(runtime: Runtime, served: Served) -> None:
    board = served.board
    one, two, three = free_items(served, 3)
    integration = add(runtime, served)  # on_rename="keep", the default
    first = replicate(runtime, integration)
    table = first.table
    phones_before = column_values(runtime, table, "PHONE")
    assert sum(v is not None for v in phones_before.values()) > 0

    # a new column, filled on a few items
    column = admin(served, f"/boards/{board.id}/columns", {"title": "Risk score", "type": "text"})
    for item, value in ((one, "12.5"), (two, "7"), (three, "high")):
        change(served, board.id, item.id, {column["id"]: value})

    second = replicate(runtime, integration)

    assert second.kind == "full"
    assert "columns were added" in run_detail(runtime, second).metrics["reason"]
    assert second.schema_changes == {"items": {"added": ["RISK_SCORE"]}}
    assert run_detail(runtime, second).metrics["schema_changes"] == {"items": {"added": ["RISK_SCORE"]}}
    assert table_columns(runtime, table)["RISK_SCORE"] == "VARCHAR"
    risk = column_values(runtime, table, "RISK_SCORE")
    assert {i: v for i, v in risk.items() if v is not None} == {one.id: "12.5", two.id: "7", three.id: "high"}
    assert_tables_equal_board(runtime, integration, served)

    # renamed (kept by default) and deleted columns: neither needs a full run
    graphql(
        served,
        'mutation($b: ID!) { change_column_title(board_id: $b, column_id: "text", title: "Remarks") { id } }',
        {"b": str(board.id)},
    )
    graphql(
        served,
        'mutation($b: ID!) { delete_column(board_id: $b, column_id: "phone") { id } }',
        {"b": str(board.id)},
    )
    change(served, board.id, one.id, {"text": "noted after the rename"})

    third = replicate(runtime, integration)

    # the item just edited, and the two edited before the last run (within its overlap window)
    assert third.kind == "incremental" and third.items == 3
    assert third.schema_changes == {"items": {"retitled": ["NOTES"], "removed_from_board": ["PHONE"]}}
    columns = table_columns(runtime, table)
    assert "NOTES" in columns and "REMARKS" not in columns
    assert column_values(runtime, table, "NOTES")[one.id] == "noted after the rename"
    assert column_values(runtime, table, "PHONE") == phones_before, "a deleted column keeps its data"
    assert_tables_equal_board(runtime, integration, served)

    # text -> numbers: the VARCHAR column cannot hold the numbers, so a new column takes them
    admin(served, f"/boards/{board.id}/columns/{column['id']}/retype", {"type": "numbers"})

    fourth = replicate(runtime, integration)

    assert fourth.kind == "full"
    assert fourth.schema_changes == {"items": {"retyped": [("RISK_SCORE", "RISK_SCORE_NUMBERS")]}}
    columns = table_columns(runtime, table)
    assert columns["RISK_SCORE"] == "VARCHAR" and columns["RISK_SCORE_NUMBERS"].startswith("NUMBER")
    numbers = column_values(runtime, table, "RISK_SCORE_NUMBERS")
    assert {i: float(v) for i, v in numbers.items() if v is not None} == {one.id: 12.5, two.id: 7.0}
    assert column_values(runtime, table, "RISK_SCORE")[three.id] == "high", "the old column keeps its data"
    assert_tables_equal_board(runtime, integration, served)


def test_on_rename_rename_renames_the_warehouse_column_and_keeps_its_data(
    runtime: Runtime, served: Served
) -> None:
    board = served.board
    (one,) = free_items(served, 1)
    integration = add(runtime, served, on_rename="rename")
    first = replicate(runtime, integration)
    notes_before = column_values(runtime, first.table, "NOTES")
    admin(served, f"/boards/{board.id}/columns/text/rename", {"title": "Remarks"})
    with served.sandbox.lock:
        subitems = served.sandbox.subitems_board(board)
        assert subitems is not None
        served.sandbox.change_column_title(subitems.id, "numbers", "Hours spent")

    second = replicate(runtime, integration)

    assert second.kind == "incremental" and second.items == 0
    assert second.schema_changes == {
        "items": {"renamed": [("NOTES", "REMARKS")]},
        "subitems": {"renamed": [("HOURS", "HOURS_SPENT")]},
    }
    recorded = run_detail(runtime, second).metrics["schema_changes"]
    assert recorded["items"] == {"renamed": [["NOTES", "REMARKS"]]}
    columns = table_columns(runtime, first.table)
    assert "REMARKS" in columns and "NOTES" not in columns
    assert column_values(runtime, first.table, "REMARKS") == notes_before
    assert "HOURS_SPENT" in table_columns(runtime, subitems_table(first))
    assert_tables_equal_board(runtime, integration, served)

    change(served, board.id, one.id, {"text": "after the rename"})
    third = replicate(runtime, integration)
    assert third.kind == "incremental" and not third.schema_changes
    assert column_values(runtime, first.table, "REMARKS")[one.id] == "after the rename"
    assert_tables_equal_board(runtime, integration, served)


# -- 5. edits during a run ----------------------------------------------------------------------------


def test_an_item_edited_during_a_run_is_picked_up_by_that_run_or_the_next(
    runtime: Runtime, served: Served
) -> None:
    board, sandbox = served.board, served.sandbox
    runtime.settings.monday.page_size = 20
    order = [
        int(item["id"])
        for item in graphql(
            served, "query($b: [ID!]) { boards(ids: $b) { items_page(limit: 500) { items { id } } } }",
            {"b": [str(board.id)]},
        )["boards"][0]["items_page"]["items"]
    ]  # fmt: skip
    assert len(order) == 160
    integration = add(runtime, served, include_subitems=False)
    calls: list[int] = []
    # edited once the first page is handed over: one item on that page, one on the last page
    edits: dict[str, Any] = {"read": order[3], "unread": order[-3], "name": "edited in flight, run 1"}

    def edit_after_first_page(done: int, expected: int | None) -> None:
        calls.append(done)
        if len(calls) == 1:
            with sandbox.lock:
                sandbox.change_column_values(board.id, edits["read"], {"name": edits["name"]})
                sandbox.change_column_values(board.id, edits["unread"], {"name": "edited before it was read"})

    first = replicate(runtime, integration, progress=edit_after_first_page)

    assert first.kind == "full" and calls == [20 * n for n in range(1, 9)]
    names = column_values(runtime, first.table, "NAME")
    assert names[order[-3]] == "edited before it was read"  # this run saw it
    # this run had already read the other one: the table is behind the board on that cell only
    mismatches = compare_tables(runtime, integration, served)["items"].mismatches
    assert {i for i, *_ in mismatches} == {order[3]} and "NAME" in {c for _, c, *_ in mismatches}

    # an incremental run over several pages: 32 edited items (+2 from above), edited in flight too
    changed = order[::5]
    for item_id in changed:
        change(served, board.id, item_id, {"text": f"batch edit {item_id}"})
    calls.clear()
    edits.update(read=changed[1], unread=changed[-1], name="edited in flight, run 2")

    second = replicate(runtime, integration, progress=edit_after_first_page)

    assert second.kind == "incremental" and second.items == 34 and calls == [20, 34]
    names = column_values(runtime, first.table, "NAME")
    assert names[order[3]] == "edited in flight, run 1", "the next run picks up what a run missed"
    assert names[changed[-1]] == "edited before it was read"
    mismatches = compare_tables(runtime, integration, served)["items"].mismatches
    assert {i for i, *_ in mismatches} == {changed[1]} and "NAME" in {c for _, c, *_ in mismatches}

    third = replicate(runtime, integration)

    assert third.kind == "incremental"
    assert column_values(runtime, first.table, "NAME")[changed[1]] == "edited in flight, run 2"
    assert_tables_equal_board(runtime, integration, served)


# -- 6. unreadable subitems board ---------------------------------------------------------------------


def test_an_unreadable_subitems_board_fails_its_step_and_the_items_still_sync(
    runtime: Runtime, served: Served
) -> None:
    board = served.board
    subs = sub_board_id(served)
    item, parent = free_items(served, 2)
    integration = add(runtime, served)
    replicate(runtime, integration)
    assert_tables_equal_board(runtime, integration, served)

    admin(served, "/faults", {"token": TOKEN, "hidden_boards": [subs]})
    change(served, board.id, item.id, {"name": "Edited while subitems are hidden"})
    (sub,) = parent.subitem_ids
    with served.sandbox.lock:
        served.sandbox.change_column_values(subs, sub, {"name": "Subitem edited while hidden"})

    second = replicate(runtime, integration)

    assert second.kind == "incremental" and second.items == 1
    assert second.subitems is None
    assert second.subitems_error is not None
    assert f"the subitems board {subs} cannot be read" in second.subitems_error
    run = run_detail(runtime, second)
    assert run.status == "COMPLETED" and run.error_class == "partial"
    assert run.error == second.subitems_error
    assert {s.name: s.status for s in run.subtasks} == {
        "fetch": "COMPLETED", "load": "COMPLETED", "subitems": "FAILED",
    }  # fmt: skip
    assert next(s for s in run.subtasks if s.name == "subitems").error == second.subitems_error
    assert items_table_equals_board(runtime, integration, served)  # the subitems board cannot be read
    assert column_values(runtime, second.table, "NAME")[item.id] == "Edited while subitems are hidden"

    admin(served, "/faults", {"token": TOKEN, "hidden_boards": []})

    third = replicate(runtime, integration)

    assert third.kind == "incremental" and third.subitems_error is None
    assert third.subitems is not None and third.subitems.updated == 1
    assert {s.status for s in run_detail(runtime, third).subtasks} == {"COMPLETED"}
    names = column_values(runtime, subitems_table(third), "NAME")
    assert names[sub] == "Subitem edited while hidden"
    assert_tables_equal_board(runtime, integration, served)


# -- 7. colliding names -------------------------------------------------------------------------------


def test_titles_that_sanitise_alike_are_told_apart_deterministically(
    runtime: Runtime, served: Served
) -> None:
    board = served.board
    one, two = free_items(served, 2)
    integration = add(runtime, served)
    first = replicate(runtime, integration)
    # "Due date" is already the date column's title (id "date", warehouse DUE_DATE)
    for column_id, title, kind in (
        ("due_b", "due-date", "numbers"),
        ("due_a", "Due date", "text"),
        ("go_live_at", "go live", "date"),
        ("golive", "Go-Live", "text"),
    ):
        admin(served, f"/boards/{board.id}/columns", {"id": column_id, "title": title, "type": kind})
    values = {"due_a": "soon", "due_b": "4", "golive": "Q3", "go_live_at": {"date": "2026-09-01"}}
    change(served, board.id, one.id, values)
    change(served, board.id, two.id, {"due_a": "later", "due_b": "-1.5"})

    second = replicate(runtime, integration)

    assert second.kind == "full"
    expected = {
        "due_a": "DUE_DATE__DUE_A",
        "due_b": "DUE_DATE__DUE_B",
        "go_live_at": "GO_LIVE__GO_LIVE_AT",
    }
    assert second.schema_changes["items"]["collisions"] == expected
    assert sorted(second.schema_changes["items"]["added"]) == sorted([*expected.values(), "GO_LIVE"])
    columns = table_columns(runtime, first.table)
    assert "DUE_DATE" in columns and columns["GO_LIVE"] == "VARCHAR"
    assert columns["DUE_DATE__DUE_A"] == "VARCHAR" and columns["DUE_DATE__DUE_B"].startswith("NUMBER")
    assert column_values(runtime, first.table, "DUE_DATE__DUE_A")[one.id] == "soon"
    assert column_values(runtime, first.table, "GO_LIVE")[one.id] == "Q3"
    assert_tables_equal_board(runtime, integration, served)

    # the same board planned afresh, by another integration, gives the same names
    other = add(runtime, served, name="again", table="PROJECTS_AGAIN")
    again = replicate(runtime, other)
    collisions = again.schema_changes["items"]["collisions"]
    assert {column_id: collisions.get(column_id) for column_id in expected} == expected
    assert set(table_columns(runtime, again.table)) == set(columns)
    assert_tables_equal_board(runtime, other, served)
