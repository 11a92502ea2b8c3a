"""Query complexity and the per-token, per-minute budget.

The model (monday does not publish its formula; this one keeps its shape):

* every selected field costs 1, plus the cost of its own selection;
* a list field multiplies its selection's cost by its size: the `limit` argument when there is one
  (`items_page`, `next_items_page`, `boards`, `items`, `users`, ...), else the number of `ids`
  given, else a default (20 for `column_values`, 10 for `subitems` and any other list);
* every mutation field adds a write cost of 10,000 (create_item and friends on monday cost about
  that much), `create_board` 50,000.

So `items_page(limit: 500) { items { id column_values { id text value } } }` costs
1 + 500 * (1 + 1 + (1 + 20 * 3)) = 31,501 points. A single query may cost at most 5,000,000
(`maxComplexityExceeded`). Each token has a bucket of `complexity_budget` points (10,000,000 by
default) that resets 60 s after the first call of a window; app tokens have separate read and write
buckets. A query that does not fit answers HTTP 429 `COMPLEXITY_BUDGET_EXHAUSTED` with
`retry_in_seconds` and `Retry-After`.

Besides complexity, each token's requests are counted per minute (`RequestCounter`, same window
rule) and its in-flight requests are counted, for the `minuteRate` and `concurrency` entries of the
`RateLimit` headers; those two limits are reported, not enforced.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues, get_argument_values

from monday_sandbox.clock import Clock
from monday_sandbox.errors import SandboxError

WINDOW_SECONDS = 60
DEFAULT_LIST_SIZE = 10
LIST_DEFAULTS = {"column_values": 20, "subitems": 10}
WRITE_COSTS = {"create_board": 50_000}
WRITE_COST = 10_000


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: VariableValues,
) -> int:
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    assert root is not None
    is_mutation = operation.operation.value == "mutation"
    total = _selection_cost(schema, root, operation.selection_set, fragments, variables, depth=0)
    if is_mutation:
        for selection in operation.selection_set.selections:
            name = selection.name.value if isinstance(selection, FieldNode) else ""
            # asking for the budget in a mutation writes nothing
            if name and not name.startswith("__") and name != "complexity":
                total += WRITE_COSTS.get(name, WRITE_COST)
    return total


def _selection_cost(
    schema: GraphQLSchema,
    parent: Any,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: VariableValues,
    depth: int,
) -> int:
    if selection_set is None or depth > 30:
        return 0
    total = 0
    by_type: dict[str, int] = {}  # fragments on implementations: only one applies per object
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field_cost(schema, parent, selection, fragments, variables, depth)
            continue
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else None
            inner = selection.selection_set
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            fragment = fragments[selection.name.value]
            condition = fragment.type_condition.name.value
            inner = fragment.selection_set
        else:
            continue
        target = schema.type_map.get(condition) if condition else parent
        cost = _selection_cost(schema, target, inner, fragments, variables, depth + 1)
        if condition is None or parent is None or condition == parent.name:
            total += cost
        else:
            by_type[condition] = by_type.get(condition, 0) + cost
    return total + max(by_type.values(), default=0)


def _field_cost(
    schema: GraphQLSchema,
    parent: Any,
    node: FieldNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: VariableValues,
    depth: int,
) -> int:
    name = node.name.value
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) or name not in parent.fields:
        return 1
    field_def: GraphQLField = parent.fields[name]
    field_type: Any = field_def.type
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    is_list = isinstance(field_type, GraphQLList)
    while isinstance(field_type, GraphQLNonNull | GraphQLList):
        field_type = field_type.of_type
    child = _selection_cost(schema, field_type, node.selection_set, fragments, variables, depth + 1)
    multiplier = 1
    try:
        args = get_argument_values(field_def, node, variables)
    except Exception:  # invalid variables are reported by the executor, not here
        args = {}
    limit = args.get("limit")
    ids = args.get("ids")
    if name in ("items_page", "next_items_page"):
        multiplier = max(1, int(limit or 25))
    elif is_list and not (parent.name == "ItemsResponse" and name == "items"):
        if isinstance(ids, list) and ids:
            multiplier = len(ids) if not isinstance(limit, int) else min(len(ids), limit)
        elif isinstance(limit, int):
            multiplier = max(1, limit)
        else:
            multiplier = LIST_DEFAULTS.get(name, DEFAULT_LIST_SIZE)
    return 1 + multiplier * child


@dataclass
class BudgetReport:
    before: int
    after: int
    query: int
    reset_in_x_seconds: int
    budget: int


class BudgetBook:
    """Per-token complexity buckets with a 60-second window starting at the first call."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, int]] = {}  # key -> (window start, used)

    def charge(self, key: str, cost: int, budget: int) -> BudgetReport:
        now = self.clock.timestamp()
        with self._lock:
            start, used = self._buckets.get(key, (now, 0))
            if now - start >= WINDOW_SECONDS:
                start, used = now, 0
            reset_in = max(1, math.ceil(start + WINDOW_SECONDS - now))
            before = budget - used
            if cost > before:
                self._buckets[key] = (start, used)
                raise SandboxError(
                    "Complexity budget exhausted",
                    "COMPLEXITY_BUDGET_EXHAUSTED",
                    http_status=429,
                    status_code=429,
                    extensions={"retry_in_seconds": reset_in},
                )
            used += cost
            self._buckets[key] = (start, used)
        return BudgetReport(before, before - cost, cost, reset_in, budget)

    def peek(self, key: str, budget: int) -> BudgetReport:
        now = self.clock.timestamp()
        with self._lock:
            start, used = self._buckets.get(key, (now, 0))
        if now - start >= WINDOW_SECONDS:
            start, used = now, 0
        remaining = budget - used
        return BudgetReport(remaining, remaining, 0, max(1, math.ceil(start + WINDOW_SECONDS - now)), budget)

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


@dataclass
class RequestReport:
    """One token's request count in its current minute window."""

    limit: int
    count: int
    reset_in_x_seconds: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.count, 0)


class RequestCounter:
    """Requests per token per minute: a counter whose 60-second window starts at the first call."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, requests)

    def count(self, key: str, limit: int) -> RequestReport:
        now = self.clock.timestamp()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= WINDOW_SECONDS:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
        return RequestReport(limit, count, max(1, math.ceil(start + WINDOW_SECONDS - now)))

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
