"""The state store contract, run on SQLite and on PostgreSQL: schema, secrets, recipes, runs, flags, locks."""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import inspect, select, text

from monday_snowflake.errors import AlreadyRunningError, ConfigurationError, NotFoundError
from monday_snowflake.model import ColumnMapping, Integration, IntegrationOptions
from monday_snowflake.settings import Settings
from monday_snowflake.store import LockLostError, SecretBox, Store, load_or_create_key
from monday_snowflake.store.db import current_revision, make_engine, upgrade
from monday_snowflake.store.tables import Base, ConnectionRow

PLAINTEXT_TOKEN = "pat-TOP-SECRET-9f2c1e"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXPECTED_TABLES = {
    "accounts",
    "users",
    "connections",
    "integrations",
    "integration_runs",
    "run_subtasks",
    "feature_flags",
    "integration_locks",
}


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def timed_store(store: Store, secret_box: SecretBox, clock: ManualClock) -> Store:
    """The same database as `store`, seen through a manual clock."""
    return Store(store.engine, secret_box, clock=clock)


def make_integration(store: Store, account_id: str | None = None, name: str = "orders") -> Integration:
    account_id = account_id or store.create_account("acme").id
    own = {"owner": "integration"}  # made for this integration, as `integrations.create_integration` does
    monday = store.create_connection(
        account_id, "monday", f"m-{name}", {"api_url": "x", **own}, {"token": "m"}
    )
    snow = store.create_connection(
        account_id, "snowflake", f"s-{name}", {"account": "a", **own}, {"token": "s"}
    )
    return store.create_integration(
        account_id=account_id,
        name=name,
        board_id="1234567890",
        monday_connection_id=monday.id,
        snowflake_connection_id=snow.id,
        target_database="MONDAY",
        target_schema="PUBLIC",
    )


# -- schema ------------------------------------------------------------------------------------


_V1_CONNECTION = """
INSERT INTO connections (id, account_id, kind, name, config, secret, status, created_at, updated_at)
VALUES (:id, 'a1', :kind, :id, '{}', 'x', 'connected', :t, :t)"""
_V1_INTEGRATION = """
INSERT INTO integrations (id, account_id, name, board_id, monday_connection_id, snowflake_connection_id,
  target_database, target_schema, primary_key, column_mapping, options, sync_mode, created_at, updated_at)
VALUES ('i1', 'a1', 'old', '1', 'm1', 's1', 'DB', 'S', 'item_id', '[]', '{}', 'full', :t, :t)"""


def test_migration_0002_moves_integrations_to_incremental_and_adds_sync_state(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO accounts (id, name, created_at) VALUES ('a1', 'acme', :t)"), {"t": T0}
            )
            for conn_id, kind in (("m1", "monday"), ("s1", "snowflake")):
                conn.execute(text(_V1_CONNECTION), {"id": conn_id, "kind": kind, "t": T0})
            conn.execute(text(_V1_INTEGRATION), {"t": T0})
        upgrade(engine)
        assert current_revision(engine) == "0008"
        with engine.connect() as conn:
            row = conn.execute(text("SELECT sync_mode, sync_state, reverse FROM integrations")).one()
        assert tuple(row) == ("incremental", None, None)
    finally:
        engine.dispose()


def test_migrations_build_every_table_from_empty_and_rerunning_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == "0008"
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO accounts (id, name, created_at) VALUES ('a1', 'kept', :t)"), {"t": T0}
            )
        upgrade(engine)
        upgrade(database_url)  # by URL too
        assert current_revision(engine) == "0008"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM accounts")).scalars().all() == ["kept"]
    finally:
        engine.dispose()


def test_migrations_match_the_table_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
    finally:
        engine.dispose()


def test_processes_starting_together_all_upgrade_without_error(database_url: str) -> None:
    errors = run_in_threads(4, lambda _: upgrade(database_url))
    assert errors == []
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == "0008"
    finally:
        engine.dispose()


# -- credentials -------------------------------------------------------------------------------


