"""Warehouse names from monday names: sanitised table and column names, and safe identifier quoting.

Sanitising gives readable upper snake-case names (`Due date` -> `DUE_DATE`); quoting makes any name,
sanitised or configured verbatim, safe to put in SQL. Every identifier we emit goes through
`quote_identifier`, so a title such as `x"; DROP TABLE t; --` is a name and never SQL.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model.board import ColumnSpec

MAX_IDENTIFIER_LENGTH = 255

# The columns every replicated table has besides the board's own.
METADATA_COLUMN_NAMES = (
    "ITEM_ID",
    "NAME",
    "GROUP_ID",
    "GROUP_TITLE",
    "CREATED_AT",
    "UPDATED_AT",
    "_SYNCED_AT",
    "_UNPARSED",
)

# Between a colliding name and the column-id suffix that tells it apart. Sanitised text never holds two
# underscores in a row, so a suffixed name can never equal another column's plain name.
COLLISION_SEPARATOR = "__"


# Latin letters that NFKD does not decompose into ASCII.
_LATIN_EXTRAS = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "TH",
        "ð": "d",
        "Ð": "D",
        "\u0131": "i",  # dotless i
    }
)


def sanitise_identifier(text: str, *, fallback: str) -> str:
    """`text` as an upper snake-case name: accents dropped (`Café` -> `CAFE`, `Größe` -> `GROSSE`),
    other non-ASCII letters dropped, every run of other characters turned into one `_`, no leading or
    trailing `_`, a `_` in front of a leading digit, at most 255 characters. `fallback` when nothing
    is left."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LATIN_EXTRAS))
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii")
    parts: list[str] = []
    word: list[str] = []
    for char in ascii_text.upper():
        if char.isalnum():
            word.append(char)
        elif word:
            parts.append("".join(word))
            word = []
    if word:
        parts.append("".join(word))
    name = "_".join(parts)
    if not name:
        return fallback
    if name[0].isdigit():
        name = "_" + name
    return _truncate(name, MAX_IDENTIFIER_LENGTH)


def _truncate(name: str, length: int) -> str:
    if len(name) <= length:
        return name
    return name[:length].rstrip("_") or name[:length]


def table_name_for_board(board_name: str, board_id: str | int) -> str:
    """The default table name of a board: its sanitised name, or `BOARD_<id>` when nothing is left."""
    return sanitise_identifier(board_name, fallback=f"BOARD_{board_id}")


def column_names(
    columns: Sequence[ColumnSpec], reserved: Collection[str] = METADATA_COLUMN_NAMES
) -> dict[str, str]:
    """Column id -> unique warehouse column name, from the sanitised titles.

    Names are compared case-insensitively. A name that is reserved (the metadata columns), or that an
    earlier column already holds, becomes `<NAME>__<SANITISED_COLUMN_ID>` (e.g. `STATUS__STATUS_1`).
    "Earlier" is by (length of column id, column id), not board order: dragging columns around on the
    board never renames a warehouse column, and monday's older, shorter ids (`status`) keep the plain
    name over later ones (`status_1`, `color_mkx1`). A column with an empty title is named by its id.
    """
    taken = {name.upper() for name in reserved}
    names: dict[str, str] = {}
    for column in sorted(columns, key=lambda c: (len(c.id), c.id)):
        id_name = sanitise_identifier(column.id, fallback="COLUMN")[:64]
        name = sanitise_identifier(column.title, fallback=id_name)
        base, counter = name, 1
        while name.upper() in taken:
            # counter > 1 only when two ids sanitise alike (`a-b` and `a_b`)
            suffix = COLLISION_SEPARATOR + id_name + (f"_{counter}" if counter > 1 else "")
            name = _truncate(base, MAX_IDENTIFIER_LENGTH - len(suffix)) + suffix
            counter += 1
        taken.add(name.upper())
        names[column.id] = name
    return {column.id: names[column.id] for column in columns}


def quote_identifier(name: str) -> str:
    """`name` as a Snowflake double-quoted identifier (case kept, embedded `"` doubled).

    Raises ConfigurationError for an empty name, a NUL character, or more than 255 characters."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError("an identifier must be a non-empty string", identifier=repr(name))
    if "\x00" in name:
        raise ConfigurationError("an identifier must not contain a NUL character", identifier=repr(name))
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise ConfigurationError(
            f"an identifier must be at most {MAX_IDENTIFIER_LENGTH} characters", identifier=name[:40] + "..."
        )
    return '"' + name.replace('"', '""') + '"'
