"""The monday-app half of `Store`: OAuth states in flight, installs, lifecycle events, the
subscriptions of automation triggers, and wiping an account (uninstall, the GDPR promise).

`purge_account` is generic on purpose: it deletes, children first, every row of every table that has
an `account_id` of the account or that reaches such a row through its foreign keys (run subtasks via
runs, locks and events via integrations...), so a table added later is covered without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Result, Table, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from monday_snowflake.errors import NotFoundError
from monday_snowflake.store.base import StoreBase
from monday_snowflake.store.records import ConnectionPublic
from monday_snowflake.store.tables import (
    AccountRow,
    Base,
    ConnectionRow,
    MondayAppEventRow,
    MondayInstallRow,
    MondayOAuthStateRow,
    MondayTriggerRow,
    UserRow,
)

APP_CONNECTION_NAME = "monday app"
"""The name of the account's `monday` connection that holds the app's OAuth token."""


@dataclass(frozen=True)
class OAuthState:
    flow: str
    code_verifier: str | None
    options: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class InstallRecord:
    account_id: str
    monday_account_id: str
    monday_user_id: str | None
    drop_tables_on_uninstall: bool
    subscription: dict[str, Any] | None
    installed_at: datetime


@dataclass(frozen=True)
class TriggerRecord:
    id: str
    account_id: str
    kind: str
    subscription_id: str
    webhook_url: str
    integration_id: str | None
    input_fields: dict[str, Any]
    state: dict[str, Any]
    version: int


class MondayAppStore(StoreBase):
    # -- OAuth states --------------------------------------------------------------------------------

    def save_oauth_state(
        self,
        state_hash: str,
        *,
        flow: str,
        code_verifier: str | None,
        options: dict[str, Any],
        expires_at: datetime,
    ) -> None:
        """Remember an authorization request; the PKCE verifier is encrypted. Expired ones are purged."""
        now = self._clock()
        with self._write() as session:
            session.execute(delete(MondayOAuthStateRow).where(MondayOAuthStateRow.expires_at < now))
            session.add(
                MondayOAuthStateRow(
                    state_hash=state_hash,
                    flow=flow,
                    code_verifier=self._box.encrypt({"v": code_verifier}) if code_verifier else None,
                    options=dict(options),
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def take_oauth_state(self, state_hash: str) -> OAuthState | None:
        """The request of this state, removed so it works once; None if unknown, used or expired."""
        with self._write() as session:
            row = session.get(MondayOAuthStateRow, state_hash)
            if row is None:
                return None
            taken = _rows(
                session.execute(
                    delete(MondayOAuthStateRow).where(MondayOAuthStateRow.state_hash == state_hash)
                )
            )
        if taken != 1 or row.expires_at < self._clock():
            return None  # a concurrent callback took it first, or it is too old
        verifier = self._box.decrypt(row.code_verifier)["v"] if row.code_verifier else None
        return OAuthState(row.flow, verifier, dict(row.options or {}), row.expires_at)

    # -- installs ------------------------------------------------------------------------------------

    def record_install(
        self,
        monday_account_id: str,
        *,
        account_name: str,
        user_email: str | None,
        user_name: str | None = None,
        monday_user_id: str | None = None,
        drop_tables_on_uninstall: bool | None = None,
        subscription: dict[str, Any] | None = None,
    ) -> InstallRecord:
        """Create the account of a monday account on its first install (keyed by `external_id`), or
        update it; the installing user is added if new. Returns the install."""
        for attempt in range(2):
            try:
                return self._record_install(
                    monday_account_id, account_name, user_email, user_name, monday_user_id,
                    drop_tables_on_uninstall, subscription,
                )  # fmt: skip
            except IntegrityError:
                if attempt:  # two first installs raced twice: give up loudly
                    raise
        raise AssertionError("unreachable")

    def _record_install(
        self,
        monday_account_id: str,
        account_name: str,
        user_email: str | None,
        user_name: str | None,
        monday_user_id: str | None,
        drop_tables: bool | None,
        subscription: dict[str, Any] | None,
    ) -> InstallRecord:
        now = self._clock()
        with self._write() as session:
            account = session.scalars(
                select(AccountRow).where(AccountRow.external_id == monday_account_id)
            ).first()
            if account is None:
                account = AccountRow(name=account_name, external_id=monday_account_id, created_at=now)
                session.add(account)
                session.flush()
            elif account_name:
                account.name = account_name
            if user_email:
                user = session.scalars(
                    select(UserRow).where(UserRow.account_id == account.id, UserRow.email == user_email)
                ).first()
                if user is None:
                    session.add(
                        UserRow(
                            account_id=account.id, email=user_email, name=user_name,
                            external_id=monday_user_id, created_at=now,
                        )
                    )  # fmt: skip
                else:
                    user.name = user_name or user.name
                    user.external_id = monday_user_id or user.external_id
            install = session.get(MondayInstallRow, account.id)
            if install is None:
                install = MondayInstallRow(
                    account_id=account.id,
                    monday_account_id=monday_account_id,
                    drop_tables_on_uninstall=bool(drop_tables),
                    installed_at=now,
                )
                session.add(install)
            elif drop_tables is not None:
                install.drop_tables_on_uninstall = drop_tables
            install.monday_user_id = monday_user_id or install.monday_user_id
            if subscription is not None:
                install.subscription = subscription
            install.updated_at = now
            session.flush()
            return _install(install)

    def install_of(self, monday_account_id: str) -> InstallRecord:
        """The install of a monday account; NotFoundError if it never installed (or uninstalled)."""
        with self._read() as session:
            row = session.scalars(
                select(MondayInstallRow).where(MondayInstallRow.monday_account_id == monday_account_id)
            ).first()
            if row is None:
                raise NotFoundError(
                    f"monday account {monday_account_id} has not installed the app",
                    monday_account_id=monday_account_id,
                )
            return _install(row)

    def set_app_subscription(self, account_id: str, subscription: dict[str, Any] | None) -> None:
        with self._write() as session:
            row = session.get(MondayInstallRow, account_id)
            if row is None:
                raise NotFoundError(f"account '{account_id}' has no install")
            row.subscription = subscription
            row.updated_at = self._clock()

    def record_app_event(self, account_id: str, event_type: str, data: dict[str, Any]) -> None:
        with self._write() as session:
            session.add(
                MondayAppEventRow(
                    account_id=account_id, event_type=event_type, data=data, received_at=self._clock()
                )
            )

    def app_events(self, account_id: str) -> list[tuple[str, dict[str, Any]]]:
        with self._read() as session:
            rows = session.scalars(
                select(MondayAppEventRow)
                .where(MondayAppEventRow.account_id == account_id)
                .order_by(MondayAppEventRow.id)
            )
            return [(r.event_type, dict(r.data)) for r in rows]

    # -- the app's monday token ----------------------------------------------------------------------

    def save_app_token(
        self, account_id: str, config: dict[str, Any], secret: dict[str, Any]
    ) -> ConnectionPublic:
        """Store (or replace) the account's app connection: `config` plain, `secret` encrypted."""
        found = self.app_connection(account_id)
        if found is None:
            try:
                return self.create_connection_row(account_id, config, secret)
            except IntegrityError:  # a concurrent install stored it first: replace its token
                found = self.app_connection(account_id)
                if found is None:
                    raise
        with self._write() as session:
            row = session.get(ConnectionRow, found.id)
            if row is None:
                raise NotFoundError(f"connection '{found.id}' not found")
            row.config, row.secret = dict(config), self._box.encrypt(secret)
            row.status, row.updated_at = "connected", self._clock()
        return self.app_connection(account_id) or found

    def create_connection_row(
        self, account_id: str, config: dict[str, Any], secret: dict[str, Any]
    ) -> ConnectionPublic:
        now = self._clock()
        row = ConnectionRow(
            account_id=account_id, kind="monday", name=APP_CONNECTION_NAME, config=dict(config),
            secret=self._box.encrypt(secret), status="connected", created_at=now, updated_at=now,
        )  # fmt: skip
        with self._write() as session:
            session.add(row)
        return _public(row)

    def app_connection(self, account_id: str) -> ConnectionPublic | None:
        with self._read() as session:
            row = session.scalars(
                select(ConnectionRow).where(
                    ConnectionRow.account_id == account_id,
                    ConnectionRow.kind == "monday",
                    ConnectionRow.name == APP_CONNECTION_NAME,
                )
            ).first()
            return None if row is None else _public(row)

    # -- trigger subscriptions -----------------------------------------------------------------------

    def subscribe_trigger(
        self,
        account_id: str,
        *,
        kind: str,
        subscription_id: str,
        webhook_url: str,
        integration_id: str | None,
        input_fields: dict[str, Any],
    ) -> TriggerRecord:
        """Store a subscription; monday's retry of the same subscribe replaces it."""
        with self._write() as session:
            row = session.scalars(
                select(MondayTriggerRow).where(
                    MondayTriggerRow.account_id == account_id,
                    MondayTriggerRow.subscription_id == subscription_id,
                )
            ).first()
            if row is None:
                row = MondayTriggerRow(
                    account_id=account_id, subscription_id=subscription_id, created_at=self._clock(),
                    state={}, version=0,
                )  # fmt: skip
                session.add(row)
            row.kind, row.webhook_url, row.integration_id = kind, webhook_url, integration_id
            row.input_fields = dict(input_fields)
            session.flush()
            return _trigger(row)

    def unsubscribe_trigger(self, account_id: str, subscription_id: str) -> bool:
        with self._write() as session:
            removed = _rows(
                session.execute(
                    delete(MondayTriggerRow).where(
                        MondayTriggerRow.account_id == account_id,
                        MondayTriggerRow.subscription_id == subscription_id,
                    )
                )
            )
        return bool(removed)

    def triggers(self, kind: str, *, integration_id: str | None = None) -> list[TriggerRecord]:
        stmt = select(MondayTriggerRow).where(MondayTriggerRow.kind == kind)
        if integration_id is not None:
            stmt = stmt.where(MondayTriggerRow.integration_id == integration_id)
        with self._read() as session:
            return [_trigger(r) for r in session.scalars(stmt.order_by(MondayTriggerRow.created_at))]

    def save_trigger_state(self, trigger_id: str, version: int, state: dict[str, Any]) -> bool:
        """Replace a trigger's state if it is still at `version` (compare and set); False if another
        check saved first."""
        with self._write() as session:
            changed = _rows(
                session.execute(
                    update(MondayTriggerRow)
                    .where(MondayTriggerRow.id == trigger_id, MondayTriggerRow.version == version)
                    .values(state=state, version=version + 1, checked_at=self._clock())
                )
            )
        return changed == 1

    # -- uninstall -----------------------------------------------------------------------------------

    def purge_account(self, account_id: str) -> dict[str, int]:
        """Delete every row of the account, in every table, in one transaction; returns the rows
        deleted per table (tables without any are left out)."""
        deleted: dict[str, int] = {}
        with self._write() as session:
            if session.get(AccountRow, account_id) is None:
                raise NotFoundError(f"account '{account_id}' not found", account_id=account_id)
            for table in reversed(Base.metadata.sorted_tables):
                condition = _belongs(table, account_id, set())
                if condition is None:
                    continue
                count = _rows(session.execute(delete(table).where(condition)))
                if count:
                    deleted[table.name] = count
        return deleted

    def account_row_counts(self, account_id: str) -> dict[str, int]:
        """Rows of the account per table, counted the way `purge_account` finds them."""
        counts: dict[str, int] = {}
        with self._read() as session:
            for table in Base.metadata.sorted_tables:
                condition = _belongs(table, account_id, set())
                if condition is None:
                    continue
                counts[table.name] = (
                    session.scalar(select(func.count()).select_from(table).where(condition)) or 0
                )
        return counts