def test_credentials_are_encrypted_at_rest_and_never_shown(store: Store) -> None:
    account = store.create_account("acme")
    public = store.create_connection(
        account.id,
        "snowflake",
        "warehouse",
        {"account": "xy123", "user": "LOADER"},
        {"token": PLAINTEXT_TOKEN},
    )
    with store.engine.connect() as conn:
        raw_rows = conn.execute(text("SELECT * FROM connections")).all()
        raw_secret = conn.execute(select(ConnectionRow.__table__.c.secret)).scalar_one()
    assert len(raw_rows) == 1
    assert PLAINTEXT_TOKEN not in repr(raw_rows)
    assert PLAINTEXT_TOKEN not in str(raw_secret)
    assert "xy123" in repr(raw_rows)  # non-secret config stays readable

    for shown in (public, store.get_connection(public.id), *store.list_connections(account.id)):
        assert PLAINTEXT_TOKEN not in repr(shown)
        assert not hasattr(shown, "secret")
    assert store.connection_secret(public.id) == {"token": PLAINTEXT_TOKEN}


def test_connection_config_refuses_secrets(store: Store) -> None:
    account = store.create_account("acme")
    with pytest.raises(ConfigurationError, match="must not hold secrets"):
        store.create_connection(account.id, "monday", "m", {"token": PLAINTEXT_TOKEN}, {})
    assert store.list_connections(account.id) == []


def test_credentials_written_with_another_key_give_a_clear_error_without_the_secret(store: Store) -> None:
    account = store.create_account("acme")
    connection = store.create_connection(account.id, "monday", "m", {}, {"token": PLAINTEXT_TOKEN})
    other = Store(store.engine, SecretBox.generate())
    with pytest.raises(ConfigurationError, match="encrypted with a different key") as caught:
        other.connection_secret(connection.id)
    assert PLAINTEXT_TOKEN not in str(caught.value)
    assert PLAINTEXT_TOKEN not in repr(caught.value.details)


def test_key_rotation_keeps_old_credentials_readable(store: Store, secret_key: str) -> None:
    account = store.create_account("acme")
    connection = store.create_connection(account.id, "monday", "m", {}, {"token": PLAINTEXT_TOKEN})
    new_key = Fernet.generate_key().decode()

    rotating = Store(store.engine, SecretBox([new_key, secret_key]))  # the first key encrypts
    assert rotating.connection_secret(connection.id) == {"token": PLAINTEXT_TOKEN}
    assert rotating.rotate_secrets() == 1

    assert Store(store.engine, SecretBox([new_key])).connection_secret(connection.id) == {
        "token": PLAINTEXT_TOKEN
    }
    with pytest.raises(ConfigurationError, match="different key"):
        store.connection_secret(connection.id)


def test_key_file_is_created_once_readable_by_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=None)
    first = load_or_create_key(settings)
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    content = key_file.read_bytes()
    token = first.encrypt({"token": PLAINTEXT_TOKEN})
    assert PLAINTEXT_TOKEN not in token
    assert load_or_create_key(settings).decrypt(token) == {"token": PLAINTEXT_TOKEN}
    assert key_file.read_bytes() == content
    assert list((tmp_path / "data").iterdir()) == [key_file]  # no temporary files left behind


def test_key_from_settings_wins_and_a_malformed_key_is_a_configuration_error(
    tmp_path: Path, secret_key: str
) -> None:
    token = SecretBox([secret_key]).encrypt({"a": 1})
    other = Fernet.generate_key().decode()
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr(f"{other},{secret_key}"))
    assert load_or_create_key(settings).decrypt(token) == {"a": 1}
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(ConfigurationError, match="not a valid Fernet key") as caught:
        load_or_create_key(Settings(data_dir=tmp_path, secret_key=SecretStr("not-a-key-but-private")))
    assert "not-a-key-but-private" not in str(caught.value)


# -- accounts, users, integrations -------------------------------------------------------------


def test_default_account_is_created_once_even_when_asked_for_concurrently(store: Store) -> None:
    seen: list[str] = []
    assert run_in_threads(6, lambda _: seen.append(store.default_account().id)) == []
    assert len(set(seen)) == 1
    assert store.default_account().name == "default"
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM accounts")).scalar_one() == 1


