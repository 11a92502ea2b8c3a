"""The state store: accounts, users, connections, integrations, runs, feature flags, run locks and
management API keys.

`Store` is safe to share between threads: each call opens its own short session. Where a method takes
an `account_id`, everything it reads or writes is limited to that account; another account's rows are
reported as not found, so their existence does not leak.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError

from monday_snowflake.errors import AuthenticationError, ConfigurationError, NotFoundError
from monday_snowflake.model import ColumnMapping, Integration, IntegrationOptions
from monday_snowflake.model.integration import SYNC_MODES
from monday_snowflake.model.reverse import ReverseSpec
from monday_snowflake.store import locks
from monday_snowflake.store.alerts import AlertStore
from monday_snowflake.store.app import MondayAppStore
from monday_snowflake.store.base import Clock, find_integration, one_row
from monday_snowflake.store.crypto import SecretBox
from monday_snowflake.store.db import make_engine, upgrade
from monday_snowflake.store.realtime import DisplayedErrors, RealtimeStore
from monday_snowflake.store.records import (
    OWNED_BY_INTEGRATION,
    AccountRecord,
    ConnectionPublic,
    FeatureFlag,
    UserRecord,
)
from monday_snowflake.store.runs import RunHistory
from monday_snowflake.store.settings import IntegrationSettings
from monday_snowflake.store.tables import (
    CONNECTION_KINDS,
    CONNECTION_STATUSES,
    AccountRow,
    ApiKeyRow,
    ConnectionRow,
    FeatureFlagRow,
    IntegrationRow,
    UserRow,
    utcnow,
)

DEFAULT_ACCOUNT_ID = "00000000-0000-0000-0000-000000000000"
DEFAULT_ACCOUNT_NAME = "default"
SECRET_LOOKING_KEYS = frozenset(
    {
        "password",
        "token",
        "access_token",
        "refresh_token",
        "private_key",
        "private_key_passphrase",
        "secret",
        "client_secret",
        "api_key",
        "passphrase",
    }
)
API_KEY_PREFIX = "msk_"
API_KEY_SHOWN_CHARS = 8
"""How much of a key is kept in clear (`prefix`), so people can tell their keys apart."""
API_KEY_TOUCH_SECONDS = 60
"""`last_used_at` is written at most this often per key, so authenticating is mostly a read."""


@dataclass(frozen=True)
class ApiKeyRecord:
    """A management API key as anyone may see it: its name and first characters, never the key."""

    id: str
    account_id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Store(RunHistory, RealtimeStore, DisplayedErrors, IntegrationSettings, MondayAppStore, AlertStore):
    """Everything the product remembers, behind plain methods that return plain dataclasses."""

    @classmethod
    def from_url(cls, url: str, box: SecretBox, *, migrate: bool = True, clock: Clock = utcnow) -> Store:
        """A store on the database at `url`, migrated to the latest schema unless `migrate=False`."""
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine, box, clock=clock)

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.engine.url!r})"

    # -- accounts and users ------------------------------------------------------------------

    def create_account(self, name: str, external_id: str | None = None) -> AccountRecord:
        row = AccountRow(name=name, external_id=external_id, created_at=self._clock())
        try:
            with self._write() as session:
                session.add(row)
        except IntegrityError:
            raise ConfigurationError(f"an account with external id '{external_id}' already exists") from None
        return _account(row)

    def get_account(self, account_id: str) -> AccountRecord:
        with self._read() as session:
            row = session.get(AccountRow, account_id)
            if row is None:
                raise NotFoundError(f"account '{account_id}' not found", account_id=account_id)
            return _account(row)

    def get_account_by_external_id(self, external_id: str) -> AccountRecord:
        with self._read() as session:
            row = session.scalars(select(AccountRow).where(AccountRow.external_id == external_id)).first()
            if row is None:
                raise NotFoundError(f"account with external id '{external_id}' not found")
            return _account(row)

    def account_ids(self) -> list[str]:
        with self._read() as session:
            return list(session.scalars(select(AccountRow.id).order_by(AccountRow.id)))

    def default_account(self) -> AccountRecord:
        """The single-tenant account of a one-machine install, created on first use (race-free)."""
        try:
            return self.get_account(DEFAULT_ACCOUNT_ID)
        except NotFoundError:
            pass
        try:
            with self._write() as session:
                session.add(
                    AccountRow(id=DEFAULT_ACCOUNT_ID, name=DEFAULT_ACCOUNT_NAME, created_at=self._clock())
                )
        except IntegrityError:
            pass  # created concurrently
        return self.get_account(DEFAULT_ACCOUNT_ID)

    def create_user(
        self, account_id: str, email: str, *, name: str | None = None, external_id: str | None = None
    ) -> UserRecord:
        self.get_account(account_id)
        row = UserRow(
            account_id=account_id, email=email, name=name, external_id=external_id, created_at=self._clock()
        )
        try:
            with self._write() as session:
                session.add(row)
        except IntegrityError:
            raise ConfigurationError(f"user '{email}' already exists in this account") from None
        return _user(row)

    def get_user(self, user_id: str, account_id: str | None = None) -> UserRecord:
        with self._read() as session:
            return _user(one_row(session, UserRow, user_id, account_id, "user"))

    def list_users(self, account_id: str) -> list[UserRecord]:
        with self._read() as session:
            rows = session.scalars(
                select(UserRow).where(UserRow.account_id == account_id).order_by(UserRow.email)
            )
            return [_user(r) for r in rows]

    # -- connections -------------------------------------------------------------------------

    def create_connection(
        self, account_id: str, kind: str, name: str, config: dict[str, Any], secret: dict[str, Any]
    ) -> ConnectionPublic:
        """Store a connection; `secret` is encrypted and only `connection_secret` gives it back."""
        if kind not in CONNECTION_KINDS:
            raise ConfigurationError(
                f"connection kind must be one of {', '.join(CONNECTION_KINDS)}, not '{kind}'"
            )
        leaked = sorted(SECRET_LOOKING_KEYS & {k.lower() for k in config})
        if leaked:
            raise ConfigurationError(
                f"connection config must not hold secrets ({', '.join(leaked)}): pass them as secret"
            )
        self.get_account(account_id)
        now = self._clock()
        row = ConnectionRow(
            account_id=account_id,
            kind=kind,
            name=name,
            config=dict(config),
            secret=self._box.encrypt(secret),
            status="connected",
            created_at=now,
            updated_at=now,
        )
        try:
            with self._write() as session:
                session.add(row)
        except IntegrityError:
            raise ConfigurationError(f"a {kind} connection named '{name}' already exists") from None
        return _connection(row)

    def get_connection(self, connection_id: str, account_id: str | None = None) -> ConnectionPublic:
        with self._read() as session:
            return _connection(one_row(session, ConnectionRow, connection_id, account_id, "connection"))

    def connection_secret(self, connection_id: str, account_id: str | None = None) -> dict[str, Any]:
        """The decrypted credentials of a connection: the only way they leave the store."""
        with self._read() as session:
            token = one_row(session, ConnectionRow, connection_id, account_id, "connection").secret
        return self._box.decrypt(token)

    def list_connections(self, account_id: str, kind: str | None = None) -> list[ConnectionPublic]:
        stmt = select(ConnectionRow).where(ConnectionRow.account_id == account_id)
        if kind is not None:
            stmt = stmt.where(ConnectionRow.kind == kind)
        with self._read() as session:
            return [
                _connection(r) for r in session.scalars(stmt.order_by(ConnectionRow.kind, ConnectionRow.name))
            ]

    def set_connection_status(
        self, connection_id: str, status: str, account_id: str | None = None
    ) -> ConnectionPublic:
        if status not in CONNECTION_STATUSES:
            raise ConfigurationError(f"connection status must be one of {', '.join(CONNECTION_STATUSES)}")
        with self._write() as session:
            row = one_row(session, ConnectionRow, connection_id, account_id, "connection")
            row.status = status
            row.updated_at = self._clock()
        return _connection(row)

    def set_connection_secret(
        self,
        connection_id: str,
        secret: dict[str, Any],
        account_id: str | None = None,
        *,
        resolves: bool = True,
    ) -> None:
        """Replace a connection's credentials (a refreshed or re-entered token). Open credential alerts
        of the connection are resolved: their failed work is queued again and the queue resumes.
        `resolves=False` for bookkeeping that fixes nothing (an OAuth state kept in the secret)."""
        with self._write() as session:
            row = one_row(session, ConnectionRow, connection_id, account_id, "connection")
            row.secret = self._box.encrypt(secret)
            row.updated_at = self._clock()
            account = row.account_id
        if resolves:
            self.resolve_alerts(
                account_id=account, connection_id=connection_id, credential=True, by="new credentials"
            )

    def renew_connection_secret(
        self,
        connection_id: str,
        renew: Callable[[dict[str, Any]], dict[str, Any] | None],
        account_id: str | None = None,
        *,
        resolves: bool = True,
    ) -> dict[str, Any]:
        """Read a connection's credentials and let `renew` replace them (None: keep them), holding the
        connection's row the whole time: two processes never refresh one credential at once (a rotating
        refresh token works once, and monday revokes the whole family when one is used twice). Returns
        the credentials as stored after."""
        with self._write() as session:
            row = session.scalars(
                select(ConnectionRow).where(ConnectionRow.id == connection_id).with_for_update()
            ).first()
            if row is None or (account_id is not None and row.account_id != account_id):
                raise NotFoundError(f"connection '{connection_id}' not found", connection_id=connection_id)
            current = self._box.decrypt(row.secret)
            renewed = renew(current)
            if renewed is None:
                return current
            row.secret = self._box.encrypt(renewed)
            row.updated_at = self._clock()
            account = row.account_id
        if resolves:
            self.resolve_alerts(
                account_id=account, connection_id=connection_id, credential=True, by="new credentials"
            )
        return renewed

    def rotate_secrets(self) -> int:
        """Re-encrypt every stored credential with the box's first (newest) key; returns how many."""
        with self._write() as session:
            rows = session.scalars(select(ConnectionRow)).all()
            for row in rows:
                row.secret = self._box.rotate(row.secret)
            return len(rows)

    # -- integrations ------------------------------------------------------------------------

    def create_integration(
        self,
        *,
        account_id: str,
        name: str,
        board_id: str,
        monday_connection_id: str,
        snowflake_connection_id: str,
        target_database: str,
        target_schema: str,
        target_table: str | None = None,
        primary_key: str = "item_id",
        columns: tuple[ColumnMapping, ...] = (),
        options: IntegrationOptions | None = None,
        schedule: dict[str, Any] | None = None,
        sync_mode: str = "incremental",
        reverse: ReverseSpec | None = None,
    ) -> Integration:
        """Store a recipe. Its connections must belong to the same account and be of the right kind."""
        if sync_mode not in SYNC_MODES:
            raise ConfigurationError(f"sync mode must be one of {', '.join(SYNC_MODES)}, not {sync_mode!r}")
        for connection_id, kind in ((monday_connection_id, "monday"), (snowflake_connection_id, "snowflake")):
            connection = self.get_connection(connection_id, account_id)
            if connection.kind != kind:
                raise ConfigurationError(
                    f"connection '{connection_id}' is a {connection.kind} connection, not {kind}"
                )
        now = self._clock()
        row = IntegrationRow(
            account_id=account_id,
            name=name,
            board_id=str(board_id),
            monday_connection_id=monday_connection_id,
            snowflake_connection_id=snowflake_connection_id,
            target_database=target_database,
            target_schema=target_schema,
            target_table=target_table,
            primary_key=primary_key,
            column_mapping=[dataclasses.asdict(c) for c in columns],
            options=dataclasses.asdict(options or IntegrationOptions()),
            schedule=schedule,
            last_scheduled_for=now if schedule else None,  # a schedule counts from when it was set
            sync_mode=sync_mode,
            reverse=reverse.to_json() if reverse is not None else None,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._write() as session:
                session.add(row)
        except IntegrityError:
            raise ConfigurationError(f"integration '{name}' already exists") from None
        return _integration(row)

    def get_integration(self, id_or_name: str, account_id: str | None = None) -> Integration:
        """An integration by id, or by name (names are unique per account)."""
        with self._read() as session:
            return _integration(find_integration(session, id_or_name, account_id))

    def list_integrations(self, account_id: str | None = None) -> list[Integration]:
        stmt = select(IntegrationRow).order_by(IntegrationRow.name, IntegrationRow.id)
        if account_id is not None:
            stmt = stmt.where(IntegrationRow.account_id == account_id)
        with self._read() as session:
            return [_integration(r) for r in session.scalars(stmt)]

    def delete_integration(self, id_or_name: str, account_id: str | None = None) -> None:
        """Remove an integration with its run history and lock, and the connections made for it
        (`OWNED_BY_INTEGRATION`) unless another integration still uses them: credentials
        nobody uses should not linger. Stored connections (the API's, the monday app's) stay."""
        with self._write() as session:
            row = find_integration(session, id_or_name, account_id)
            connection_ids = {row.monday_connection_id, row.snowflake_connection_id}
            session.delete(row)
            session.flush()
            for connection_id in connection_ids:
                users = select(IntegrationRow.id).where(
                    (IntegrationRow.monday_connection_id == connection_id)
                    | (IntegrationRow.snowflake_connection_id == connection_id)
                )
                if session.scalars(users).first() is None:
                    unused = one_row(session, ConnectionRow, connection_id, row.account_id, "connection")
                    if unused.config.get("owner") == OWNED_BY_INTEGRATION:
                        session.delete(unused)

    def set_last_success(
        self, integration_id: str, started_at: datetime, account_id: str | None = None
    ) -> None:
        """Remember when the last successful run started: where the next incremental run picks up."""
        with self._write() as session:
            row = find_integration(session, integration_id, account_id)
            row.last_success_started_at = started_at
            row.updated_at = self._clock()

    def last_success(self, integration_id: str, account_id: str | None = None) -> datetime | None:
        with self._read() as session:
            return find_integration(session, integration_id, account_id).last_success_started_at

    def update_integration(
        self, id_or_name: str, account_id: str | None = None, **changes: Any
    ) -> Integration:
        """Change an integration's name, target table, column mapping, options, schedule, sync mode or
        reverse recipe (the fields in `changes`; a schedule of None stops scheduled runs). Credentials
        and the board do not change."""
        allowed = {"name", "target_table", "columns", "options", "schedule", "sync_mode", "reverse"}
        if unknown := set(changes) - allowed:
            raise ConfigurationError(f"cannot change {', '.join(sorted(unknown))} of an integration")
        if "sync_mode" in changes and changes["sync_mode"] not in SYNC_MODES:
            raise ConfigurationError(f"sync mode must be one of {', '.join(SYNC_MODES)}")
        try:
            with self._write() as session:
                row = find_integration(session, id_or_name, account_id)
                for field, value in changes.items():
                    if field == "columns":
                        field, value = "column_mapping", [dataclasses.asdict(c) for c in value]
                    if field == "options":
                        value = dataclasses.asdict(value)
                    if field == "reverse" and value is not None:
                        value = value.to_json()
                    if field == "schedule" and value != row.schedule:
                        row.last_scheduled_for = self._clock()  # a new schedule counts from now
                    setattr(row, field, value)
                row.updated_at = self._clock()
                session.flush()
                updated = _integration(row)
        except IntegrityError:
            raise ConfigurationError(f"integration '{changes.get('name')}' already exists") from None
        # a changed recipe may fix what its open alerts are about; if not, the next run says so again
        self.resolve_alerts(
            account_id=updated.account_id,
            integration_id=updated.id,
            credential=False,
            by="integration updated",
        )
        return updated

    def scheduled_integrations(self) -> list[tuple[Integration, dict[str, Any], datetime]]:
        """Every integration with a schedule, its schedule, and the instant its next due time counts
        from: the last scheduled run's due time, or when the schedule was set (`last_scheduled_for`
        holds either; other changes to the integration do not move it). Paused integrations are left out."""
        stmt = select(IntegrationRow).where(IntegrationRow.schedule.is_not(None)).order_by(IntegrationRow.id)
        stmt = stmt.where(IntegrationRow.paused_at.is_(None))
        with self._read() as session:
            return [
                (_integration(row), dict(row.schedule or {}), row.last_scheduled_for or row.created_at)
                for row in session.scalars(stmt)
                if row.schedule
            ]

    def realtime_integrations(self) -> list[Integration]:
        """Integrations with real-time sync switched on."""
        with self._read() as session:
            rows = session.scalars(select(IntegrationRow).where(IntegrationRow.realtime.is_not(None)))
            return [_integration(r) for r in rows if (r.realtime or {}).get("enabled")]

    def set_last_scheduled_for(self, integration_id: str, due: datetime) -> None:
        """Move the scheduler's watermark forward (never back: another scheduler may be ahead)."""
        with self._write() as session:
            session.execute(
                update(IntegrationRow)
                .where(IntegrationRow.id == integration_id)
                .where(
                    (IntegrationRow.last_scheduled_for.is_(None)) | (IntegrationRow.last_scheduled_for < due)
                )
                .values(last_scheduled_for=due)
            )

    def sync_state(self, integration_id: str, account_id: str | None = None) -> dict[str, Any]:
        """What the sync engine remembers between runs (see `sync.state`); empty before the first run."""
        with self._read() as session:
            return dict(find_integration(session, integration_id, account_id).sync_state or {})

    def set_sync_state(
        self, integration_id: str, state: dict[str, Any], account_id: str | None = None
    ) -> None:
        with self._write() as session:
            row = find_integration(session, integration_id, account_id)
            row.sync_state = state
            row.updated_at = self._clock()

    # -- feature flags -----------------------------------------------------------------------

    def set_flag(
        self, name: str, enabled: bool, value: Any = None, *, account_id: str | None = None
    ) -> FeatureFlag:
        """Create or change a flag: global when `account_id` is None, else for that account only."""
        for attempt in range(2):
            try:
                with self._write() as session:
                    row = session.scalars(_flag_query(name, account_id)).first()
                    if row is None:
                        row = FeatureFlagRow(name=name, account_id=account_id)
                        session.add(row)
                    row.enabled, row.value, row.updated_at = enabled, value, self._clock()
                return _flag(row)
            except IntegrityError:
                if attempt:  # lost an insert race twice, or the account does not exist
                    raise NotFoundError(f"account '{account_id}' not found") from None
        raise AssertionError("unreachable")

    def get_flag(self, name: str, account_id: str | None = None) -> FeatureFlag | None:
        """The flag exactly as set for this scope (no fallback to the global flag)."""
        with self._read() as session:
            row = session.scalars(_flag_query(name, account_id)).first()
            return None if row is None else _flag(row)

    def is_enabled(self, name: str, account_id: str | None = None, default: bool = False) -> bool:
        """The account's flag if set, else the global flag, else `default`."""
        if account_id is not None and (flag := self.get_flag(name, account_id)) is not None:
            return flag.enabled
        flag = self.get_flag(name)
        return default if flag is None else flag.enabled

    # -- run locks ---------------------------------------------------------------------------

    def acquire_lock(
        self,
        integration_id: str,
        owner: str,
        ttl_seconds: float = locks.DEFAULT_LOCK_TTL_SECONDS,
        *,
        now: datetime | None = None,
    ) -> int:
        return locks.acquire_lock(self.engine, integration_id, owner, ttl_seconds, now=now or self._clock())

    def renew_lock(
        self,
        integration_id: str,
        token: int,
        ttl_seconds: float = locks.DEFAULT_LOCK_TTL_SECONDS,
        *,
        now: datetime | None = None,
    ) -> None:
        locks.renew_lock(self.engine, integration_id, token, ttl_seconds, now=now or self._clock())

    def release_lock(self, integration_id: str, token: int) -> bool:
        return locks.release_lock(self.engine, integration_id, token)

    def check_lock(self, integration_id: str, token: int, *, now: datetime | None = None) -> None:
        locks.check_lock(self.engine, integration_id, token, now=now or self._clock())

    def get_lock(self, integration_id: str) -> locks.LockInfo | None:
        return locks.get_lock(self.engine, integration_id)

    # -- management API keys -----------------------------------------------------------------

    def create_api_key(self, account_id: str, name: str) -> tuple[str, ApiKeyRecord]:
        """A new key for the account: `(plaintext, record)`. The plaintext is shown once, here; only
        its SHA-256 is stored, so a lost key is replaced, not recovered."""
        name = name.strip()
        if not 0 < len(name) <= 255:
            raise ConfigurationError("an API key's name is 1 to 255 characters")
        plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(
            account_id=account_id,
            name=name,
            prefix=plaintext[:API_KEY_SHOWN_CHARS],
            key_hash=_key_hash(plaintext),
            created_at=self._clock(),
        )
        try:
            with self._write() as session:
                session.add(row)
        except IntegrityError:
            raise NotFoundError(f"account '{account_id}' not found", account_id=account_id) from None
        return plaintext, _api_key(row)

    def authenticate_api_key(self, plaintext: str) -> str:
        """The account a key belongs to. Raises AuthenticationError for an unknown or revoked key
        (the same message for both, and never the key itself)."""
        digest = _key_hash(plaintext)
        with self._read() as session:
            row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
            raise AuthenticationError("invalid or revoked API key")
        now = self._clock()
        if row.last_used_at is None or now - row.last_used_at >= timedelta(seconds=API_KEY_TOUCH_SECONDS):
            with self._write() as session:
                session.execute(update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=now))
        return row.account_id

    def list_api_keys(self, account_id: str) -> list[ApiKeyRecord]:
        """The account's keys, revoked ones included, newest first."""
        stmt = (
            select(ApiKeyRow)
            .where(ApiKeyRow.account_id == account_id)
            .order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id)
        )
        with self._read() as session:
            return [_api_key(r) for r in session.scalars(stmt)]

    def revoke_api_key(self, key_id: str, account_id: str) -> ApiKeyRecord:
        """Refuse the key from now on. Revoking twice keeps the first time."""
        with self._write() as session:
            row = session.scalars(
                select(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.account_id == account_id)
            ).first()
            if row is None:
                raise NotFoundError(f"API key '{key_id}' not found", api_key_id=key_id)
            if row.revoked_at is None:
                row.revoked_at = self._clock()
            return _api_key(row)