def _belongs(table: Table, account_id: str, seen: set[str]) -> ColumnElement[bool] | None:
    """The condition for a row of `table` to belong to the account, or None if it cannot."""
    if table.name == AccountRow.__tablename__:
        return table.c.id == account_id
    if "account_id" in table.c:
        return table.c.account_id == account_id
    seen = seen | {table.name}
    conditions = []
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent.name in seen:
            continue
        parent_condition = _belongs(parent, account_id, seen)
        if parent_condition is not None:
            conditions.append(fk.parent.in_(select(fk.column).where(parent_condition)))
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else or_(*conditions)


def _rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], result).rowcount)


def _install(row: MondayInstallRow) -> InstallRecord:
    return InstallRecord(
        row.account_id, row.monday_account_id, row.monday_user_id, row.drop_tables_on_uninstall,
        dict(row.subscription) if row.subscription else None, row.installed_at,
    )  # fmt: skip


def _trigger(row: MondayTriggerRow) -> TriggerRecord:
    return TriggerRecord(
        row.id, row.account_id, row.kind, row.subscription_id, row.webhook_url, row.integration_id,
        dict(row.input_fields or {}), dict(row.state or {}), row.version,
    )  # fmt: skip


def _public(row: ConnectionRow) -> ConnectionPublic:
    return ConnectionPublic(
        row.id, row.account_id, row.kind, row.name, dict(row.config), row.status, row.created_at,
        row.updated_at,
    )  # fmt: skip
