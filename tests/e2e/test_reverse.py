"""Reverse sync end to end: Snowflake rows in the embedded warehouse -> the product -> a sandbox board
over HTTP. After each run the board is read back over the API and compared with the source rows, and
a second run must send nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import TOKEN, Served
from tests.e2e.test_api import api_settings, finished_run, serving

from monday_sandbox.model import Board
from monday_snowflake.errors import AlreadyRunningError, ConfigurationError
from monday_snowflake.integrations import create_integration
from monday_snowflake.model import Integration, IntegrationOptions, ReverseSpec
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.monday.queries import Shape
from monday_snowflake.reverse.sync import ReverseResult
from monday_snowflake.runtime import Runtime
from monday_snowflake.snowflake.naming import quote_identifier
from monday_snowflake.sync.state import SyncState

COLUMNS = (
    "CODE VARCHAR, TITLE VARCHAR, AMOUNT NUMBER(12,2), STAGE VARCHAR, DUE DATE, DONE BOOLEAN, OWNER VARCHAR"
)
USERS = {"ada@example.com": "Ada", "grace@example.com": "Grace"}


class Accounts:
    """A board of accounts made for these tests, and the ids of its columns."""

    def __init__(self, served: Served) -> None:
        sandbox = served.sandbox
        self.served = served
        self.board: Board = sandbox.create_board("Accounts", default_group=True)
        self.later = sandbox.create_group(self.board.id, "Later").id
        self.code = sandbox.create_column(self.board.id, "Code", "text").id
        self.amount = sandbox.create_column(self.board.id, "Amount", "numbers").id
        self.stage = sandbox.create_column(
            self.board.id,
            "Stage",
            "status",
            {"labels": [{"id": 1, "label": "Open"}, {"id": 2, "label": "Won"}]},
        ).id
        self.due = sandbox.create_column(self.board.id, "Due", "date").id
        self.done = sandbox.create_column(self.board.id, "Done", "checkbox").id
        self.owner = sandbox.create_column(self.board.id, "Owner", "people").id
        self.errors = sandbox.create_column(self.board.id, "Sync errors", "long_text").id
        self.formula = sandbox.create_column(self.board.id, "Total", "formula").id
        for email, name in USERS.items():
            sandbox.create_user(name, email)

    def mapping(self) -> dict[str, str]:
        return {"TITLE": "name", "AMOUNT": self.amount, "STAGE": self.stage, "DUE": self.due,
                "DONE": self.done, "OWNER": self.owner}  # fmt: skip

    def items(self) -> list[Any]:
        return self.served.sandbox.active_items(self.board)


@pytest.fixture
def accounts(served: Served) -> Accounts:
    return Accounts(served)


@pytest.fixture
def source(runtime: Runtime) -> Iterator[str]:
    """A fresh source table in the test's own schema; yields its qualified name."""
    settings = runtime.settings.snowflake
    name = ".".join(quote_identifier(p) for p in (settings.database, settings.schema_name, "ACCOUNTS_SRC"))
    warehouse = runtime.open_warehouse()
    try:
        warehouse.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(settings.database)}."
                          f"{quote_identifier(settings.schema_name)}")  # fmt: skip
        warehouse.execute(f"CREATE OR REPLACE TABLE {name} ({COLUMNS})")
    finally:
        warehouse.close()
    yield name


def put_rows(runtime: Runtime, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Replace the source table's rows (values as bind parameters)."""
    warehouse = runtime.open_warehouse()
    try:
        warehouse.execute(f"DELETE FROM {table}")
        for row in rows:  # decimals as text: fakesnow's server binds them as integers
            values = [str(v) if isinstance(v, Decimal) else v for v in row]
            warehouse.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?)", values)
    finally:
        warehouse.close()


def rows_of(count: int, start: int = 0) -> list[tuple[Any, ...]]:
    owners = list(USERS)
    return [
        (f"A-{n:04d}", f"Account {n}", Decimal(n * 10) + Decimal("0.5"), "Open" if n % 2 else "Won",
         dt.date(2026, 1, 1) + dt.timedelta(days=n), n % 3 == 0, owners[n % 2])
        for n in range(start, start + count)
    ]  # fmt: skip


