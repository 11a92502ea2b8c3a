"""Privileges the embedded warehouse can be told to refuse, the way Snowflake refuses them.

fakesnow grants everything to everyone. To see what the product does when a role lacks a privilege
(the connection test, the checks on a new integration), the embedded warehouse's HTTP server can be
told to refuse `CREATE TABLE` or `CREATE STAGE` in a schema: such a statement is answered with
Snowflake's own error, 003001 / SQLSTATE 42501 "Insufficient privileges to operate on schema", before
fakesnow sees it. The refusals live in `<data_dir>/warehouse/refused_privileges.json`, so every process
sharing the data directory sees the same ones; `EmbeddedWarehouse.refuse` / `.allow` write it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.snowflake.embedded_intercept import Interceptor, snowflake_error

REFUSABLE = ("CREATE TABLE", "CREATE STAGE")
FILE_NAME = "refused_privileges.json"
QUERY_PATH = "/queries/v1/query-request"

_IDENT = r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)'
_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:LOCAL|GLOBAL)\s+)?(?:(?:TEMP|TEMPORARY|VOLATILE|TRANSIENT)\s+)?"
    rf"(?P<kind>TABLE|STAGE)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}})",
    re.IGNORECASE,
)
_PART = re.compile(_IDENT)


def read_refusals(path: Path) -> set[tuple[str, str, str]]:
    """`(privilege, database, schema)` refused; empty when the file is missing or unreadable."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return set()
    return {(str(r["privilege"]), str(r["database"]), str(r["schema"])) for r in raw if isinstance(r, dict)}


def change(path: Path, rule: tuple[str, str, str], *, refuse: bool) -> None:
    """Add (`refuse`) or remove one `(privilege, database, schema)` refusal."""
    if rule[0] not in REFUSABLE:
        raise ConfigurationError(f"the embedded warehouse can refuse {' or '.join(REFUSABLE)} only")
    rules = read_refusals(path)
    write_refusals(path, rules | {rule} if refuse else rules - {rule})


def write_refusals(path: Path, refusals: set[tuple[str, str, str]]) -> None:
    rows = [{"privilege": p, "database": d, "schema": s} for p, d, s in sorted(refusals)]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows))
    tmp.replace(path)


def refused(
    sql: str, session_database: str | None, session_schema: str | None, rules: set[tuple[str, str, str]]
) -> tuple[str, str] | None:
    """The `(privilege, schema)` a statement needs and is refused, or None."""
    match = _CREATE.match(sql)
    if match is None:
        return None
    parts = [_name(p) for p in _PART.findall(match["name"])]
    database, schema = session_database, session_schema
    if len(parts) == 3:
        database, schema = parts[0], parts[1]
    elif len(parts) == 2:
        schema = parts[0]
    privilege = f"CREATE {match['kind'].upper()}"
    if database and schema and (privilege, database, schema) in rules:
        return privilege, schema
    return None


class RefusingServer(Interceptor[set[tuple[str, str, str]]]):
    """ASGI wrapper of fakesnow's server app that answers refused statements with Snowflake's error."""

    path = QUERY_PATH

    def read_rules(self, path: Path) -> set[tuple[str, str, str]]:
        return read_refusals(path)

    def answer(
        self, headers: dict[str, str], request: dict[str, Any], rules: set[tuple[str, str, str]]
    ) -> bytes | None:
        session = _session(headers.get("authorization", ""))
        database = getattr(session, "database", None)
        schema = getattr(session, "schema", None)
        hit = refused(str(request.get("sqlText", "")), database, schema, rules)
        if hit is None:
            return None
        message = f"SQL access control error:\nInsufficient privileges to operate on schema '{hit[1]}'"
        return snowflake_error("003001", message, {"errorCode": "003001", "sqlState": "42501"})


def _session(authorization: str) -> Any:
    """fakesnow's session of a `Snowflake Token="..."` header, if any."""
    import fakesnow.server as fs_server

    token = authorization[17:-1] if authorization.startswith('Snowflake Token="') else ""
    return fs_server.sessions.get(token)


def _name(part: str) -> str:
    """An identifier as Snowflake resolves it: quoted kept as is, unquoted upper-cased."""
    if part.startswith('"'):
        return part[1:-1].replace('""', '"')
    return part.upper()
