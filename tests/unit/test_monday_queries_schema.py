"""Every GraphQL document the monday client can send is valid against the pinned 2026-10 schema."""

from __future__ import annotations

from pathlib import Path

import graphql
import pytest

from monday_snowflake.monday import queries
from monday_snowflake.monday.codecs import COLUMN_VALUE_SELECTION
from monday_snowflake.monday.queries import Shape

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "src" / "monday_sandbox" / "schema-2026-10.graphql"


@pytest.fixture(scope="module")
def schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


def _errors(schema: graphql.GraphQLSchema, document: str) -> list[str]:
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError as exc:
        return [f"parse: {exc.message}"]
    return [e.message for e in graphql.validate(schema, parsed)]


_NAMES = {"BOARD": queries.BOARD_QUERY} | {
    f"{kind} {shape}": family[shape]
    for kind, family in (("page", queries.ITEMS_PAGE), ("next", queries.NEXT_ITEMS_PAGE),
                         ("by_id", queries.ITEMS_BY_ID))
    for shape in Shape
}  # fmt: skip


def _name(document: str) -> str:
    named = next((name for name, text in _NAMES.items() if text == document), None)
    if named is not None:
        return named
    operation = graphql.parse(document).definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode) and operation.name is not None
    return f"{operation.name.value} ({len(operation.selection_set.selections) - 1} fields)"


def test_every_variant_is_listed() -> None:
    # board, items_page / next_items_page / items(ids:) in each shape, the two webhook mutations,
    # batched column writes of one and of several items; and reverse sync's groups and users
    # listings, column creation and mixed batch of creates, changes and archives; all distinct
    assert len(queries.ALL_DOCUMENTS) == 1 + 3 * len(Shape) + 2 + 2 + 4
    assert len(set(queries.ALL_DOCUMENTS)) == len(queries.ALL_DOCUMENTS)
    assert sum("SubitemFields" in d for d in queries.ALL_DOCUMENTS) == 3
    assert sum("parent_item { id }" in d for d in queries.ALL_DOCUMENTS) == 3


@pytest.mark.parametrize("document", queries.ALL_DOCUMENTS, ids=[_name(d) for d in queries.ALL_DOCUMENTS])
def test_document_validates_against_schema(schema: graphql.GraphQLSchema, document: str) -> None:
    assert _errors(schema, document) == []


@pytest.mark.parametrize("document", queries.ALL_DOCUMENTS, ids=[_name(d) for d in queries.ALL_DOCUMENTS])
def test_document_asks_for_complexity(document: str) -> None:
    assert queries.COMPLEXITY_SELECTION in document


def test_item_documents_use_the_codecs_column_value_selection() -> None:
    item_documents = [d for d in queries.ALL_DOCUMENTS if "column_values(ids:" in d]
    assert len(item_documents) == 3 * sum(shape.reads_columns for shape in Shape)
    assert all(f"{{ {COLUMN_VALUE_SELECTION} }}" in d for d in item_documents)


@pytest.mark.parametrize(
    ("document", "why"),
    [
        (
            queries.ITEMS_PAGE[Shape.ITEMS].replace("updated_at", "updated_at no_such_field", 1),
            "unknown field",
        ),
        (queries.BOARD_QUERY.replace("items_count", "items_total"), "unknown board field"),
        (
            queries.NEXT_ITEMS_PAGE[Shape.ITEMS].replace("$cursor: String!", "$cursor: Int!"),
            "wrong variable type",
        ),
        (
            'query { boards(ids: [1]) { next_items_page(cursor: "x", limit: 1) { cursor } } }',
            "next_items_page nested in boards",
        ),
        (
            queries.ITEMS_PAGE[Shape.WITH_SUBITEMS].replace(
                "subitems { ...SubitemFields }", "subitems { nope }"
            ),
            "bad subitem",
        ),
        ("query { boards { items_page(limit: 1) { cursor items { id } } ", "parse error"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_negative_control_invalid_documents_are_rejected(
    schema: graphql.GraphQLSchema, document: str, why: str
) -> None:
    assert _errors(schema, document), why


def test_write_batches_of_every_kind_and_size_validate(schema: graphql.GraphQLSchema) -> None:
    for kinds in (["create"], ["change"], ["archive"], ["change", "create", "archive"] * 20):
        assert _errors(schema, queries.write_batch_mutation(kinds)) == []
    with pytest.raises(ValueError, match="unknown write kind"):
        queries.write_batch_mutation(["delete"])