def add_reverse(
    runtime: Runtime, served: Served, accounts: Accounts, table: str, **choices: Any
) -> Integration:
    spec = ReverseSpec(
        source=choices.pop("source", table),
        key_column="CODE",
        key_target=accounts.code,
        mapping=choices.pop("mapping", accounts.mapping()),
        **choices,
    )
    return create_integration(
        runtime,
        board_id=str(accounts.board.id),
        monday_token=TOKEN,
        monday_url=served.api_url,
        options=IntegrationOptions(display_errors_column=accounts.errors),
        reverse=spec,
    )


def run(runtime: Runtime, integration: Integration) -> ReverseResult:
    return asyncio.run(runtime.reverse_syncer().run(integration.id))


def board_view(runtime: Runtime, served: Served, accounts: Accounts) -> dict[str, dict[str, Any]]:
    """The board as the API shows it: code -> name, group and the text of each column."""

    async def read() -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        async with runtime.monday_client(TOKEN, served.api_url) as client:
            async for page in client.iter_item_pages(str(accounts.board.id), shape=Shape.ITEMS):
                for item in page:
                    texts = {c["id"]: c.get("text") or "" for c in item["column_values"]}
                    code = texts[accounts.code]
                    assert code not in found, f"two items have the key {code}"
                    found[code] = {"name": item["name"], "group": item["group"]["id"], **texts}
        return found

    return asyncio.run(read())


def assert_board_matches(
    runtime: Runtime, served: Served, accounts: Accounts, rows: list[tuple[Any, ...]]
) -> None:
    view = board_view(runtime, served, accounts)
    assert sorted(view) == sorted(r[0] for r in rows)
    for code, title, amount, stage, due, done, owner in rows:
        item = view[code]
        assert item["name"] == title
        assert Decimal(item[accounts.amount]) == amount
        assert item[accounts.stage] == stage
        assert item[accounts.due].startswith(due.isoformat())
        assert bool(item[accounts.done]) == done
        assert item[accounts.owner] == USERS[owner]


# -- the round trip -------------------------------------------------------------------------------------


