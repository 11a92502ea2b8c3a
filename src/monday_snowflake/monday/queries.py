"""Every GraphQL document the monday client sends, built once; all user values travel as variables.

Filters (`query_params`) and column selections (`column_values(ids:)`) are variables too: when a
variable is left out of the request, GraphQL treats its argument as absent, so one document serves
both the filtered and the unfiltered read. `ALL_DOCUMENTS` lists them all for the schema test.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from monday_snowflake.monday.codecs import COLUMN_VALUE_SELECTION

COMPLEXITY_SELECTION = "complexity { before after query reset_in_x_seconds }"

_ITEM_SCALARS = "id name state created_at updated_at"


class Shape(StrEnum):
    """What is read of each item in a page."""

    ITEMS = "items"
    """Metadata and the selected column values."""
    WITH_SUBITEMS = "with_subitems"
    """As ITEMS, plus every subitem with the column values of `$subitemColumnIds` (all when absent;
    subitems have their own board and column ids)."""
    SUBITEMS = "subitems"
    """Items of a subitems board: metadata, all column values, and the parent item's id."""
    IDS = "ids"
    """Ids only, the cheapest listing: to find items that left the board."""
    IDS_WITH_SUBITEMS = "ids_with_subitems"
    """Ids and the ids of each item's subitems."""

    @property
    def reads_columns(self) -> bool:
        return self not in (Shape.IDS, Shape.IDS_WITH_SUBITEMS)


def _item_fragments(shape: Shape) -> str:
    """`ItemFields` (and `SubitemFields`): what is read for each item of a page."""
    if shape is Shape.IDS:
        return "\nfragment ItemFields on Item { id }"
    if shape is Shape.IDS_WITH_SUBITEMS:
        return "\nfragment ItemFields on Item { id subitems { id } }"
    extra = {
        Shape.ITEMS: "",
        Shape.WITH_SUBITEMS: "\n  subitems { ...SubitemFields }",
        Shape.SUBITEMS: "\n  parent_item { id }",
    }[shape]
    fragments = f"""
fragment ItemFields on Item {{
  {_ITEM_SCALARS}
  group {{ id title }}
  column_values(ids: $columnIds) {{ {COLUMN_VALUE_SELECTION} }}{extra}
}}"""
    if shape is Shape.WITH_SUBITEMS:
        fragments += f"""
fragment SubitemFields on Item {{
  {_ITEM_SCALARS}
  group {{ id title }}
  column_values(ids: $subitemColumnIds) {{ {COLUMN_VALUE_SELECTION} }}
}}"""
    return fragments


def _column_ids_variable(shape: Shape) -> str:
    """Column selections are variables; naming the columns also keeps monday's complexity charge down
    (a `column_values` without ids is charged as if the board had many)."""
    if shape is Shape.WITH_SUBITEMS:
        return ", $columnIds: [String!], $subitemColumnIds: [String!]"
    return ", $columnIds: [String!]" if shape.reads_columns else ""


def items_page_query(shape: Shape) -> str:
    """First page of a board's items; `$queryParams` optional (monday forbids it with a cursor)."""
    variables = f"$boardId: ID!, $limit: Int!, $queryParams: ItemsQuery{_column_ids_variable(shape)}"
    return f"""query ItemsPage({variables}) {{
  {COMPLEXITY_SELECTION}
  boards(ids: [$boardId]) {{
    items_page(limit: $limit, query_params: $queryParams) {{ cursor items {{ ...ItemFields }} }}
  }}
}}{_item_fragments(shape)}
"""


def next_items_page_query(shape: Shape) -> str:
    """Following pages, by cursor, at the root (monday rejects `next_items_page` nested in `boards`)."""
    return f"""query NextItemsPage($cursor: String!, $limit: Int!{_column_ids_variable(shape)}) {{
  {COMPLEXITY_SELECTION}
  next_items_page(cursor: $cursor, limit: $limit) {{ cursor items {{ ...ItemFields }} }}
}}{_item_fragments(shape)}
"""


def items_by_id_query(shape: Shape) -> str:
    """Items by id (active, archived or deleted); `$limit` must equal the number of ids (default is 25)."""
    return f"""query ItemsById($ids: [ID!]!, $limit: Int!{_column_ids_variable(shape)}) {{
  {COMPLEXITY_SELECTION}
  items(ids: $ids, limit: $limit) {{ ...ItemFields }}
}}{_item_fragments(shape)}
"""


BOARD_QUERY = f"""query Board($boardId: ID!) {{
  {COMPLEXITY_SELECTION}
  boards(ids: [$boardId]) {{
    id name type items_count
    columns {{ id title type settings }}
  }}
}}
"""

