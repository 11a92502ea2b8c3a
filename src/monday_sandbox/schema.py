"""The 2026-10 schema shipped with the package, and parsed-and-validated documents cached by text.

Validation errors are mapped to the codes monday's GraphQL server (graphql-ruby) uses, e.g.
`undefinedField`, so a client sees the same envelope it would get from api.monday.com.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    parse,
    validate,
)

SCHEMA_FILE = "schema-2026-10.graphql"
CURRENT_VERSION = "2026-10"


@cache
def load_schema() -> GraphQLSchema:
    """Build the schema once per process (it takes about half a second)."""
    sdl = resources.files("monday_sandbox").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return build_schema(sdl)


@dataclass
class CompiledDocument:
    """A parsed, validated document plus caches the executor fills in while running it."""

    document: DocumentNode | None
    errors: list[dict[str, Any]]
    operations: dict[str | None, OperationDefinitionNode] = field(default_factory=dict)
    has_variable_directives: bool = False
    plans: dict[Any, Any] = field(default_factory=dict)
    costs: dict[Any, int] = field(default_factory=dict)

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        if name:
            return self.operations.get(name)
        if len(self.operations) == 1:
            return next(iter(self.operations.values()))
        return None


_VALIDATION_CODES = [
    (re.compile(r"^Cannot query field"), "undefinedField"),
    (re.compile(r"^Unknown argument"), "argumentNotAccepted"),
    (re.compile(r"argument .* is required"), "missingRequiredArguments"),
    (re.compile(r"^Unknown type"), "undefinedType"),
    (re.compile(r"^Variable .* is never used"), "variableNotUsed"),
    (re.compile(r"^Variable .* is not defined"), "undefinedVariable"),
    (re.compile(r"^Variable .* of type .* used in position"), "variableMismatch"),
    (re.compile(r"must have a selection of subfields"), "selectionMismatch"),
    (re.compile(r"must not have a selection since"), "selectionMismatch"),
    (re.compile(r"conflict because"), "fieldConflict"),
    (re.compile(r"^Unknown fragment"), "undefinedFragment"),
    (re.compile(r"^Fragment .* is never used"), "useAndDefineFragment"),
    (re.compile(r"cannot represent|Expected value of type"), "argumentLiteralsIncompatible"),
]


def validation_error(err: GraphQLError) -> dict[str, Any]:
    code = "GRAPHQL_VALIDATION_FAILED"
    for pattern, name in _VALIDATION_CODES:
        if pattern.search(err.message):
            code = name
            break
    return error_dict(err, code)


def error_dict(err: GraphQLError, code: str) -> dict[str, Any]:
    out: dict[str, Any] = {"message": err.message}
    if err.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in err.locations]
    out["extensions"] = {"code": code}
    return out


class DocumentCache:
    """LRU of `CompiledDocument` by query text: parsing and validating a big query costs milliseconds."""

    def __init__(self, schema: GraphQLSchema, size: int = 256) -> None:
        self.schema = schema
        self.size = size
        self._lock = threading.Lock()
        self._docs: OrderedDict[str, CompiledDocument] = OrderedDict()

    def get(self, query: str) -> CompiledDocument:
        with self._lock:
            found = self._docs.get(query)
            if found is not None:
                self._docs.move_to_end(query)
                return found
        compiled = self._compile(query)
        with self._lock:
            self._docs[query] = compiled
            while len(self._docs) > self.size:
                self._docs.popitem(last=False)
        return compiled

    def _compile(self, query: str) -> CompiledDocument:
        try:
            document = parse(query)
        except GraphQLError as err:
            message = err.message.replace("Syntax Error: ", "Parse error on ")
            err_out = error_dict(err, "GRAPHQL_PARSE_FAILED")
            err_out["message"] = message
            return CompiledDocument(None, [err_out])
        errors = validate(self.schema, document)
        if errors:
            return CompiledDocument(None, [validation_error(e) for e in errors])
        operations: dict[str | None, OperationDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                operations[definition.name.value if definition.name else None] = definition
        has_var_directives = "@skip" in query or "@include" in query
        return CompiledDocument(document, [], operations, has_var_directives)