def test_accounts_and_users(store: Store) -> None:
    account = store.create_account("acme", external_id="monday-42")
    assert store.get_account(account.id) == account
    assert store.get_account_by_external_id("monday-42").id == account.id
    with pytest.raises(ConfigurationError):
        store.create_account("again", external_id="monday-42")
    user = store.create_user(account.id, "ada@example.com", name="Ada")
    assert store.get_user(user.id, account.id) == user
    assert store.list_users(account.id) == [user]
    with pytest.raises(ConfigurationError, match="already exists"):
        store.create_user(account.id, "ada@example.com")
    with pytest.raises(NotFoundError):
        store.create_user("no-such-account", "x@example.com")
    with pytest.raises(NotFoundError, match="account 'nope' not found"):
        store.get_account("nope")


def test_integration_recipe_round_trips_and_is_found_by_id_or_name(store: Store) -> None:
    account = store.create_account("acme")
    monday = store.create_connection(account.id, "monday", "m", {}, {"token": "t"})
    snow = store.create_connection(account.id, "snowflake", "s", {"account": "a"}, {"token": "t"})
    created = store.create_integration(
        account_id=account.id,
        name="orders",
        board_id="987",
        monday_connection_id=monday.id,
        snowflake_connection_id=snow.id,
        target_database="DB",
        target_schema="RAW",
        target_table="ORDERS",
        primary_key="order_no",
        columns=(ColumnMapping("status"), ColumnMapping("numbers", target="AMOUNT")),
        options=IntegrationOptions(include_subitems=True, on_delete="soft_delete"),
        schedule={"schedule_type": "DAILY", "hour": 2, "minute": 30, "timezone": "Europe/London"},
    )
    assert created == Integration(
        id=created.id,
        account_id=account.id,
        name="orders",
        board_id="987",
        monday_connection_id=monday.id,
        snowflake_connection_id=snow.id,
        target_database="DB",
        target_schema="RAW",
        target_table="ORDERS",
        primary_key="order_no",
        columns=(ColumnMapping("status"), ColumnMapping("numbers", target="AMOUNT")),
        options=IntegrationOptions(include_subitems=True, on_delete="soft_delete"),
        schedule={"schedule_type": "DAILY", "hour": 2, "minute": 30, "timezone": "Europe/London"},
    )
    assert store.get_integration(created.id) == created
    assert store.get_integration("orders", account.id) == created
    assert store.list_integrations(account.id) == [created]
    assert store.list_integrations() == [created]

    assert store.last_success(created.id) is None
    store.set_last_success(created.id, datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert store.last_success(created.id) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    store.delete_integration(created.id, account.id)
    with pytest.raises(NotFoundError, match="integration 'orders' not found"):
        store.get_integration("orders")
    with pytest.raises(NotFoundError):
        store.delete_integration(created.id)


def test_integration_names_are_unique_per_account_only(store: Store) -> None:
    first = make_integration(store, name="orders")
    with pytest.raises(ConfigurationError, match="integration 'orders' already exists"):
        store.create_integration(
            account_id=first.account_id,
            name="orders",
            board_id="1",
            monday_connection_id=first.monday_connection_id,
            snowflake_connection_id=first.snowflake_connection_id,
            target_database="D",
            target_schema="S",
        )
    other = make_integration(store, name="orders")  # a second account may use the same name
    assert other.account_id != first.account_id
    assert store.get_integration("orders", other.account_id) == other
    with pytest.raises(ConfigurationError, match="several accounts"):
        store.get_integration("orders")


def test_integration_connections_must_be_the_accounts_own_and_of_the_right_kind(store: Store) -> None:
    mine = store.create_account("mine")
    theirs = make_integration(store, name="theirs")
    own_monday = store.create_connection(mine.id, "monday", "m", {}, {"token": "t"})
    recipe: dict[str, Any] = {
        "account_id": mine.id,
        "name": "x",
        "board_id": "1",
        "target_database": "D",
        "target_schema": "S",
    }
    with pytest.raises(NotFoundError, match="connection"):
        store.create_integration(
            **recipe,
            monday_connection_id=own_monday.id,
            snowflake_connection_id=theirs.snowflake_connection_id,
        )
    with pytest.raises(ConfigurationError, match="not snowflake"):
        store.create_integration(
            **recipe, monday_connection_id=own_monday.id, snowflake_connection_id=own_monday.id
        )
    assert store.list_integrations(mine.id) == []


def test_one_account_never_sees_another_accounts_data(store: Store) -> None:
    a = make_integration(store, name="a-orders")
    b_account = store.create_account("b")
    make_integration(store, b_account.id, name="b-orders")
    run_id = store.start_run(a.id, "full", "corr-1")

    for lookup in (a.id, "a-orders"):
        with pytest.raises(NotFoundError):
            store.get_integration(lookup, b_account.id)
    with pytest.raises(NotFoundError):
        store.get_connection(a.monday_connection_id, b_account.id)
    with pytest.raises(NotFoundError):
        store.connection_secret(a.monday_connection_id, b_account.id)
    with pytest.raises(NotFoundError):
        store.set_connection_status(a.monday_connection_id, "disconnected", b_account.id)
    with pytest.raises(NotFoundError):
        store.list_runs(a.id, account_id=b_account.id)
    with pytest.raises(NotFoundError):
        store.get_run(run_id, b_account.id)
    with pytest.raises(NotFoundError):
        store.start_run(a.id, "full", account_id=b_account.id)
    with pytest.raises(NotFoundError):
        store.finish_run(run_id, "FAILED", rows_processed=0, rows_failed=0, account_id=b_account.id)
    with pytest.raises(NotFoundError):
        store.delete_integration(a.id, b_account.id)
    with pytest.raises(NotFoundError):
        store.set_last_success(a.id, T0, b_account.id)

    assert [i.name for i in store.list_integrations(b_account.id)] == ["b-orders"]
    assert {c.account_id for c in store.list_connections(b_account.id)} == {b_account.id}
    # and A still has all of it
    assert store.get_integration(a.id, a.account_id) == a
    assert store.get_connection(a.monday_connection_id, a.account_id).status == "connected"
    assert store.get_run(run_id, a.account_id).status == "RUNNING"


def test_connection_status_and_secret_can_change(timed_store: Store, clock: ManualClock) -> None:
    account = timed_store.create_account("acme")
    connection = timed_store.create_connection(account.id, "monday", "m", {}, {"token": "old"})
    clock.advance(5)
    changed = timed_store.set_connection_status(connection.id, "disconnected", account.id)
    assert changed.status == "disconnected"
    assert changed.updated_at == T0 + timedelta(seconds=5)
    timed_store.set_connection_secret(connection.id, {"token": "new"}, account.id)
    assert timed_store.connection_secret(connection.id) == {"token": "new"}
    with pytest.raises(ConfigurationError):
        timed_store.set_connection_status(connection.id, "broken")


# -- runs --------------------------------------------------------------------------------------


def test_a_run_records_subtasks_metrics_duration_and_throughput(
    timed_store: Store, clock: ManualClock
) -> None:
    store = timed_store
    integration = make_integration(store)
    run_id = store.start_run(integration.id, "full", "corr-123")
    fetch = store.start_subtask(run_id, "fetch")
    clock.advance(4)
    store.finish_subtask(fetch, "COMPLETED", rows_processed=1000)
    load = store.start_subtask(run_id, "load")
    clock.advance(6)
    store.finish_subtask(load, "COMPLETED", rows_processed=990, rows_failed=10, error=None)
    merge = store.start_subtask(run_id, "merge")  # left RUNNING: the run's end closes it
    finished = store.finish_run(
        run_id,
        "COMPLETED",
        rows_processed=990,
        rows_failed=10,
        metrics={"warnings": {"unexpected_shape": 3}, "pages": 2},
    )

    run = store.get_run(run_id, integration.account_id)
    assert run == finished
    assert (run.status, run.kind, run.correlation_id) == ("COMPLETED", "full", "corr-123")
    assert run.started_at == T0 and run.completed_at == T0 + timedelta(seconds=10)
    assert run.started_at.tzinfo is not None
    assert run.duration_seconds == pytest.approx(10.0)
    assert run.throughput == pytest.approx(99.0)
    assert (run.rows_processed, run.rows_failed) == (990, 10)
    assert run.metrics == {"warnings": {"unexpected_shape": 3}, "pages": 2}
    assert [(s.id, s.name, s.status) for s in run.subtasks] == [
        (fetch, "fetch", "COMPLETED"),
        (load, "load", "COMPLETED"),
        (merge, "merge", "COMPLETED"),
    ]
    assert run.subtasks[0].duration_seconds == pytest.approx(4.0)
    assert (run.subtasks[1].rows_processed, run.subtasks[1].rows_failed) == (990, 10)
    assert run.subtasks[1].duration_seconds == pytest.approx(6.0)

    with pytest.raises(ValueError, match="already finished"):
        store.finish_run(run_id, "FAILED", rows_processed=0, rows_failed=0)


def test_a_failed_run_keeps_its_error_and_fails_unfinished_subtasks(
    timed_store: Store, clock: ManualClock
) -> None:
    integration = make_integration(timed_store)
    run_id = timed_store.start_run(integration.id, "incremental")
    timed_store.start_subtask(run_id, "fetch")
    run = timed_store.finish_run(
        run_id,
        "FAILED",
        rows_processed=0,
        rows_failed=0,
        error="monday rejected the token",
        error_class="AuthenticationError",
    )
    assert (run.status, run.error, run.error_class) == (
        "FAILED",
        "monday rejected the token",
        "AuthenticationError",
    )
    assert run.duration_seconds == 0.0 and run.throughput is None
    assert run.subtasks[0].status == "FAILED" and run.subtasks[0].error
    with pytest.raises(ValueError):
        timed_store.finish_run(run_id, "RUNNING", rows_processed=0, rows_failed=0)  # type: ignore[arg-type]


def test_run_history_is_newest_first_and_paginated(timed_store: Store, clock: ManualClock) -> None:
    integration = make_integration(timed_store)
    ids = []
    for _ in range(5):
        ids.append(timed_store.start_run(integration.id, "full"))
        clock.advance(60)
    newest_first = list(reversed(ids))
    assert [r.id for r in timed_store.list_runs(integration.id)] == newest_first
    assert [r.id for r in timed_store.list_runs(integration.id, limit=2, offset=1)] == newest_first[1:3]
    assert [r.id for r in timed_store.list_runs("orders", account_id=integration.account_id)] == newest_first

    timed_store.delete_integration(integration.id)
    with pytest.raises(NotFoundError):
        timed_store.get_run(ids[0])


# -- feature flags -----------------------------------------------------------------------------


def test_feature_flags_fall_back_from_account_to_global_to_default(store: Store) -> None:
    a = store.create_account("a")
    b = store.create_account("b")
    assert store.is_enabled("reverse_sync") is False
    assert store.is_enabled("reverse_sync", a.id, default=True) is True
    store.set_flag("reverse_sync", True, {"batch": 50})
    store.set_flag("reverse_sync", False, account_id=b.id)
    assert store.is_enabled("reverse_sync", a.id) is True
    assert store.is_enabled("reverse_sync", b.id) is False
    store.set_flag("reverse_sync", False, {"batch": 10})  # updates, never duplicates
    flag = store.get_flag("reverse_sync")
    assert flag is not None and (flag.enabled, flag.value, flag.account_id) == (False, {"batch": 10}, None)
    assert store.get_flag("reverse_sync", a.id) is None
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feature_flags")).scalar_one() == 2


# -- locks -------------------------------------------------------------------------------------


def test_a_second_run_gets_a_clear_already_running_error(store: Store) -> None:
    integration = make_integration(store)
    token = store.acquire_lock(integration.id, "worker-1", 1800)
    with pytest.raises(
        AlreadyRunningError, match=f"integration {integration.id} is already running"
    ) as caught:
        store.acquire_lock(integration.id, "worker-2", 1800)
    assert caught.value.details["owner"] == "worker-1"
    store.check_lock(integration.id, token)
    lock = store.get_lock(integration.id)
    assert lock is not None and lock.owner == "worker-1" and lock.token == token


def test_an_expired_lock_is_taken_over_with_a_higher_token_and_fences_the_old_holder(store: Store) -> None:
    integration = make_integration(store)
    old = store.acquire_lock(integration.id, "worker-1", 60, now=T0)
    with pytest.raises(AlreadyRunningError):
        store.acquire_lock(integration.id, "worker-2", 60, now=T0 + timedelta(seconds=59))
    with pytest.raises(LockLostError):  # past its TTL the holder may not act, even before a takeover
        store.check_lock(integration.id, old, now=T0 + timedelta(seconds=60))

    new = store.acquire_lock(integration.id, "worker-2", 60, now=T0 + timedelta(seconds=61))
    assert new == old + 1
    later = T0 + timedelta(seconds=62)
    with pytest.raises(LockLostError, match="no longer current"):
        store.check_lock(integration.id, old, now=later)
    with pytest.raises(LockLostError):
        store.renew_lock(integration.id, old, 60, now=later)
    assert store.release_lock(integration.id, old) is False  # a stale release frees nothing
    with pytest.raises(AlreadyRunningError):
        store.acquire_lock(integration.id, "worker-3", 60, now=later)
    store.check_lock(integration.id, new, now=later)


def test_renewing_extends_the_lock_and_release_lets_the_next_run_in(store: Store) -> None:
    integration = make_integration(store)
    token = store.acquire_lock(integration.id, "w1", 60, now=T0)
    store.renew_lock(integration.id, token, 600, now=T0 + timedelta(seconds=50))
    with pytest.raises(AlreadyRunningError):
        store.acquire_lock(integration.id, "w2", 60, now=T0 + timedelta(seconds=300))
    store.check_lock(integration.id, token, now=T0 + timedelta(seconds=300))

    assert store.release_lock(integration.id, token) is True
    assert store.release_lock(integration.id, token) is False
    with pytest.raises(LockLostError):
        store.check_lock(integration.id, token, now=T0 + timedelta(seconds=301))
    assert store.acquire_lock(integration.id, "w2", 60, now=T0 + timedelta(seconds=301)) == token + 1


def test_locking_an_unknown_integration_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="integration 'nope' not found"):
        store.acquire_lock("nope", "w1", 60)
    with pytest.raises(ValueError):
        store.acquire_lock("nope", "w1", 0)


