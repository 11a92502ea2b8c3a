"""Engines and schema upgrades for the state store: SQLite by default, PostgreSQL by URL.

`upgrade()` runs the Alembic migrations shipped inside this package; it is idempotent and takes a
database-level lock, so every process can call it at start-up.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_BEGIN_OPTION = "sqlite_begin"
"""Execution option naming how SQLite transactions begin: `DEFERRED` (default) or `IMMEDIATE`."""
_MIGRATION_LOCK_KEY = 0x6D6F6E64  # pg_advisory_xact_lock key held while migrating ("mond")


def make_engine(url: str) -> Engine:
    """An engine for the state store, tuned for use from many threads.

    SQLite: WAL journal (readers never block the writer), foreign keys enforced, a busy timeout
    instead of instant "database is locked" errors, and transactions begun by us so that writers can
    ask for `BEGIN IMMEDIATE` (see `write_engine`). PostgreSQL: a pre-pinged connection pool.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=8,
            max_overflow=16,
            pool_pre_ping=False,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(parsed, pool_size=8, max_overflow=16, pool_pre_ping=True, pool_recycle=1800)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) start transactions instead of the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            _set_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def _set_wal(cursor: Any) -> None:
    """Switch the file to WAL. Switching needs the exclusive lock, and SQLite answers "database is
    locked" at once (no busy wait) when another connection is mid-transaction on a new file, as
    processes starting together are: try again until the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def write_engine(engine: Engine) -> Engine:
    """The same engine, set up for transactions that write.

    On SQLite a deferred transaction that reads and then writes can fail at once with "database is
    locked" when another writer got in between; `BEGIN IMMEDIATE` takes the write lock up front and
    waits for it instead. Other databases are returned unchanged.
    """
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the migrations inside this package (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the latest). Safe to run at every start.

    The whole upgrade is one transaction holding a database-wide lock (an advisory lock on
    PostgreSQL, the write lock on SQLite), so processes starting together migrate once.
    """
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with write_engine(engine).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            command.upgrade(alembic_config(connection), revision)
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None if it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
