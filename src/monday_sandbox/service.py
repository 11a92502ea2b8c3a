"""The `/v2` request pipeline, independent of the web framework: auth, version, parsing and
validation, variables, board locks, complexity budget, execution, and monday's envelopes."""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLList,
    OperationDefinitionNode,
    execute,
    get_nullable_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from monday_sandbox.complexity import BudgetBook, BudgetReport, RequestCounter, RequestReport, query_cost
from monday_sandbox.context import RequestContext
from monday_sandbox.errors import RequestRejectedError, SandboxError
from monday_sandbox.executor import Executor
from monday_sandbox.faults import FaultBook
from monday_sandbox.model import Token
from monday_sandbox.mutations import build_mutation_resolvers
from monday_sandbox.paging import CursorStore
from monday_sandbox.queries import add_column_value_resolvers, build_query_resolvers, column_value_type
from monday_sandbox.schema import CURRENT_VERSION, CompiledDocument, DocumentCache, load_schema
from monday_sandbox.state import Sandbox
from monday_sandbox.webhooks import WebhookService

log = logging.getLogger(__name__)

KNOWN_VERSIONS = ("2026-07", "2026-10", "2027-01")
MAINTENANCE_VERSION = "2026-07"
RELEASE_CANDIDATE_VERSION = "2027-01"
FIRST_VERSION = "2023-04"
"""monday's first dated API version; quarterly versions from it up to Maintenance once existed."""
_QUARTER_MONTHS = frozenset((1, 4, 7, 10))
_VERSION_RE = re.compile(r"^\d{4}-\d{2}$")
_dumps = json.JSONEncoder(separators=(",", ":")).encode


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return _dumps(self.body).encode("utf-8")


def error_body(message: str, code: str, http_status: int, **extensions: Any) -> dict[str, Any]:
    return {
        "errors": [
            {"message": message, "extensions": {"code": code, "status_code": http_status, **extensions}}
        ]
    }


def resolve_version(header: str | None) -> str:
    """The version a request is served as, by monday's rules (API-FACTS §1.3), as of 2026-12:

    * missing or blank -> Current (2026-10);
    * a served version (2026-07 Maintenance, 2026-10 Current, 2027-01 RC) -> itself;
    * `dev` (monday's in-development version) -> the newest version the sandbox knows, the
      release candidate 2027-01;
    * a deprecated version -> silently Maintenance (2026-07). Deprecated means a quarterly
      version (YYYY-01/04/07/10) that once existed, from 2023-04 up to Maintenance, e.g. 2024-10
      and 2025-01 (deprecated 2026-02-15);
    * any other well-formed YYYY-MM (e.g. 2024-02, or a future quarter) -> silently Current;
    * anything else -> `InvalidVersionException`.

    The served version is what the response's `API-Version` header and `version` query report.
    """
    if header is None or header.strip() == "":
        return CURRENT_VERSION
    value = header.strip()
    if value.lower() == "dev":
        return RELEASE_CANDIDATE_VERSION
    if not _VERSION_RE.match(value) or not 1 <= int(value[5:]) <= 12:
        raise RequestRejectedError(
            200,
            error_body(
                f"Invalid API version '{value}', the format must be YYYY-MM", "InvalidVersionException", 200
            ),
        )
    if value in KNOWN_VERSIONS:
        return value
    if FIRST_VERSION <= value < MAINTENANCE_VERSION and int(value[5:]) in _QUARTER_MONTHS:
        return MAINTENANCE_VERSION
    return CURRENT_VERSION


def token_from_header(header: str | None) -> str | None:
    if not header:
        return None
    value = header.strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    return value or None