CREATE_WEBHOOK = f"""mutation CreateWebhook(
  $boardId: ID!, $url: String!, $event: WebhookEventType!, $config: JSON
) {{
  {COMPLEXITY_SELECTION}
  create_webhook(board_id: $boardId, url: $url, event: $event, config: $config) {{ id board_id event }}
}}
"""

DELETE_WEBHOOK = f"""mutation DeleteWebhook($id: ID!) {{
  {COMPLEXITY_SELECTION}
  delete_webhook(id: $id) {{ id }}
}}
"""


def change_column_values_mutation(count: int) -> str:
    """`count` items' column values changed in one request (aliases `c0`, `c1`, ...), on one board:
    `$i<n>` is an item id and `$v<n>` its `{column id: value}` JSON."""
    variables = ", ".join(f"$i{n}: ID!, $v{n}: JSON!" for n in range(count))
    changes = "\n  ".join(
        f"c{n}: change_multiple_column_values("
        f"board_id: $boardId, item_id: $i{n}, column_values: $v{n}) {{ id }}"
        for n in range(count)
    )
    return f"""mutation ChangeColumnValues($boardId: ID!, {variables}) {{
  {COMPLEXITY_SELECTION}
  {changes}
}}
"""


BOARD_GROUPS_QUERY = f"""query BoardGroups($boardId: ID!) {{
  {COMPLEXITY_SELECTION}
  boards(ids: [$boardId]) {{ id groups {{ id title }} }}
}}
"""

USERS_QUERY = f"""query Users($limit: Int, $page: Int) {{
  {COMPLEXITY_SELECTION}
  users(limit: $limit, page: $page) {{ id email }}
}}
"""

CREATE_COLUMN = f"""mutation CreateColumn($boardId: ID!, $title: String!, $type: ColumnType!) {{
  {COMPLEXITY_SELECTION}
  create_column(board_id: $boardId, title: $title, column_type: $type) {{ id title type settings }}
}}
"""

WRITE_KINDS = ("create", "change", "archive")


def write_batch_mutation(kinds: Sequence[str]) -> str:
    """Several writes on one board in one request, aliased `w0`, `w1`, ... in order. Per kind:
    `create` (`$n<i>` item name, `$g<i>` group or null, `$v<i>` column values JSON),
    `change` (`$i<i>` item id, `$v<i>` column values JSON), `archive` (`$i<i>` item id)."""
    declared: list[str] = []
    fields: list[str] = []
    for n, kind in enumerate(kinds):
        if kind == "create":
            declared.append(f"$n{n}: String!, $g{n}: String, $v{n}: JSON")
            fields.append(
                f"w{n}: create_item(board_id: $boardId, item_name: $n{n}, group_id: $g{n}, "
                f"column_values: $v{n}, create_labels_if_missing: true) {{ id }}"
            )
        elif kind == "change":
            declared.append(f"$i{n}: ID!, $v{n}: JSON!")
            fields.append(
                f"w{n}: change_multiple_column_values(board_id: $boardId, item_id: $i{n}, "
                f"column_values: $v{n}, create_labels_if_missing: true) {{ id }}"
            )
        elif kind == "archive":
            declared.append(f"$i{n}: ID!")
            fields.append(f"w{n}: archive_item(item_id: $i{n}) {{ id }}")
        else:
            raise ValueError(f"unknown write kind {kind!r}")
    body = "\n  ".join(fields)
    if any(kind != "archive" for kind in kinds):
        declared.insert(0, "$boardId: ID!")
    return f"""mutation WriteItems({", ".join(declared)}) {{
  {COMPLEXITY_SELECTION}
  {body}
}}
"""


ITEMS_PAGE = {shape: items_page_query(shape) for shape in Shape}
NEXT_ITEMS_PAGE = {shape: next_items_page_query(shape) for shape in Shape}
ITEMS_BY_ID = {shape: items_by_id_query(shape) for shape in Shape}

ALL_DOCUMENTS: list[str] = [
    BOARD_QUERY,
    *ITEMS_PAGE.values(),
    *NEXT_ITEMS_PAGE.values(),
    *ITEMS_BY_ID.values(),
    CREATE_WEBHOOK,
    DELETE_WEBHOOK,
    change_column_values_mutation(1),
    change_column_values_mutation(3),
    BOARD_GROUPS_QUERY,
    USERS_QUERY,
    CREATE_COLUMN,
    write_batch_mutation(["create", "change", "archive", "create"]),
]
"""Every document the client can send, for validation against the pinned schema."""