@pytest.mark.parametrize("already_locked_once", [False, True], ids=["fresh", "expired"])
def test_eight_threads_racing_for_a_lock_yield_exactly_one_winner(
    store: Store, already_locked_once: bool
) -> None:
    integration = make_integration(store)
    previous = 0
    if already_locked_once:
        previous = store.acquire_lock(integration.id, "old", 60, now=T0)
    race_time = T0 + timedelta(seconds=120)
    tokens: list[int] = []
    refused: list[int] = []

    def contend(i: int) -> None:
        try:
            tokens.append(store.acquire_lock(integration.id, f"worker-{i}", 60, now=race_time))
        except AlreadyRunningError:
            refused.append(i)

    for _ in range(5):
        tokens.clear()
        refused.clear()
        assert run_in_threads(8, contend) == []
        assert len(tokens) == 1, tokens
        assert len(refused) == 7
        assert tokens[0] == previous + 1
        assert store.release_lock(integration.id, tokens[0])
        previous = tokens[0]


def run_in_threads(count: int, target: Callable[[int], Any]) -> list[BaseException]:
    """Start `count` threads together (behind a barrier) and collect what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_deleting_an_integration_removes_connections_only_it_used(store: Store) -> None:
    first = make_integration(store, name="orders")
    second = store.create_integration(
        account_id=first.account_id,
        name="orders-copy",
        board_id="42",
        monday_connection_id=first.monday_connection_id,  # shared
        snowflake_connection_id=store.create_connection(
            first.account_id, "snowflake", "s-copy", {"account": "a", "owner": "integration"}, {"token": "s2"}
        ).id,
        target_database="MONDAY",
        target_schema="PUBLIC",
    )
    # a stored connection (POST /connections/snowflake, the monday app's) is shared: it outlives its users
    stored = store.create_connection(
        first.account_id, "snowflake", "warehouse", {"account": "a"}, {"token": "s3"}
    )
    third = store.create_integration(
        account_id=first.account_id,
        name="orders-stored",
        board_id="43",
        monday_connection_id=first.monday_connection_id,
        snowflake_connection_id=stored.id,
        target_database="MONDAY",
        target_schema="PUBLIC",
    )

    store.delete_integration(first.id)
    store.get_connection(first.monday_connection_id)  # still used by the second integration
    with pytest.raises(NotFoundError):
        store.get_connection(first.snowflake_connection_id)

    store.delete_integration(second.id)
    store.delete_integration(third.id)
    assert [c.id for c in store.list_connections(first.account_id)] == [stored.id]
    # the names are free again, so the same integration can be added anew
    make_integration(store, account_id=first.account_id, name="orders")