def _key_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _api_key(row: ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(
        row.id, row.account_id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at
    )


def _flag_query(name: str, account_id: str | None) -> Select[FeatureFlagRow]:
    scope = (
        FeatureFlagRow.account_id.is_(None) if account_id is None else FeatureFlagRow.account_id == account_id
    )
    return select(FeatureFlagRow).where(FeatureFlagRow.name == name, scope)


def _account(row: AccountRow) -> AccountRecord:
    return AccountRecord(row.id, row.name, row.external_id, row.created_at)


def _user(row: UserRow) -> UserRecord:
    return UserRecord(row.id, row.account_id, row.email, row.name, row.external_id, row.created_at)


def _connection(row: ConnectionRow) -> ConnectionPublic:
    return ConnectionPublic(
        row.id,
        row.account_id,
        row.kind,
        row.name,
        dict(row.config),
        row.status,
        row.created_at,
        row.updated_at,
    )


def _integration(row: IntegrationRow) -> Integration:
    known = {f.name for f in dataclasses.fields(IntegrationOptions)}
    return Integration(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        board_id=row.board_id,
        monday_connection_id=row.monday_connection_id,
        snowflake_connection_id=row.snowflake_connection_id,
        target_database=row.target_database,
        target_schema=row.target_schema,
        target_table=row.target_table,
        primary_key=row.primary_key,
        columns=tuple(
            ColumnMapping(column_id=c["column_id"], target=c.get("target")) for c in row.column_mapping
        ),
        options=IntegrationOptions(**{k: v for k, v in (row.options or {}).items() if k in known}),
        schedule=dict(row.schedule) if row.schedule else None,
        sync_mode="full" if row.sync_mode == "full" else "incremental",
        reverse=ReverseSpec.from_json(row.reverse) if row.reverse else None,
        paused_at=row.paused_at,
    )


def _flag(row: FeatureFlagRow) -> FeatureFlag:
    return FeatureFlag(row.name, row.enabled, row.value, row.account_id)