def test_rows_become_items_and_a_second_run_sends_nothing(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    rows = rows_of(30)
    put_rows(runtime, source, rows)
    integration = add_reverse(runtime, served, accounts, source, group_id=accounts.later)
    first = run(runtime, integration)
    assert (first.rows_read, first.created, first.updated, first.failed) == (30, 30, 0, 0), first.errors
    assert first.requests < first.mutations  # batched
    assert_board_matches(runtime, served, accounts, rows)
    assert {i["group"] for i in board_view(runtime, served, accounts).values()} == {accounts.later}

    again = run(runtime, integration)
    assert (again.mutations, again.requests, again.unchanged) == (0, 0, 30)
    history = runtime.store.list_runs(integration.id, limit=5)
    assert [r.kind for r in history] == ["reverse", "reverse"]
    assert history[0].metrics["mutations"] == 0 and history[1].metrics["created"] == 30


def test_only_changed_columns_of_changed_rows_are_sent(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    rows = rows_of(20)
    put_rows(runtime, source, rows)
    integration = add_reverse(runtime, served, accounts, source)
    run(runtime, integration)
    sent: list[dict[str, Any]] = []
    changed = list(rows)
    changed[3] = (*rows[3][:2], Decimal("999.25"), *rows[3][3:])
    changed[7] = (rows[7][0], "Renamed", *rows[7][2:4], rows[7][4], not rows[7][5], rows[7][6])
    put_rows(runtime, source, changed)
    before = {i.id: dict(i.values) for i in accounts.items()}

    result = run(runtime, integration)
    assert (result.updated, result.created, result.unchanged, result.mutations) == (2, 0, 18, 2)
    assert_board_matches(runtime, served, accounts, changed)
    after = {i.id: dict(i.values) for i in accounts.items()}
    differing = {item_id for item_id in after if after[item_id] != before[item_id]}
    assert len(differing) == 2
    for item_id in differing:  # the other columns of a changed item were not rewritten
        untouched = {c for c in before[item_id] if c not in (accounts.amount, accounts.done)}
        assert {c: after[item_id].get(c) for c in untouched} == {c: before[item_id][c] for c in untouched}
    del sent


def test_a_replicated_table_edited_in_the_warehouse_goes_back_to_its_board(
    runtime: Runtime, served: Served
) -> None:
    """Replicate the seeded board, change rows in its table, reverse-sync by ITEM_ID: the board then
    equals the table, and a forward run after it changes nothing."""
    board = served.board
    text_id = next(c.id for c in board.columns.values() if c.type == "text")
    numbers_id = next(c.id for c in board.columns.values() if c.type == "numbers")
    forward = create_integration(
        runtime, board_id=str(board.id), monday_token=TOKEN, monday_url=served.api_url,
        column_ids=[text_id, numbers_id], name="forward",
    )  # fmt: skip
    replicated = asyncio.run(runtime.replicator().replicate(forward.id))
    table = ".".join(quote_identifier(p) for p in (replicated.table.database, replicated.table.schema,
                                                    replicated.table.name))  # fmt: skip
    warehouse = runtime.open_warehouse()
    try:
        stored = SyncState.from_json(runtime.store.sync_state(forward.id)).columns("items")
        names = {c.column_id: c.name for c in stored}
        text_col, number_col = names[text_id], names[numbers_id]
        warehouse.execute(f"UPDATE {table} SET {quote_identifier(text_col)} = 'edited in snowflake' "
                          f"WHERE ITEM_ID % 5 = 0")  # fmt: skip
        warehouse.execute(f"UPDATE {table} SET {quote_identifier(number_col)} = -1.5 WHERE ITEM_ID % 7 = 0")
        _, edited = warehouse.query(f"SELECT COUNT(*) FROM {table} WHERE ITEM_ID % 5 = 0 OR ITEM_ID % 7 = 0")
    finally:
        warehouse.close()
    reverse = create_integration(
        runtime, board_id=str(board.id), monday_token=TOKEN, monday_url=served.api_url, name="back",
        reverse=ReverseSpec(source=table, key_column="ITEM_ID", key_target="item_id",
                            mapping={"NAME": "name", text_col: text_id, number_col: numbers_id},
                            create_missing=False),
    )  # fmt: skip
    result = run(runtime, reverse)
    assert result.failed == 0, result.errors
    assert result.updated == edited[0][0] and result.created == 0
    for item in served.sandbox.active_items(board):
        if item.id % 5 == 0:
            assert (item.values.get(text_id) or "") == "edited in snowflake"
    assert run(runtime, reverse).mutations == 0
    # the board now holds what the table held: a fresh full replication reads the edits back
    asyncio.run(runtime.replicator().replicate(forward.id, full=True))
    warehouse = runtime.open_warehouse()
    try:
        _, counts = warehouse.query(
            f"SELECT COUNT_IF({quote_identifier(text_col)} = 'edited in snowflake'), "
            f"COUNT_IF({quote_identifier(number_col)} = -1.5) FROM {table}"
        )
        _, expected = warehouse.query(
            f"SELECT COUNT_IF(ITEM_ID % 5 = 0), COUNT_IF(ITEM_ID % 7 = 0) FROM {table}"
        )
    finally:
        warehouse.close()
    assert counts == expected


# -- options ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("archive_missing", [True, False])
def test_rows_gone_from_the_source_archive_their_items_only_when_asked(
    runtime: Runtime, served: Served, accounts: Accounts, source: str, archive_missing: bool
) -> None:
    rows = rows_of(10)
    put_rows(runtime, source, rows)
    integration = add_reverse(runtime, served, accounts, source, archive_missing=archive_missing)
    run(runtime, integration)
    put_rows(runtime, source, rows[2:])
    result = run(runtime, integration)
    assert result.archived == (2 if archive_missing else 0)
    codes = set(board_view(runtime, served, accounts))
    assert codes == {r[0] for r in (rows[2:] if archive_missing else rows)}


def test_create_and_update_can_be_switched_off(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    rows = rows_of(6)
    put_rows(runtime, source, rows[:3])
    integration = add_reverse(runtime, served, accounts, source)
    run(runtime, integration)
    no_create = add_reverse_named(runtime, served, accounts, source, "no-create", create_missing=False)
    no_update = add_reverse_named(runtime, served, accounts, source, "no-update", update_existing=False)
    put_rows(runtime, source, [(rows[0][0], "Changed", *rows[0][2:]), *rows[1:]])
    assert run(runtime, no_create).created == 0
    assert run(runtime, no_update).updated == 0
    view = board_view(runtime, served, accounts)
    assert view[rows[0][0]]["name"] == "Changed"  # no_create updates
    assert set(view) == {r[0] for r in rows}  # no_update creates


def add_reverse_named(
    runtime: Runtime, served: Served, accounts: Accounts, table: str, name: str, **choices: Any
) -> Integration:
    spec = ReverseSpec(source=table, key_column="CODE", key_target=accounts.code, mapping=accounts.mapping(),
                       **choices)  # fmt: skip
    return create_integration(runtime, board_id=str(accounts.board.id), monday_token=TOKEN,
                              monday_url=served.api_url, name=name, reverse=spec)  # fmt: skip


def test_a_select_with_a_filter_is_the_source(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    rows = rows_of(12)
    put_rows(runtime, source, rows)
    query = f"SELECT CODE, UPPER(TITLE) AS TITLE, AMOUNT, STAGE, DUE, DONE, OWNER FROM {source}"
    integration = add_reverse(runtime, served, accounts, source, source=query, filter="STAGE = 'Won'")
    result = run(runtime, integration)
    won = [(r[0], r[1].upper(), *r[2:]) for r in rows if r[3] == "Won"]
    assert result.created == len(won)
    assert_board_matches(runtime, served, accounts, won)


# -- bad input and failures --------------------------------------------------------------------------------


def test_bad_recipes_are_refused_on_save_with_a_clear_message(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    put_rows(runtime, source, rows_of(3))
    cases = {
        "only a SELECT": {"source": f"DELETE FROM {source}"},
        "exactly one statement": {"source": f"SELECT * FROM {source}; DROP TABLE {source}"},
        "must not write": {"source": f"SELECT * INTO X FROM {source}"},
        "no column 'NOPE'": {"mapping": {"NOPE": accounts.amount}},
        "no column 'missing_col'": {"mapping": {"AMOUNT": "missing_col"}},
        "does not let the API write": {"mapping": {"AMOUNT": accounts.formula}},
        "TITLE": {"mapping": {"TITLE": accounts.amount}},  # text that is not a number
        "no group": {"group_id": "nowhere"},
        "filter": {"filter": "1=1) OR (1=1"},
    }
    for expected, choices in cases.items():
        with pytest.raises(ConfigurationError, match=expected):
            add_reverse(runtime, served, accounts, source, **choices)
    assert runtime.store.list_integrations() == []


def test_duplicate_keys_and_bad_values_fail_their_rows_only_and_show_on_the_item(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    rows = rows_of(8)
    put_rows(runtime, source, rows)
    integration = add_reverse(runtime, served, accounts, source)
    run(runtime, integration)
    broken = list(rows)
    broken[1] = (*rows[1][:6], "nobody@example.com")  # no such user: fails before sending
    broken.append((rows[2][0], "A second A-0002", *rows[2][2:]))  # a key twice in the source
    put_rows(runtime, source, broken)
    result = run(runtime, integration)
    failed = {e["key"] for e in result.errors}
    assert failed == {rows[1][0], rows[2][0]}, result.errors
    assert result.failed == 2
    assert any("nobody@example.com" in e["error"] for e in result.errors)
    view = board_view(runtime, served, accounts)
    assert "could not sync" in view[rows[1][0]][accounts.errors]
    assert view[rows[0][0]][accounts.errors] == ""
    assert len(view) == 8  # nothing created for the duplicate

    put_rows(runtime, source, rows)  # fixed: the error is cleared, and then nothing is sent
    fixed = run(runtime, integration)
    assert fixed.failed == 0 and fixed.updated == 1
    assert board_view(runtime, served, accounts)[rows[1][0]][accounts.errors] == ""
    assert run(runtime, integration).mutations == 0


def test_a_value_monday_refuses_fails_that_row_and_the_rest_of_its_batch_goes_through(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    rows = rows_of(6)
    put_rows(runtime, source, rows)
    integration = add_reverse(runtime, served, accounts, source)
    run(runtime, integration)
    # a status column holds at most 40 labels: fill it, and a new label is refused by monday itself
    stage = served.sandbox.get_column(accounts.board.id, accounts.stage)
    labels = ["Open", "Won", *(f"Label {k}" for k in range(38))]
    stage.settings["labels"] = [{"id": n, "label": label} for n, label in enumerate(labels, start=1)]
    changed = [(r[0], r[1], r[2] + 1, *r[3:]) for r in rows]
    changed[2] = (*changed[2][:3], "Brand new stage", *changed[2][4:])
    put_rows(runtime, source, changed)
    result = run(runtime, integration)
    assert result.requests == 2  # the batch, then the error shown on the item
    assert [e["key"] for e in result.errors] == [rows[2][0]]
    assert "40" in result.errors[0]["error"]
    assert result.updated == 5 and result.failed == 1
    view = board_view(runtime, served, accounts)
    assert "could not sync" in view[rows[2][0]][accounts.errors]
    assert Decimal(view[rows[2][0]][accounts.amount]) == rows[2][2]  # the refused row changed nothing
    assert all(Decimal(view[r[0]][accounts.amount]) == r[2] for r in changed if r[0] != rows[2][0])


def test_a_run_killed_midway_creates_no_duplicates_when_run_again(
    runtime: Runtime, served: Served, accounts: Accounts, source: str, tmp_path: Path
) -> None:
    rows = rows_of(120)
    put_rows(runtime, source, rows)
    integration = add_reverse(runtime, served, accounts, source)
    faults = served.server.runtime.faults
    faults.configure(latency_ms=250)  # every request is slow: the run takes seconds
    env = {**os.environ, **_env_of(runtime)}
    cli = [str(Path(sys.executable).parent / "monday-snowflake"), "sync", "run", integration.name]
    process = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(accounts.items()) < 30 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    faults.clear()
    # the killed run's lock stays held for its TTL (30 minutes), far longer than any request it had in
    # flight can take (monday times out at 60 s): the next run starts after those writes landed.
    # Here the lock is given up by hand, once the sandbox has finished the request it was sleeping on.
    time.sleep(1.0)
    created_before = len(accounts.items())
    assert 0 < created_before < len(rows), created_before
    runtime.store.release_lock(integration.id, runtime.store.get_lock(integration.id).token)  # type: ignore[union-attr]
    result = run(runtime, integration)
    assert result.created == len(rows) - created_before
    assert_board_matches(runtime, served, accounts, rows)


def test_an_exhausted_complexity_budget_is_waited_out_and_the_run_finishes(
    runtime: Runtime, served: Served, accounts: Accounts, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = rows_of(40)
    put_rows(runtime, source, rows)
    integration = add_reverse(runtime, served, accounts, source)
    waits: list[float] = []

    async def on_the_sandbox_clock(seconds: float) -> None:
        waits.append(seconds)
        served.sandbox.clock.advance(seconds)

    def client(token: str, api_url: str | None = None, renew_token: Any = None) -> MondayClient:
        return MondayClient(runtime.settings.monday.model_copy(update={"api_url": api_url}), token,
                            sleep=on_the_sandbox_clock, renew_token=renew_token)  # fmt: skip

    monkeypatch.setattr(runtime, "monday_client", client)
    served.sandbox.settings.complexity_budget = 150_000  # about a dozen writes a minute
    result = run(runtime, integration)
    assert result.created == 40 and result.failed == 0
    assert waits, "the run should have waited for the budget to reset"
    assert result.requests < 40  # batches were sized to the budget, not one write each
    served.sandbox.settings.complexity_budget = 10_000_000
    assert_board_matches(runtime, served, accounts, rows)


def _env_of(runtime: Runtime) -> dict[str, str]:
    settings = runtime.settings
    return {
        "MONDAY_SNOWFLAKE_DATA_DIR": str(settings.data_dir),
        "MONDAY_SNOWFLAKE_DATABASE_URL": str(settings.database_url),
        "MONDAY_SNOWFLAKE_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        "MONDAY_SNOWFLAKE_SNOWFLAKE__SCHEMA_NAME": settings.snowflake.schema_name,
    }


def test_through_the_api_a_reverse_integration_is_saved_run_on_demand_and_refused_when_bad(
    warehouse_data_dir: Path, tmp_path: Path, served: Served, accounts: Accounts
) -> None:
    settings = api_settings(warehouse_data_dir, f"sqlite:///{tmp_path / 'api.db'}", served.api_url)
    with serving(settings, served) as api:
        runtime = api.runtime
        name = ".".join(quote_identifier(p) for p in (settings.snowflake.database,
                                                      settings.snowflake.schema_name, "API_SRC"))  # fmt: skip
        warehouse = runtime.open_warehouse()
        try:
            warehouse.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(settings.snowflake.database)}."
                              f"{quote_identifier(settings.snowflake.schema_name)}")  # fmt: skip
            warehouse.execute(f"CREATE TABLE {name} ({COLUMNS})")
        finally:
            warehouse.close()
        rows = rows_of(15)
        put_rows(runtime, name, rows)
        tenant = api.tenant("acme")
        recipe = {
            "source": name,
            "key_column": "CODE",
            "key_target": accounts.code,
            "mapping": accounts.mapping(),
        }
        body = {"board_id": str(accounts.board.id), "monday_token": TOKEN, "monday_api_url": served.api_url}
        bad = tenant.client.post(
            "/integrations", json={**body, "reverse": {**recipe, "source": f"DROP TABLE {name}"}}
        )
        assert bad.status_code == 422 and "SELECT" in bad.text
        created = tenant.client.post("/integrations", json={**body, "name": "push", "reverse": recipe})
        assert created.status_code == 201, created.text
        integration = created.json()
        assert integration["reverse"]["key_target"] == accounts.code
        assert "monday_token" not in created.text
        on = tenant.client.put(f"/integrations/{integration['id']}/realtime", json={"enabled": True})
        assert on.status_code == 422
        assert tenant.client.post(f"/integrations/{integration['id']}/runs").status_code == 202
        run = finished_run(tenant.client, integration["id"])
        assert (run["kind"], run["status"]) == ("reverse", "COMPLETED"), run
        assert run["metrics"]["created"] == 15
        assert_board_matches(runtime, served, accounts, rows)


def test_source_columns_without_a_monday_column_get_one_when_allowed(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    rows = rows_of(5)
    put_rows(runtime, source, rows)
    mapping = {"TITLE": "name", "AMOUNT": accounts.amount}
    query = f"SELECT *, AMOUNT * 2 AS DOUBLED, NOT DONE AS OPEN_FLAG FROM {source}"
    integration = add_reverse(
        runtime, served, accounts, source, source=query, mapping=mapping, create_columns=True
    )
    first = run(runtime, integration)
    assert first.failed == 0 and first.created == 5, first.errors
    assert len(first.columns_created) == 2, first.columns_created
    columns = {c.title: c for c in served.sandbox.get_board(accounts.board.id).columns.values()}
    assert (columns["DOUBLED"].type, columns["OPEN_FLAG"].type) == ("numbers", "checkbox")
    assert_board_matches(runtime, served, accounts, rows)
    stored = runtime.store.get_integration(integration.id).reverse
    assert stored is not None and stored.mapping["DOUBLED"] == columns["DOUBLED"].id
    # source columns whose title a board column already has write to that column
    assert [stored.mapping[c] for c in ("STAGE", "DUE", "DONE", "OWNER")] == [
        accounts.stage, accounts.due, accounts.done, accounts.owner]  # fmt: skip
    again = run(runtime, integration)
    assert (again.mutations, again.columns_created) == (0, [])
    assert len(served.sandbox.get_board(accounts.board.id).columns) == len(columns)


def test_one_reverse_sync_writes_to_a_board_at_a_time(
    runtime: Runtime, served: Served, accounts: Accounts, source: str
) -> None:
    put_rows(runtime, source, rows_of(4))
    first = add_reverse_named(runtime, served, accounts, source, "first")
    second = add_reverse_named(runtime, served, accounts, source, "second")
    token = runtime.store.acquire_lock(first.id, "another worker", 60)
    with pytest.raises(AlreadyRunningError):
        run(runtime, second)
    assert served.sandbox.active_items(accounts.board) == []
    runtime.store.release_lock(first.id, token)
    assert run(runtime, second).created == 4
