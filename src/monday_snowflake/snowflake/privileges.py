"""Checking a warehouse connection and a target schema by running what a sync needs.

`check_target` runs the statements a load runs, on the connection given: a trivial query, `USE
WAREHOUSE` (USAGE on the warehouse), `USE SCHEMA` (USAGE on the database and schema), a temporary table
created and dropped in the schema (CREATE TABLE) and the loader's own stage (CREATE STAGE). Snowflake's
`SHOW GRANTS` would miss privileges inherited through role hierarchies and future grants; running the
statements asks Snowflake itself. A refused statement is reported with the GRANT that fixes it.

`POST /connections/{id}/test` and the integration API (a new integration, a changed target) share it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from monday_snowflake.errors import (
    AuthenticationError,
    ConfigurationError,
    MondaySnowflakeError,
    NotFoundError,
    PermissionDeniedError,
)
from monday_snowflake.model import TableRef
from monday_snowflake.snowflake.loader import STAGE_NAME
from monday_snowflake.snowflake.naming import quote_identifier
from monday_snowflake.snowflake.sql import create_namespace, stage_ref

Status = Literal["ok", "missing", "failed", "skipped"]
CHECK_TABLE_PREFIX = "MONDAY_SNOWFLAKE_CHECK_"


class Statements(Protocol):
    """What the check needs of a warehouse session (`SnowflakeWarehouse` has it)."""

    def query(self, statement: str, params: Any = None) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Check:
    """One thing checked: `ok`, `missing` (a privilege; `grant` says how to give it), `failed` (another
    error) or `skipped` (an earlier check failed, or there is nothing to check)."""

    name: str
    status: Status
    message: str
    grant: str | None = None


@dataclass(frozen=True)
class CheckReport:
    database: str
    schema: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.status in ("ok", "skipped") for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "database": self.database,
            "schema": self.schema,
            "checks": [asdict(c) for c in self.checks],
        }

    def raise_unless_ok(self) -> None:
        """PermissionDeniedError (403) naming the first missing privilege and its GRANT; a
        ConfigurationError (422) for any other failed check."""
        for check in self.checks:
            if check.status == "missing":
                raise PermissionDeniedError(
                    f"the Snowflake connection cannot sync to {self.database}.{self.schema}: {check.message}"
                    f" (run: {check.grant})",
                    check=check.name,
                    grant=check.grant or "",
                )
        for check in self.checks:
            if check.status == "failed":
                raise ConfigurationError(
                    f"the Snowflake connection cannot sync to {self.database}.{self.schema}: {check.message}",
                    check=check.name,
                )


def check_connection(
    open_session: Callable[[], Statements],
    *,
    database: str,
    schema: str,
    warehouse: str | None = None,
    role: str | None = None,
) -> CheckReport:
    """Open a session with `open_session` and `check_target` on it; a session that cannot be opened
    is one `connect` check that failed (with the reason, never a credential)."""
    try:
        session = open_session()
    except MondaySnowflakeError as exc:
        reason = "the credentials were refused" if isinstance(exc, AuthenticationError) else "it failed"
        skipped = tuple(
            Check(name, "skipped", "not checked: no session")
            for name in ("query", "warehouse_usage", "schema_usage", "create_table", "create_stage")
        )
        return CheckReport(
            database, schema, (Check("connect", "failed", f"could not connect ({reason}): {exc}"), *skipped)
        )
    try:
        checks = check_target(session, database=database, schema=schema, warehouse=warehouse, role=role)
    finally:
        session.close()
    return CheckReport(database, schema, (Check("connect", "ok", "connected"), *checks.checks))


def check_target(
    session: Statements,
    *,
    database: str,
    schema: str,
    warehouse: str | None = None,
    role: str | None = None,
) -> CheckReport:
    """The checks, in order; once the schema cannot be used, the checks inside it are skipped."""
    grantee = f"ROLE {quote_identifier(role)}" if role else "ROLE <the connection's role>"
    q_db, q_schema = quote_identifier(database), quote_identifier(schema)
    checks: list[Check] = []

    checks.append(_run(session, "query", "SELECT 1", "a trivial query ran", None))

    if warehouse:
        q_wh = quote_identifier(warehouse)
        checks.append(
            _run(
                session,
                "warehouse_usage",
                f"USE WAREHOUSE {q_wh}",
                f"warehouse {warehouse} can be used",
                f"GRANT USAGE ON WAREHOUSE {q_wh} TO {grantee}",
                needs=f"USAGE on warehouse {warehouse}",
            )
        )
    else:
        checks.append(
            Check(
                "warehouse_usage", "skipped", "no warehouse configured: the user's default warehouse is used"
            )
        )

    for statement in create_namespace(TableRef(database, schema, "_")):
        # as the loader does: create what is missing if allowed, else use what exists
        with contextlib.suppress(MondaySnowflakeError):
            session.query(statement)
    usage = _run(
        session,
        "schema_usage",
        f"USE SCHEMA {q_db}.{q_schema}",
        f"schema {database}.{schema} can be used",
        f"GRANT USAGE ON DATABASE {q_db} TO {grantee}; GRANT USAGE ON SCHEMA {q_db}.{q_schema} TO {grantee}",
        needs=f"USAGE on database {database} and schema {database}.{schema}",
    )
    checks.append(usage)
    if usage.status != "ok":
        checks += [
            Check(name, "skipped", f"not checked: schema {database}.{schema} cannot be used")
            for name in ("create_table", "create_stage")
        ]
        return CheckReport(database, schema, tuple(checks))

    table = quote_identifier(f"{CHECK_TABLE_PREFIX}{uuid.uuid4().hex[:12].upper()}")
    created = _run(
        session,
        "create_table",
        f'CREATE TEMPORARY TABLE {table} ("ID" NUMBER)',
        f"tables can be created in {database}.{schema}",
        f"GRANT CREATE TABLE ON SCHEMA {q_db}.{q_schema} TO {grantee}",
        needs=f"CREATE TABLE on schema {database}.{schema}",
    )
    checks.append(created)
    if created.status == "ok":
        with contextlib.suppress(MondaySnowflakeError):  # temporary: it goes with the session anyway
            session.query(f"DROP TABLE IF EXISTS {table}")
    stage = stage_ref(TableRef(database, schema, "_"), STAGE_NAME)
    checks.append(
        _run(
            session,
            "create_stage",
            f"CREATE STAGE IF NOT EXISTS {stage}",
            f"the load stage {STAGE_NAME} can be created in {database}.{schema}",
            f"GRANT CREATE STAGE ON SCHEMA {q_db}.{q_schema} TO {grantee}",
            needs=f"CREATE STAGE on schema {database}.{schema}",
        )
    )
    return CheckReport(database, schema, tuple(checks))


def _run(
    session: Statements, name: str, statement: str, success: str, grant: str | None, *, needs: str = ""
) -> Check:
    try:
        session.query(statement)
    except PermissionDeniedError as exc:
        return Check(name, "missing", f"missing privilege {needs}: {_first_line(exc)}", grant)
    except NotFoundError as exc:
        return Check(name, "missing", f"missing or not visible, {needs} is needed: {_first_line(exc)}", grant)
    except MondaySnowflakeError as exc:
        return Check(name, "failed", f"{statement.split(' ')[0]} failed: {_first_line(exc)}")
    return Check(name, "ok", success)


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
