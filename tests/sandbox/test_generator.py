"""The seeder: same seed, same account; every column type present; awkward values present."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from monday_sandbox import columns, generator
from monday_sandbox.model import Board, Column, Group, Item, Tag, Team, User, Workspace

CLOCK = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class RecordingSandbox:
    """A minimal stand-in for `Sandbox`: the seeder's methods plus the codecs' look-ups.

    Writes go through `columns.write_json`, as the real sandbox's create_item does.
    """

    def __init__(self) -> None:
        self._ids = itertools.count(1_000_000_000)
        self.users: dict[int, User] = {}
        self.teams: dict[int, Team] = {}
        self.tags: dict[int, Tag] = {}
        self.boards: dict[int, Board] = {}
        self.items: dict[int, Item] = {}

    # -- ColumnContext
    def user(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    def team(self, team_id: int) -> Team | None:
        return self.teams.get(team_id)

    def tag(self, tag_id: int) -> Tag | None:
        return self.tags.get(tag_id)

    def item(self, item_id: int) -> Item | None:
        return self.items.get(item_id)

    def board(self, board_id: int) -> Board | None:
        return self.boards.get(board_id)

    def user_timezone(self) -> str:
        return "Europe/Paris"

    def now(self) -> datetime:
        return CLOCK

    # -- SeedTarget
    def create_user(self, name: str, email: str) -> User:
        user = User(next(self._ids), 1, name, email)
        self.users[user.id] = user
        return user

    def create_team(self, name: str, user_ids: list[int]) -> Team:
        team = Team(next(self._ids), name, list(user_ids))
        self.teams[team.id] = team
        return team

    def create_tag(self, name: str) -> Tag:
        for tag in self.tags.values():
            if tag.name == name:
                return tag
        tag = Tag(next(self._ids), name)
        self.tags[tag.id] = tag
        return tag

    def create_workspace(self, name: str) -> Workspace:
        return Workspace(next(self._ids), name)

    def create_board(
        self, name: str, owner_id: int, workspace_id: int | None = None, board_kind: str = "public"
    ) -> Board:
        board = Board(next(self._ids), name, workspace_id, owner_id, board_kind=board_kind)
        self.boards[board.id] = board
        return board

    def create_group(self, board_id: int, title: str) -> Group:
        group = Group(f"group_{next(self._ids)}", title)
        self.boards[board_id].groups[group.id] = group
        return group

    def create_column(
        self,
        board_id: int,
        title: str,
        column_type: str,
        settings: dict[str, Any] | None = None,
        column_id: str | None = None,
    ) -> Column:
        board = self.boards[board_id]
        col = Column(column_id or f"col_{next(self._ids)}", title, column_type,
                     settings if settings is not None else columns.default_settings(column_type))  # fmt: skip
        if column_type == "subtasks":
            sub = self.create_board(f"Subitems of {board.name}", board.owner_id, board.workspace_id)
            sub.type, sub.parent_board_id = "sub_items_board", board.id
            self.create_group(sub.id, "Subitems")
            col.settings["boardIds"] = [sub.id]
        board.columns[col.id] = col
        return col

    def create_item(
        self,
        board_id: int,
        name: str,
        group_id: str | None = None,
        column_values: dict[str, Any] | None = None,
        creator_id: int | None = None,
        create_labels_if_missing: bool = False,
        notify: bool = True,
    ) -> Item:
        board = self.boards[board_id]
        assert not notify, "the seeder must take the bulk path"
        assert 1 <= len(name) <= 255
        item = Item(next(self._ids), board_id, group_id or next(iter(board.groups)), name,
                    creator_id or board.owner_id, CLOCK, CLOCK)  # fmt: skip
        for column_id, raw in (column_values or {}).items():
            col = board.columns[column_id]
            item.values[column_id] = columns.write_json(col, raw, self)
        self.items[item.id] = item
        board.item_ids.append(item.id)
        return item

    def create_subitem(
        self,
        parent_item_id: int,
        name: str,
        column_values: dict[str, Any] | None = None,
        creator_id: int | None = None,
        create_labels_if_missing: bool = False,
        notify: bool = True,
    ) -> Item:
        assert not notify, "the seeder must take the bulk path"
        parent = self.items[parent_item_id]
        subtasks = next(c for c in self.boards[parent.board_id].columns.values() if c.type == "subtasks")
        sub_board_id = subtasks.settings["boardIds"][0]
        item = self.create_item(sub_board_id, name, None, column_values, creator_id, notify=False)
        item.parent_item_id = parent.id
        parent.subitem_ids.append(item.id)
        return item

    # -- test helpers
    def snapshot(self) -> str:
        """Everything the seeder produced, as one comparable string (ids included)."""
        out: list[Any] = []
        for board in self.boards.values():
            out.append([board.id, board.name, board.type, list(board.groups),
                        [(c.id, c.type, c.settings) for c in board.columns.values()]])  # fmt: skip
        for item in self.items.values():
            out.append([item.id, item.board_id, item.group_id, item.name, item.creator_id, item.values,
                        item.subitem_ids, item.parent_item_id])  # fmt: skip
        out.append([(u.id, u.name) for u in self.users.values()])
        return json.dumps(out, ensure_ascii=False, sort_keys=True)

    def rendered(self, board: Board) -> list[dict[str, Any]]:
        """Every cell of a board as the API would show it."""
        rows = []
        for item_id in board.item_ids:
            item = self.items[item_id]
            row = {}
            for col in board.columns.values():
                stored = item.values.get(col.id)
                row[col.id] = (
                    columns.render_value(col, stored, item),
                    columns.render_text(col, stored, self, item),
                    columns.typed_fields(col, stored, self, item),
                )
            rows.append(row)
        return rows


def seeded(seed: int = 7, items: int = 120) -> tuple[RecordingSandbox, list[Board]]:
    sandbox = RecordingSandbox()
    boards = generator.seed_account(sandbox, boards=2, items=items, subitems=2, seed=seed)
    return sandbox, boards


def test_same_seed_gives_identical_output() -> None:
    first, _ = seeded(seed=7)
    second, _ = seeded(seed=7)
    assert first.snapshot() == second.snapshot()


def test_another_seed_gives_other_values() -> None:
    assert seeded(seed=7)[0].snapshot() != seeded(seed=8)[0].snapshot()


def test_boards_cover_every_supported_column_type() -> None:
    _sandbox, boards = seeded()
    assert len(boards) == 2
    for board in boards:
        assert {c.type for c in board.columns.values()} == set(columns.SUPPORTED_TYPES) - {"direct_doc"}
        assert len(board.item_ids) == 120


def test_every_writable_type_has_values_and_empties() -> None:
    sandbox, (board, _) = seeded()
    items = [sandbox.items[i] for i in board.item_ids]
    for col in board.columns.values():
        if not columns.is_writable(col.type) and col.type not in ("time_tracking", "file", "vote"):
            continue
        if col.type == "doc":
            continue
        filled = sum(1 for item in items if item.values.get(col.id) is not None)
        assert 0 < filled < len(items), col.type
    assert any(not item.values for item in items), "a row with every value empty"


def test_subitems_live_on_the_linked_subitems_board() -> None:
    sandbox, (board, _) = seeded()
    subtasks = board.columns["subitems"]
    sub_board = sandbox.boards[subtasks.settings["boardIds"][0]]
    assert sub_board.type == "sub_items_board" and sub_board.parent_board_id == board.id
    assert set(sub_board.columns) == {"person", "status", "date0", "numbers", "text"}
    parent = sandbox.items[board.item_ids[0]]
    assert len(parent.subitem_ids) == 2
    assert all(sandbox.items[i].board_id == sub_board.id for i in parent.subitem_ids)
    value = columns.render_value(subtasks, None, parent)
    assert (
        value is not None and json.loads(value)["linkedPulseIds"][0]["linkedPulseId"] == parent.subitem_ids[0]
    )


def test_relations_point_at_the_linked_board_and_mirror_shows_its_status() -> None:
    sandbox, (board, _) = seeded()
    relation = board.columns["board_relation"]
    (linked_board_id,) = relation.settings["boardIds"]
    assert sandbox.boards[linked_board_id].name == "Customers"
    rows = sandbox.rendered(board)
    linked = [row for row in rows if row["board_relation"][2]["linked_item_ids"]]
    assert linked and all(row["board_relation"][:2] == (None, None) for row in linked)
    assert any(len(row["board_relation"][2]["linked_item_ids"]) > 1 for row in linked)
    assert any(row["mirror"][2]["display_value"] for row in linked)
    assert any(row["dependency"][2]["linked_item_ids"] for row in rows)
    assert any(row["formula"][2]["display_value"] not in ("", "0") for row in rows)


def test_awkward_values_are_present() -> None:
    sandbox, (board, _) = seeded(items=200)
    texts = [t for row in sandbox.rendered(board) if (t := row["text"][1])]
    assert any("," in t for t in texts) and any('"' in t for t in texts) and any("\n" in t for t in texts)
    assert any(any(ord(ch) > 0x2E80 for ch in t) for t in texts), "CJK or emoji"
    assert any(len(t) > 1000 for t in texts)
    items = [sandbox.items[i] for i in board.item_ids]
    long_texts = [i.values["long_text"]["text"] for i in items if i.values.get("long_text")]
    assert any(1800 <= len(t) <= 2000 for t in long_texts)
    numbers = {i.values.get("numbers") for i in items}
    assert {"12345678901234.5678", "-17", "3.14159"} <= numbers
    dates = [i.values["date"] for i in items if i.values.get("date")]
    assert any("time" in d for d in dates) and any("time" not in d for d in dates)
    people = [i.values["people"]["personsAndTeams"] for i in items if i.values.get("people")]
    assert any(len(p) >= 2 for p in people)
    assert any(any(e["kind"] == "team" for e in p) for p in people)
    names = {u.name for u in sandbox.users.values()}
    assert "李雷" in names and "Søren O'Connor" in names
    assert any('"' in i.name for i in items) and any("," in i.name for i in items)


def test_every_cell_renders() -> None:
    sandbox, boards = seeded(items=60)
    for board in [*boards, *(b for b in sandbox.boards.values() if b.type == "sub_items_board")]:
        for row in sandbox.rendered(board):
            for value, _text, typed in row.values():
                assert value is None or isinstance(json.loads(value), dict | list | str)
                assert isinstance(typed, dict)


def test_seed_board_alone_links_items_on_the_same_board() -> None:
    sandbox = RecordingSandbox()
    owner = sandbox.create_user("Owner Ö", "owner@example.com")
    board = generator.seed_board(
        sandbox, name="Solo", items=30, subitems_per_item=1, seed=3, owner_id=owner.id
    )
    assert board.columns["board_relation"].settings["boardIds"] == [board.id]
    linked = [i for i in board.item_ids if sandbox.items[i].values.get("board_relation")]
    assert linked
    assert all(len(sandbox.items[i].subitem_ids) == 1 for i in board.item_ids)


@pytest.mark.parametrize("seed", [1, 99])
def test_all_generated_writes_are_valid_monday_formats(seed: int) -> None:
    # RecordingSandbox.create_item validates every value through columns.write_json;
    # seeding without an exception is the proof.
    sandbox, _boards = seeded(seed=seed, items=80)
    assert sum(len(b.item_ids) for b in sandbox.boards.values()) == 40 + 2 * 80 * 3


def test_seeding_the_real_sandbox_renders_every_cell() -> None:
    from monday_sandbox.state import Sandbox

    sandbox = Sandbox()
    boards = generator.seed_account(sandbox, boards=1, items=40, subitems=1, seed=5)
    (board,) = boards
    assert {c.type for c in board.columns.values()} >= set(columns.SUPPORTED_TYPES) - {"direct_doc"}
    for item_id in board.item_ids:
        item = sandbox.item(item_id)
        assert item is not None and len(item.subitem_ids) == 1
        for col in board.columns.values():
            stored = item.values.get(col.id)
            columns.render_value(col, stored, item)
            columns.render_text(col, stored, sandbox, item)
            columns.typed_fields(col, stored, sandbox, item)
