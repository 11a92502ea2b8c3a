"""Full replication end to end: the sandbox over HTTP -> the product -> the embedded warehouse."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import TOKEN, Served

from monday_snowflake.errors import AlreadyRunningError, AuthenticationError, NotFoundError, TransientError
from monday_snowflake.integrations import create_integration
from monday_snowflake.model import Integration, IntegrationOptions
from monday_snowflake.runtime import Runtime
from monday_snowflake.snowflake.naming import quote_identifier
from monday_snowflake.sync.layout import plan_table
from monday_snowflake.sync.replicate import BoardReplicator, ReplicationResult
from monday_snowflake.sync.verify import Comparison, compare_board_and_table


def add(runtime: Runtime, served: Served, **options: Any) -> Integration:
    return create_integration(
        runtime, board_id=str(served.board.id), monday_token=TOKEN, monday_url=served.api_url, **options
    )


def replicate(runtime: Runtime, integration: Integration, *, full: bool = False) -> ReplicationResult:
    return asyncio.run(runtime.replicator().replicate(integration.id, full=full))


def compare(runtime: Runtime, integration: Integration, served: Served) -> Comparison:
    async def run() -> Comparison:
        async with runtime.monday_client(TOKEN, served.api_url) as client:
            layout = plan_table(integration, await client.get_board(integration.board_id))
            warehouse = runtime.open_warehouse(integration.snowflake_connection_id)
            try:
                return await compare_board_and_table(client, integration.board_id, layout, warehouse)
            finally:
                warehouse.close()

    return asyncio.run(run())


def table_rows(runtime: Runtime, result: ReplicationResult) -> list[dict[str, Any]]:
    t = result.table
    target = ".".join(quote_identifier(p) for p in (t.database, t.schema, t.name))
    warehouse = runtime.open_warehouse()
    try:
        names, rows = warehouse.query(f"SELECT * FROM {target} ORDER BY ITEM_ID")
    finally:
        warehouse.close()
    return [dict(zip(names, row, strict=True)) for row in rows]


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


def test_full_run_makes_the_table_equal_the_board(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served)
    result = replicate(runtime, integration)

    active = served.sandbox.active_items(served.board)
    assert result.items == len(active) == result.inserted
    comparison = compare(runtime, integration, served)
    assert comparison.ok, (comparison.missing, comparison.unexpected, comparison.mismatches[:5])
    assert comparison.table_rows == len(active)

    # Independently of the decoders: the awkward raw values the sandbox stores arrive exactly.
    rows = {row["ITEM_ID"]: row for row in table_rows(runtime, result)}
    columns = {c.type: c for c in served.board.columns.values()}
    layout_names = {
        m.source.id: m.target.name
        for m in plan_table(integration, asyncio.run(_board_spec(runtime, served))).mapped
    }
    text_col, long_col, num_col = columns["text"], columns["long_text"], columns["numbers"]
    status_col, check_col = columns["status"], columns["checkbox"]
    labels = {label["id"]: label["label"] for label in status_col.settings["labels"]}
    seen_awkward = seen_decimal = 0
    for item in active:
        row = rows[item.id]
        assert row["NAME"] == item.name
        assert row["GROUP_ID"] == item.group_id
        assert row[layout_names[text_col.id]] == (item.values.get(text_col.id) or None)
        long_text = item.values.get(long_col.id)
        assert row[layout_names[long_col.id]] == (
            long_text["text"] if long_text and long_text["text"] else None
        )
        number = item.values.get(num_col.id)
        if number not in (None, ""):
            assert Decimal(str(row[layout_names[num_col.id]])) == Decimal(number)
            seen_decimal += "." in number or number.startswith("-")
        else:
            assert row[layout_names[num_col.id]] is None
        status = item.values.get(status_col.id)
        if status is not None:
            assert row[layout_names[status_col.id]] == labels[status["index"]]
        assert row[layout_names[check_col.id]] is (item.values.get(check_col.id) is not None)
        text = item.values.get(text_col.id) or ""
        seen_awkward += any(ch in text for ch in ',"\n') or any(ord(ch) > 127 for ch in text)
    assert seen_awkward > 0 and seen_decimal > 0, "the seeded board should hold awkward values"

    runs = runtime.store.list_runs(integration.id)
    assert [run.status for run in runs] == ["COMPLETED"]
    run = runtime.store.get_run(runs[0].id)
    assert run.rows_processed == len(active)
    assert {s.name: s.status for s in run.subtasks} == {"fetch": "COMPLETED", "load": "COMPLETED"}
    assert run.kind == "full" and run.metrics["reason"] == "first run"
    assert run.throughput and run.throughput > 0


async def _board_spec(runtime: Runtime, served: Served) -> Any:
    async with runtime.monday_client(TOKEN, served.api_url) as client:
        return await client.get_board(str(served.board.id))


def test_second_full_run_removes_items_gone_from_the_board(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served)
    first = replicate(runtime, integration)
    active = served.sandbox.active_items(served.board)
    deleted, archived = [str(active[0].id), str(active[5].id)], str(active[9].id)
    for item_id in deleted:
        graphql(served, "mutation($id: ID!) { delete_item(item_id: $id) { id } }", {"id": item_id})
    graphql(served, "mutation($id: ID!) { archive_item(item_id: $id) { id } }", {"id": archived})
    graphql(
        served,
        'mutation($b: ID!) { create_item(board_id: $b, item_name: "Brand new, \\"quoted\\"") { id } }',
        {"b": str(served.board.id)},
    )

    second = replicate(runtime, integration, full=True)

    assert second.kind == "full"
    assert second.deleted == 3
    assert second.inserted == 1
    remaining = {row["ITEM_ID"] for row in table_rows(runtime, second)}
    assert remaining.isdisjoint({int(i) for i in [*deleted, archived]})
    assert len(remaining) == first.items - 3 + 1
    assert compare(runtime, integration, served).ok


def test_a_run_twice_over_changes_nothing(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served)
    first = replicate(runtime, integration)
    before = [{k: v for k, v in r.items() if k != "_SYNCED_AT"} for r in table_rows(runtime, first)]
    second = replicate(runtime, integration)
    after = [{k: v for k, v in r.items() if k != "_SYNCED_AT"} for r in table_rows(runtime, second)]
    assert second.inserted == 0 and second.deleted == 0
    assert before == after


def test_unknown_board_is_refused_with_its_id(runtime: Runtime, served: Served) -> None:
    with pytest.raises(NotFoundError, match="board 987654321"):
        create_integration(runtime, board_id="987654321", monday_token=TOKEN, monday_url=served.api_url)


def test_mapping_a_column_the_board_lacks_is_refused(runtime: Runtime, served: Served) -> None:
    with pytest.raises(Exception, match="no column"):
        add(runtime, served, column_ids=["text", "no_such_column"])


def test_bad_token_fails_the_run_with_a_permanent_error_in_history(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served)
    runtime.store.set_connection_secret(integration.monday_connection_id, {"token": "revoked-token"})

    with pytest.raises(AuthenticationError) as caught:
        replicate(runtime, integration)

    assert "revoked-token" not in str(caught.value)
    (run,) = runtime.store.list_runs(integration.id)
    assert run.status == "FAILED"
    assert run.error_class == "permanent"
    assert run.error and "revoked-token" not in run.error


def test_a_second_run_while_one_holds_the_lock_is_already_running(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served)
    token = runtime.store.acquire_lock(integration.id, "someone-else", 60)
    try:
        with pytest.raises(AlreadyRunningError, match="already running"):
            replicate(runtime, integration)
    finally:
        runtime.store.release_lock(integration.id, token)
    assert replicate(runtime, integration).items > 0


def test_hostile_board_and_column_names_become_quoted_identifiers(runtime: Runtime, served: Served) -> None:
    hostile = 'x"; DROP TABLE t; --'
    served.board.name = hostile
    served.sandbox.create_column(served.board.id, hostile, "text", column_id="hostile")
    graphql(
        served,
        "mutation($b: ID!, $i: ID!, $v: JSON!) { change_multiple_column_values(board_id: $b, "
        "item_id: $i, column_values: $v) { id } }",
        {
            "b": str(served.board.id),
            "i": str(served.sandbox.active_items(served.board)[0].id),
            "v": json.dumps({"hostile": "Robert'); DROP TABLE students;--"}),
        },
    )
    derived = add(runtime, served, name="derived")
    verbatim = add(runtime, served, name="verbatim", table=hostile)
    first = replicate(runtime, derived)
    second = replicate(runtime, verbatim)

    assert first.table.name == "X_DROP_TABLE_T"
    assert second.table.name == hostile
    for result in (first, second):
        rows = table_rows(runtime, result)
        assert len(rows) == result.items
        assert "Robert'); DROP TABLE students;--" in {r.get("X_DROP_TABLE_T") for r in rows}
    assert compare(runtime, replace(verbatim, target_table=hostile), served).ok


def test_unreachable_warehouse_fails_the_run_clearly_after_retries(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served)
    config = runtime.store.get_connection(integration.snowflake_connection_id).config
    broken = runtime.store.create_connection(
        integration.account_id,
        "snowflake",
        "nowhere",
        {
            **config,
            "mode": "snowflake",
            "account": "nowhere.invalid",
            "user": "u",
            "authenticator": "password",
            "login_timeout_seconds": 2,
        },
        {"password": "pw"},
    )
    integration = runtime.store.create_integration(
        account_id=integration.account_id,
        name="nowhere",
        board_id=integration.board_id,
        monday_connection_id=integration.monday_connection_id,
        snowflake_connection_id=broken.id,
        target_database=integration.target_database,
        target_schema=integration.target_schema,
    )
    runtime.settings.snowflake.max_attempts = 2
    runtime.settings.snowflake.backoff_base_seconds = 0.1
    with pytest.raises(TransientError) as caught:
        replicate(runtime, integration)
    assert caught.value.details.get("attempts") == 2
    (run,) = runtime.store.list_runs(integration.id)
    assert run.status == "FAILED"
    assert run.error_class == "transient"
    assert "pw" not in (run.error or "").split()
    assert "Traceback" not in str(caught.value)


def test_a_transient_failure_while_staging_loads_again_from_the_files(
    runtime: Runtime, served: Served
) -> None:
    integration = add(runtime, served)
    blips: list[str] = []

    def flaky_warehouse(connection_id: str) -> Any:
        """The real warehouse, whose first load fails to stage its first file, as a network blip would."""
        warehouse = runtime.open_warehouse(connection_id)
        if not blips:
            begin_load = warehouse.begin_load

            def failing_begin_load(*args: Any, **kwargs: Any) -> Any:
                load = begin_load(*args, **kwargs)

                def add_file(path: Any) -> None:
                    blips.append(str(path))
                    raise TransientError("connection reset while staging")

                load.add_file = add_file  # type: ignore[method-assign]
                return load

            warehouse.begin_load = failing_begin_load  # type: ignore[method-assign]
        return warehouse

    replicator = BoardReplicator(runtime.settings, runtime.store, runtime.monday_client, flaky_warehouse)
    result = asyncio.run(replicator.replicate(integration.id))

    assert blips, "the fault was not injected"
    assert result.items == len(served.sandbox.active_items(served.board)) == result.inserted
    assert compare(runtime, integration, served).ok
    (run,) = runtime.store.list_runs(integration.id)
    assert run.status == "COMPLETED"


def test_kept_labels_land_beside_email_addresses(runtime: Runtime, served: Served) -> None:
    integration = add(runtime, served, options=IntegrationOptions(keep_labels=True))
    result = replicate(runtime, integration)
    assert compare(runtime, integration, served).ok
    email = next(c for c in served.board.columns.values() if c.type == "email")
    names = {
        m.source.id: m.target.name
        for m in plan_table(integration, asyncio.run(_board_spec(runtime, served))).mapped
    }
    rows = {row["ITEM_ID"]: row for row in table_rows(runtime, result)}
    checked = 0
    for item in served.sandbox.active_items(served.board):
        stored = item.values.get(email.id)
        cell = rows[item.id][names[email.id]]
        if stored:
            assert json.loads(cell) == {"email": stored["email"], "label": stored.get("text") or None}
            checked += 1
        else:
            assert cell is None
    assert checked > 0
