"""Warehouse names from monday titles: sanitising, collisions, and quoting."""

from __future__ import annotations

import pytest

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model.board import ColumnSpec
from monday_snowflake.snowflake.naming import (
    METADATA_COLUMN_NAMES,
    column_names,
    quote_identifier,
    sanitise_identifier,
    table_name_for_board,
)

INJECTION = 'x"; DROP TABLE t; --'


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Due date", "DUE_DATE"),
        ("  Budget ($) -- Q1  ", "BUDGET_Q1"),
        ("Café crème", "CAFE_CREME"),
        ("Straße", "STRASSE"),
        ("Søren Ærø", "SOREN_AERO"),
        ("Ελληνικά", "FALLBACK"),  # no cheap transliteration: dropped
        ("ﬁle №", "FILE_NO"),  # compatibility forms decompose
        ("2024 plans", "_2024_PLANS"),
        ("already_SNAKE_case", "ALREADY_SNAKE_CASE"),
        ("a__b", "A_B"),
        ("Tasks \u2013 Größe", "TASKS_GROSSE"),
        (INJECTION, "X_DROP_TABLE_T"),
    ],
)
def test_sanitise_identifier(title: str, expected: str) -> None:
    assert sanitise_identifier(title, fallback="FALLBACK") == expected


@pytest.mark.parametrize("title", ["", "   ", "---", "项目看板", "🚀✨"])
def test_sanitise_identifier_falls_back_when_nothing_is_left(title: str) -> None:
    assert sanitise_identifier(title, fallback="BOARD_42") == "BOARD_42"


def test_sanitise_identifier_caps_the_length_without_a_trailing_underscore() -> None:
    name = sanitise_identifier("a" * 254 + " b c", fallback="X")
    assert len(name) <= 255
    assert name == "A" * 254
    assert len(sanitise_identifier("word " * 100, fallback="X")) <= 255


def test_sanitised_names_are_safe_unquoted_identifiers() -> None:
    for title in [INJECTION, "a.b", "Ä ö ü", "1", "select", "x\x00y", "tab\there"]:
        name = sanitise_identifier(title, fallback="F")
        assert name.replace("_", "").isalnum()
        assert name.isascii()
        assert not name[0].isdigit()


def test_table_name_for_board() -> None:
    assert table_name_for_board("Marketing Q1 Launch", 123) == "MARKETING_Q1_LAUNCH"
    assert table_name_for_board("项目", "123") == "BOARD_123"


def test_column_names_uses_sanitised_titles() -> None:
    columns = [ColumnSpec("status", "Status", "status"), ColumnSpec("date4", "Due date", "date")]
    assert column_names(columns, METADATA_COLUMN_NAMES) == {"status": "STATUS", "date4": "DUE_DATE"}


def test_column_names_suffixes_collisions_with_the_column_id() -> None:
    columns = [
        ColumnSpec("status_1", "Status", "status"),
        ColumnSpec("status", "Status", "status"),
        ColumnSpec("color_mkx1", "status!", "status"),
    ]
    assert column_names(columns, METADATA_COLUMN_NAMES) == {
        "status_1": "STATUS__STATUS_1",
        "status": "STATUS",
        "color_mkx1": "STATUS__COLOR_MKX1",
    }


def test_column_names_do_not_depend_on_board_order() -> None:
    columns = [
        ColumnSpec("status", "Status", "status"),
        ColumnSpec("status_1", "Status", "status"),
        ColumnSpec("text", "Name", "text"),
        ColumnSpec("text_mk1", "Notes", "text"),
    ]
    forward = column_names(columns, METADATA_COLUMN_NAMES)
    backward = column_names(list(reversed(columns)), METADATA_COLUMN_NAMES)
    assert forward == backward
    assert list(backward) == [c.id for c in reversed(columns)]  # but the result follows the input order


def test_column_names_never_take_a_metadata_name() -> None:
    columns = [
        ColumnSpec("text", "Name", "text"),
        ColumnSpec("id1", "item id", "text"),
        ColumnSpec("d", "created_at", "date"),
        ColumnSpec("s", "_synced_at", "text"),
    ]
    names = column_names(columns, METADATA_COLUMN_NAMES)
    assert names == {"text": "NAME__TEXT", "id1": "ITEM_ID__ID1", "d": "CREATED_AT__D", "s": "SYNCED_AT"}
    assert not set(names.values()) & set(METADATA_COLUMN_NAMES)


def test_column_names_are_unique_even_when_ids_sanitise_alike() -> None:
    columns = [
        ColumnSpec("a-b", "X", "text"),
        ColumnSpec("a_b", "X", "text"),
        ColumnSpec("a.b", "X", "text"),
        ColumnSpec("x", "X", "text"),
    ]
    names = column_names(columns, ())
    assert len(set(names.values())) == 4
    assert names["x"] == "X"
    assert sorted(names.values()) == ["X", "X__A_B", "X__A_B_2", "X__A_B_3"]


def test_column_names_collide_case_insensitively_with_reserved() -> None:
    names = column_names([ColumnSpec("c1", "Owner", "people")], ["owner"])
    assert names == {"c1": "OWNER__C1"}


def test_column_names_with_empty_or_untranslatable_titles_use_the_id() -> None:
    columns = [ColumnSpec("text_mk1", "", "text"), ColumnSpec("numbers", "数字", "numbers")]
    assert column_names(columns, METADATA_COLUMN_NAMES) == {"text_mk1": "TEXT_MK1", "numbers": "NUMBERS"}


def test_column_names_stay_within_the_length_limit_with_a_suffix() -> None:
    title = "x" * 300
    names = column_names([ColumnSpec("a", title, "text"), ColumnSpec("bb", title, "text")], ())
    assert names["a"] == "X" * 255
    assert names["bb"].endswith("__BB")
    assert len(names["bb"]) == 255


def test_quote_identifier_doubles_embedded_quotes() -> None:
    assert quote_identifier("DUE_DATE") == '"DUE_DATE"'
    assert quote_identifier("Mixed case") == '"Mixed case"'
    assert quote_identifier(INJECTION) == '"x""; DROP TABLE t; --"'


def test_quoted_injection_title_is_one_identifier() -> None:
    quoted = quote_identifier(INJECTION)
    inner = quoted[1:-1]
    # every quote inside is doubled, so the identifier cannot end early
    assert inner.replace('""', "") == INJECTION.replace('"', "")
    assert '"' not in inner.replace('""', "")


@pytest.mark.parametrize("bad", ["", "a\x00b", "x" * 256])
def test_quote_identifier_rejects_bad_names(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        quote_identifier(bad)


def test_quote_identifier_accepts_the_longest_name() -> None:
    assert quote_identifier("x" * 255) == '"' + "x" * 255 + '"'
