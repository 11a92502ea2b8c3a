"""The shared core of the state store's repositories: sessions, the clock and account-scoped lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from monday_snowflake.errors import ConfigurationError, NotFoundError
from monday_snowflake.store.crypto import SecretBox
from monday_snowflake.store.db import write_engine
from monday_snowflake.store.tables import ConnectionRow, IntegrationRow, RunRow, UserRow, utcnow

Clock = Callable[[], datetime]
_Row = TypeVar("_Row", UserRow, ConnectionRow, IntegrationRow, RunRow)


class StoreBase:
    """Sessions per call (so one instance serves many threads), the secret box and the clock."""

    def __init__(self, engine: Engine, box: SecretBox, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self._box = box
        self._clock = clock
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(write_engine(engine), expire_on_commit=False)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reads() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._writes() as session, session.begin():
            yield session


def one_row(
    session: Session,
    model: type[_Row],
    row_id: str,
    account_id: str | None,
    what: str,
    *,
    load_subtasks: bool = False,
) -> _Row:
    stmt: Select[_Row] = select(model).where(model.id == row_id)
    if account_id is not None:
        stmt = stmt.where(model.account_id == account_id)
    if load_subtasks:
        stmt = stmt.options(selectinload(RunRow.subtasks))
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFoundError(f"{what} '{row_id}' not found", **{f"{what}_id": row_id})
    return row


def find_integration(session: Session, id_or_name: str, account_id: str | None) -> IntegrationRow:
    """An integration by id, or by name (unique per account), within `account_id` if given."""
    by_id = session.get(IntegrationRow, id_or_name)
    if by_id is not None and (account_id is None or by_id.account_id == account_id):
        return by_id
    stmt = select(IntegrationRow).where(IntegrationRow.name == id_or_name)
    if account_id is not None:
        stmt = stmt.where(IntegrationRow.account_id == account_id)
    rows = session.scalars(stmt.limit(2)).all()
    if not rows:
        raise NotFoundError(f"integration '{id_or_name}' not found", integration=id_or_name)
    if len(rows) > 1:
        raise ConfigurationError(f"several accounts have an integration named '{id_or_name}'; use its id")
    return rows[0]