class GraphQLService:
    """Runs one `/v2` request; `run` is synchronous and takes the sandbox lock."""

    def __init__(self, sandbox: Sandbox, webhooks: WebhookService | None, faults: FaultBook) -> None:
        self.sandbox = sandbox
        self.webhooks = webhooks
        self.faults = faults
        self.schema = load_schema()
        self.documents = DocumentCache(self.schema)
        self.cursors = CursorStore(sandbox.clock)
        self.budgets = BudgetBook(sandbox.clock)
        self.requests = RequestCounter(sandbox.clock)
        self.in_flight = 0
        """Requests inside `run` (waiting for the sandbox lock or running): the account's concurrency."""
        self._flight_lock = threading.Lock()
        resolvers = build_query_resolvers()
        resolvers["Mutation"] = build_mutation_resolvers()
        interface = self.schema.type_map["ColumnValue"]
        implementations = [t.name for t in self.schema.get_possible_types(interface)]  # type: ignore[arg-type]

        def fields_of(name: str) -> dict[str, bool]:
            fields = getattr(self.schema.type_map[name], "fields", {})
            return {n: isinstance(get_nullable_type(f.type), GraphQLList) for n, f in fields.items()}

        add_column_value_resolvers(resolvers, implementations, fields_of)
        self.executor = Executor(self.schema, resolvers, {"ColumnValue": column_value_type})

    def authenticate(self, token_value: str | None) -> Token:
        token = self.sandbox.data.tokens.get(token_value or "")
        if token is None or token.user_id not in self.sandbox.data.users:
            raise RequestRejectedError(401, error_body("Not Authenticated", "Unauthorized", 401))
        return token

    def compile(self, payload: Any) -> tuple[CompiledDocument, OperationDefinitionNode, dict[str, Any]]:
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("query"), str)
            or not payload["query"].strip()
        ):
            raise RequestRejectedError(
                400, error_body("Bad request - the body must be JSON with a 'query' key", "BadRequest", 400)
            )
        variables = payload.get("variables") or {}
        if isinstance(variables, str):
            try:
                variables = json.loads(variables) if variables.strip() else {}
            except ValueError:
                variables = None
        if not isinstance(variables, dict):
            raise RequestRejectedError(
                400, error_body("Bad request - variables must be a JSON object", "BadRequest", 400)
            )
        compiled = self.documents.get(payload["query"])
        if compiled.errors:
            raise RequestRejectedError(200, {"errors": compiled.errors})
        operation = compiled.operation(payload.get("operationName"))
        if operation is None:
            name = payload.get("operationName")
            message = (
                f"Operation '{name}' not found"
                if name
                else "An operationName is required with several operations"
            )
            raise RequestRejectedError(200, error_body(message, "GRAPHQL_VALIDATION_FAILED", 200))
        return compiled, operation, variables

    def run(
        self,
        token: Token,
        version: str,
        compiled: CompiledDocument,
        operation: OperationDefinitionNode,
        raw_variables: dict[str, Any],
    ) -> Answer:
        with self._flight_lock:
            self.in_flight += 1
        try:
            requests = self.requests.count(token.value, self.sandbox.settings.minute_rate_limit)
            with self.sandbox.lock:
                return self._run(token, version, compiled, operation, raw_variables, requests)
        finally:
            with self._flight_lock:
                self.in_flight -= 1

    def _run(
        self,
        token: Token,
        version: str,
        compiled: CompiledDocument,
        operation: OperationDefinitionNode,
        raw_variables: dict[str, Any],
        requests: RequestReport,
    ) -> Answer:
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), raw_variables)
        if isinstance(coerced, list):
            errors = [
                {
                    "message": e.message,
                    "locations": [{"line": loc.line, "column": loc.column} for loc in e.locations or ()],
                    "extensions": {"code": "variableMismatch"},
                }
                for e in coerced
            ]
            return Answer(200, {"errors": errors})
        variables = coerced
        is_mutation = operation.operation.value == "mutation"
        if is_mutation:
            self._check_locks(token, operation, variables)
        assert compiled.document is not None
        fragments = {
            d.name.value: d for d in compiled.document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        cost = query_cost(self.schema, operation, fragments, variables)
        limit = self.sandbox.settings.query_complexity_limit
        if cost > limit:
            message = f"Query has complexity of {cost}, which exceeds max complexity of {limit}"
            return Answer(
                200, error_body(message, "maxComplexityExceeded", 200, complexity=cost, max_complexity=limit)
            )
        bucket = token.value if token.kind != "app" else f"{token.value}:{'write' if is_mutation else 'read'}"
        budget = self.sandbox.settings.complexity_budget
        try:
            report = self.budgets.charge(bucket, cost, budget)
        except SandboxError as err:
            retry = int(err.extra_extensions.get("retry_in_seconds", 60))
            peek = self.budgets.peek(bucket, budget)
            headers = {"Retry-After": str(retry), **self.rate_limit_headers(peek, requests)}
            return Answer(
                429,
                {
                    "errors": [
                        {"message": err.message, "extensions": {"code": err.code, "retry_in_seconds": retry}}
                    ]
                },
                headers,
            )
        user = self.sandbox.data.users[token.user_id]
        ctx = RequestContext(
            self.sandbox,
            token,
            user,
            self.cursors,
            self.webhooks,
            version,
            report,
            hidden_boards=self.faults.hidden_boards(token.value),
        )
        self.sandbox.acting_user_id = user.id
        try:
            if _introspection_only(operation):
                result = execute(
                    self.schema,
                    compiled.document,
                    variable_values=raw_variables,
                    operation_name=operation.name.value if operation.name else None,
                )
                assert isinstance(result, ExecutionResult)
                data: Any = result.data
                errors = [
                    {"message": e.message, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
                    for e in result.errors or ()
                ]
            else:
                data, errors = self.executor.execute(compiled, operation, variables, ctx)
        finally:
            self.sandbox.acting_user_id = None
        body: dict[str, Any] = {"data": data}
        if errors:
            body["errors"] = errors
        body["extensions"] = {"request_id": str(uuid.uuid4())}
        return Answer(200, body, self.rate_limit_headers(report, requests))

    def rate_limit_headers(self, report: BudgetReport, requests: RequestReport) -> dict[str, str]:
        return rate_limit_headers(report, requests, self.sandbox.settings.concurrency_limit, self.in_flight)

    def _check_locks(
        self, token: Token, operation: OperationDefinitionNode, variables: VariableValues
    ) -> None:
        mutation = self.schema.mutation_type
        assert mutation is not None
        for selection in operation.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.name.value not in mutation.fields:
                continue
            args = get_argument_values(mutation.fields[selection.name.value], selection, variables)
            board_id = args.get("board_id")
            if board_id is None and args.get("item_id") is not None:
                item = self.sandbox.item(args["item_id"])
                board_id = item.board_id if item else None
            if (
                board_id is not None
                and str(board_id).isdigit()
                and self.faults.locked(token.value, int(board_id))
            ):
                raise RequestRejectedError(
                    423,
                    error_body("Resource is currently locked, please try again later", "ResourceLocked", 423),
                    {"Retry-After": "1"},
                )


def rate_limit_headers(
    report: BudgetReport, requests: RequestReport, concurrency_limit: int, in_flight: int
) -> dict[str, str]:
    """monday's `RateLimit-Policy` / `RateLimit` headers (API-FACTS §3.3): `minuteRate` (this token's
    requests this minute), `concurrency` (the limit minus requests in flight, this one included) and
    `complexityMinute`. `t` appears on the first two only when the limit is exceeded."""
    minute = f'"minuteRate";r={requests.remaining}'
    if requests.count > requests.limit:
        minute += f";t={requests.reset_in_x_seconds}"
    concurrency = f'"concurrency";r={max(concurrency_limit - in_flight, 0)}'
    if in_flight > concurrency_limit:
        concurrency += ";t=1"
    return {
        "RateLimit-Policy": (
            f'"minuteRate";q={requests.limit};w=60, '
            f'"concurrency";q={concurrency_limit};qu="concurrent-requests", '
            f'"complexityMinute";q={report.budget};w=60;qu="content-bytes"'
        ),
        "RateLimit": (
            f"{minute}, {concurrency}, "
            f'"complexityMinute";r={max(report.after, 0)};t={report.reset_in_x_seconds}'
        ),
    }


def _introspection_only(operation: OperationDefinitionNode) -> bool:
    names = [s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    return bool(names) and all(n.startswith("__") for n in names) and any(n != "__typename" for n in names)
