"""Every GraphQL document the monday client sends, built once; all user values travel as variables.

Filters (`query_params`) and column selections (`column_values(ids:)`) are variables too: when a
variable is left out of the request, GraphQL treats its argument as absent, so one document serves
both the filtered and the unfiltered read. `ALL_DOCUMENTS` lists them all for the schema test.
"""

from __future__ import annotations

from monday_snowflake.monday.codecs import COLUMN_VALUE_SELECTION

COMPLEXITY_SELECTION = "complexity { before after query reset_in_x_seconds }"

_ITEM_SCALARS = "id name state created_at updated_at"


def _item_fragments(with_subitems: bool) -> str:
    """`ItemFields` (and `SubitemFields`): what is read for each item and, optionally, its subitems.

    Subitems live on another board with their own column ids, so they get all their column values.
    """
    subitems = "\n  subitems { ...SubitemFields }" if with_subitems else ""
    fragments = f"""
fragment ItemFields on Item {{
  {_ITEM_SCALARS}
  group {{ id title }}
  column_values(ids: $columnIds) {{ {COLUMN_VALUE_SELECTION} }}{subitems}
}}"""
    if with_subitems:
        fragments += f"""
fragment SubitemFields on Item {{
  {_ITEM_SCALARS}
  column_values {{ {COLUMN_VALUE_SELECTION} }}
}}"""
    return fragments


def items_page_query(*, with_subitems: bool) -> str:
    """First page of a board's items; `$queryParams` optional (monday forbids it with a cursor)."""
    variables = "$boardId: ID!, $limit: Int!, $queryParams: ItemsQuery, $columnIds: [String!]"
    return f"""query ItemsPage({variables}) {{
  {COMPLEXITY_SELECTION}
  boards(ids: [$boardId]) {{
    items_page(limit: $limit, query_params: $queryParams) {{ cursor items {{ ...ItemFields }} }}
  }}
}}{_item_fragments(with_subitems)}
"""


def next_items_page_query(*, with_subitems: bool) -> str:
    """Following pages, by cursor, at the root (monday rejects `next_items_page` nested in `boards`)."""
    return f"""query NextItemsPage($cursor: String!, $limit: Int!, $columnIds: [String!]) {{
  {COMPLEXITY_SELECTION}
  next_items_page(cursor: $cursor, limit: $limit) {{ cursor items {{ ...ItemFields }} }}
}}{_item_fragments(with_subitems)}
"""


def items_by_id_query(*, with_subitems: bool) -> str:
    """Items by id (active, archived or deleted); `$limit` must equal the number of ids (default is 25)."""
    return f"""query ItemsById($ids: [ID!]!, $limit: Int!, $columnIds: [String!]) {{
  {COMPLEXITY_SELECTION}
  items(ids: $ids, limit: $limit) {{ ...ItemFields }}
}}{_item_fragments(with_subitems)}
"""


BOARD_QUERY = f"""query Board($boardId: ID!) {{
  {COMPLEXITY_SELECTION}
  boards(ids: [$boardId]) {{
    id name type items_count
    columns {{ id title type settings }}
  }}
}}
"""

ITEMS_PAGE = {flag: items_page_query(with_subitems=flag) for flag in (False, True)}
NEXT_ITEMS_PAGE = {flag: next_items_page_query(with_subitems=flag) for flag in (False, True)}
ITEMS_BY_ID = {flag: items_by_id_query(with_subitems=flag) for flag in (False, True)}

ALL_DOCUMENTS: list[str] = [
    BOARD_QUERY,
    *ITEMS_PAGE.values(),
    *NEXT_ITEMS_PAGE.values(),
    *ITEMS_BY_ID.values(),
]
"""Every document the client can send, for validation against the pinned schema."""
