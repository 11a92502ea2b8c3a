"""Shared fixtures: a state database on SQLite and on PostgreSQL, and a `Store` built on it.

PostgreSQL comes from MONDAY_SNOWFLAKE_TEST_DATABASE_URL, e.g.
`postgresql+psycopg://postgres@127.0.0.1:5432/test`. Without it (or if it is unreachable) the
PostgreSQL variants are skipped with the reason shown; with CI=true they fail instead. Each
PostgreSQL test gets its own fresh schema (via search_path), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from monday_snowflake.store import SecretBox, Store

POSTGRES_URL_ENV = "MONDAY_SNOWFLAKE_TEST_DATABASE_URL"


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true, so the PostgreSQL tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test PostgreSQL server, used to create and drop per-test schemas."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        _postgres_unavailable(
            f"PostgreSQL tests need {POSTGRES_URL_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
        raise AssertionError("unreachable")
    shown = make_url(url).render_as_string(hide_password=True)
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    problem = None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if problem is not None:
        engine.dispose()
        _postgres_unavailable(f"PostgreSQL at {shown} is unreachable: {problem}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL to an empty state database: a fresh SQLite file, or a fresh schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.db'}"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    schema = f"test_{uuid.uuid4().hex[:20]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = make_url(str(admin.url.render_as_string(hide_password=False)))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def secret_key() -> str:
    """A fresh Fernet key, as it would appear in MONDAY_SNOWFLAKE_SECRET_KEY."""
    return Fernet.generate_key().decode()


@pytest.fixture
def secret_box(secret_key: str) -> SecretBox:
    return SecretBox([secret_key])


@pytest.fixture
def store(database_url: str, secret_box: SecretBox) -> Iterator[Store]:
    """A migrated store on `database_url`."""
    store = Store.from_url(database_url, secret_box)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="session")
def warehouse_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory of the embedded warehouse this test process serves.

    A process can serve only one embedded warehouse, so every test that needs one shares it and
    keeps to its own schema or tables."""
    return tmp_path_factory.mktemp("warehouse-data")
