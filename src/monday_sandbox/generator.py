"""Deterministic seeding: users, teams, tags and boards whose items exercise every column type.

`seed_account` builds a whole account; `seed_board` fills one board. The same seed on a fresh
sandbox (with the same clock) gives the same boards, items and values. Values are written through
the sandbox's `create_item`/`create_subitem` in monday's JSON write formats, so they pass the same
validation as API writes; types the API cannot write (file, time_tracking, vote) are stored on the
returned item directly in the form `columns.py` documents. Rows are deliberately awkward: whole
empty rows, unicode, commas, quotes and newlines, ~1,900-character long text, negative, decimal and
huge numbers, dates with and without time, several people, linked items and subitems.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from monday_sandbox.columns import iso_utc
from monday_sandbox.model import Board, Column, Group, Item, Tag, Team, User, Workspace


class SeedTarget(Protocol):
    """The Sandbox methods the seeder calls."""

    def create_user(self, name: str, email: str) -> User: ...
    def create_team(self, name: str, user_ids: list[int]) -> Team: ...
    def create_tag(self, name: str) -> Tag: ...
    def create_workspace(self, name: str) -> Workspace: ...
    def create_board(
        self, name: str, owner_id: int, workspace_id: int | None = None, board_kind: str = "public"
    ) -> Board: ...
    def create_group(self, board_id: int, title: str) -> Group: ...
    def create_column(
        self,
        board_id: int,
        title: str,
        column_type: str,
        settings: dict[str, Any] | None = None,
        column_id: str | None = None,
    ) -> Column: ...
    def create_item(
        self,
        board_id: int,
        name: str,
        group_id: str | None = None,
        column_values: dict[str, Any] | None = None,
        creator_id: int | None = None,
        create_labels_if_missing: bool = False,
        notify: bool = True,
    ) -> Item: ...
    def create_subitem(
        self,
        parent_item_id: int,
        name: str,
        column_values: dict[str, Any] | None = None,
        creator_id: int | None = None,
        create_labels_if_missing: bool = False,
        notify: bool = True,
    ) -> Item: ...


USER_NAMES = (
    ("Zoë Åberg", "zoe.aberg"),
    ("José Núñez", "jose.nunez"),
    ("李雷", "li.lei"),
    ("Ольга Петрова", "olga.petrova"),
    ("Søren O'Connor", "soren.oconnor"),
    ("Amélie Poulain", "amelie.poulain"),
    ("محمد علي", "mohammed.ali"),
    ("Priya Raman", "priya.raman"),
)
TEAM_NAMES = ("Data & Analytics", "Équipe Ventes")
TAG_NAMES = ("urgent", "customer", "q3-2026", "bug", "needs-review", "vip", "café", "blocked")

STATUS_LABELS = [
    {"id": 0, "label": "Working on it", "color": "working_orange", "index": 0, "is_done": False},
    {"id": 1, "label": "Done", "color": "done_green", "index": 1, "is_done": True},
    {"id": 2, "label": "Stuck", "color": "stuck_red", "index": 2, "is_done": False},
    {"id": 3, "label": "Waiting, on client", "color": "bright_blue", "index": 3, "is_done": False},
    {"id": 4, "label": "Prêt ✅", "color": "purple", "index": 4, "is_done": False},
    {"id": 5, "label": "", "color": "explosive", "index": 5, "is_done": False},
]
DROPDOWN_LABELS = ("Marketing", "Sales", "R&D, Europe", "Support", "Données", 'Legal "Ops"')

PLAIN_TEXTS = (
    "Call back next week",
    "Comma, separated, words",
    'She said "ship it" and left',
    "Line one\nLine two\nLine three",
    "Ünïcödé — 日本語のテキスト — 🚀✨",
    "Tab\tseparated\tcells",
    "Back\\slash and /slash/",
    "'single quotes' and `backticks`",
    "<b>not html</b> & an ampersand",
    "  leading and trailing spaces  ",
    "Robert'); DROP TABLE items;--",
    "∑ math: 2 ≤ x ≥ 3, ½ + ¼",
)
WORDS = (
    "pipeline", "contract", "renewal", "invoice", "rollout", "survey", "migration", "audit",
    "onboarding", "forecast", "prototype", "campaign", "review", "Zürich", "São Paulo", "東京",
)  # fmt: skip
NUMBERS = ("0", "-17", "3.14159", "12345678901234.5678", "-0.5", "1000000", "42", "-98765.4321", "0.001")
DOMAINS = ("example.com", "exämple.org", "mail.example.co.uk")
PLACES = (
    ("29.9772962", "31.1324955", "Giza Pyramid Complex, Al Haram, Egypt"),
    ("48.8583701", "2.2944813", "Champ de Mars, 5 Av. Anatole France, Paris"),
    ("-33.8567844", "151.2152967", "Sydney Opera House, Bennelong Point"),
    ("35.6585805", "139.7454329", "東京タワー, Minato City, Tokyo"),
    ("40.6892494", "-74.0445004", "Liberty Island, New York"),
)
PHONES = (("+12025550169", "US"), ("+442071838750", "GB"), ("+493012345678", "DE"), ("+81312345678", "JP"))
COUNTRY_PICKS = (
    ("US", "United States"),
    ("FR", "France"),
    ("JP", "Japan"),
    ("BR", "Brazil"),
    ("EG", "Egypt"),
)
ZONES = ("Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo")
COLOURS = ("#FF5AC4", "#00C875", "#579BFC", "#FDAB3D")
FILE_NAMES = ("spec v2.pdf", "photo-ü.png", "budget, final.xlsx", "notes.txt")
BASE_DAY = date(2026, 1, 5)  # a Monday
EPOCH_BASE = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass
class _People:
    user_ids: list[int]
    team_ids: list[int]
    tag_ids: list[int]


def seed_account(sandbox: SeedTarget, *, boards: int, items: int, subitems: int, seed: int) -> list[Board]:
    """Create users, teams, tags, a workspace, a small linked "Customers" board and `boards` boards.

    Returns the main boards; the Customers board is reachable through their board_relation
    column's `settings.boardIds`.
    """
    users = [sandbox.create_user(name, f"{slug}@example.com") for name, slug in USER_NAMES]
    user_ids = [user.id for user in users]
    teams = [sandbox.create_team(name, user_ids[n :: len(TEAM_NAMES)]) for n, name in enumerate(TEAM_NAMES)]
    tags = [sandbox.create_tag(name) for name in TAG_NAMES]
    people = _People(user_ids, [team.id for team in teams], [tag.id for tag in tags])
    workspace = sandbox.create_workspace("Sandbox workspace")
    customers = _seed_customers(
        sandbox, owner_id=user_ids[0], workspace_id=workspace.id, seed=seed, people=people
    )
    created = []
    for n in range(boards):
        name = "Projects" if n == 0 else f"Projects {n + 1}"
        created.append(
            _seed_main_board(
                sandbox,
                name=name,
                items=items,
                subitems_per_item=subitems,
                seed=seed * 1009 + n,
                owner_id=user_ids[0],
                workspace_id=workspace.id,
                people=people,
                linked=customers,
            )
        )
    return created


def seed_board(
    sandbox: SeedTarget,
    *,
    name: str,
    items: int,
    subitems_per_item: int,
    seed: int,
    owner_id: int,
    workspace_id: int | None = None,
) -> Board:
    """Create one board with every column type and fill it; relations link items on the same board.

    People values use the owner only, and tags are created with `create_tag`.
    """
    tags = [sandbox.create_tag(tag) for tag in TAG_NAMES[:4]]
    people = _People([owner_id], [], [tag.id for tag in tags])
    return _seed_main_board(
        sandbox,
        name=name,
        items=items,
        subitems_per_item=subitems_per_item,
        seed=seed,
        owner_id=owner_id,
        workspace_id=workspace_id,
        people=people,
        linked=None,
    )


def _seed_customers(
    sandbox: SeedTarget, *, owner_id: int, workspace_id: int, seed: int, people: _People
) -> tuple[Board, list[int]]:
    rng = random.Random(f"customers:{seed}")
    board = sandbox.create_board("Customers", owner_id, workspace_id=workspace_id)
    group = sandbox.create_group(board.id, "Accounts")
    sandbox.create_column(board.id, "Status", "status", {"labels": _copy(STATUS_LABELS)}, "status")
    sandbox.create_column(board.id, "Region", "text", None, "region")
    ids = []
    for n in range(40):
        values: dict[str, Any] = {"region": rng.choice(("EMEA", "APAC", "AMER", "LATAM, South"))}
        if n % 7:
            values["status"] = {"index": rng.choice((0, 1, 2, 3, 4))}
        item = sandbox.create_item(
            board.id, f"{rng.choice(WORDS).title()} Customer {n + 1}", group.id, values,
            creator_id=people.user_ids[n % len(people.user_ids)], notify=False,
        )  # fmt: skip
        ids.append(item.id)
    return board, ids


def _seed_main_board(
    sandbox: SeedTarget,
    *,
    name: str,
    items: int,
    subitems_per_item: int,
    seed: int,
    owner_id: int,
    workspace_id: int | None,
    people: _People,
    linked: tuple[Board, list[int]] | None,
) -> Board:
    rng = random.Random(f"board:{seed}:{name}")
    board = sandbox.create_board(name, owner_id, workspace_id=workspace_id)
    groups = [
        sandbox.create_group(board.id, title).id for title in ("Backlog", "In progress — Q3", "Done ✅")
    ]
    subtasks = sandbox.create_column(board.id, "Subitems", "subtasks", None, "subitems")
    sub_board_id = int(subtasks.settings["boardIds"][0])
    linked_board_id = linked[0].id if linked else board.id
    cols = _create_columns(sandbox, board.id, linked_board_id)
    _create_subitem_columns(sandbox, sub_board_id)

    relation_pool = list(linked[1]) if linked else []
    created: list[int] = []
    for n in range(items):
        creator = people.user_ids[n % len(people.user_ids)]
        values = {} if n % 10 == 9 else _row_values(rng, n, people, relation_pool, created)
        item = sandbox.create_item(
            board.id, _item_name(rng, n), groups[n % len(groups)], values, creator_id=creator, notify=False
        )
        if n % 10 != 9:
            _store_api_read_only(rng, item, cols, people, n)
        created.append(item.id)
        if not linked and len(relation_pool) < 50:
            relation_pool.append(item.id)
        for k in range(subitems_per_item):
            sandbox.create_subitem(
                item.id,
                f"{item.name[:200]} · step {k + 1}",
                _subitem_values(rng, n, k, people),
                creator_id=creator,
                notify=False,
            )
    return board


def _create_columns(sandbox: SeedTarget, board_id: int, linked_board_id: int) -> dict[str, Column]:
    """Every supported type, in a realistic order; ids equal the type names for readability."""
    specs: list[tuple[str, str, dict[str, Any] | None]] = [
        ("Status", "status", {"labels": _copy(STATUS_LABELS)}),
        ("Owner", "people", None),
        ("Due date", "date", None),
        ("Budget", "numbers", {"unit": {"symbol": "€", "direction": "right"}}),
        ("Notes", "text", None),
        ("Description", "long_text", None),
        ("Department", "dropdown", {"labels": [{"id": i, "label": lb, "is_deactivated": False}
                                               for i, lb in enumerate(DROPDOWN_LABELS, 1)]}),
        ("Timeline", "timeline", None),
        ("Sprint week", "week", None),
        ("Approved", "checkbox", None),
        ("Contact email", "email", None),
        ("Phone", "phone", None),
        ("Website", "link", None),
        ("Office", "location", None),
        ("Tags", "tags", None),
        ("Country", "country", None),
        ("Priority", "rating", {"max_rating": 5}),
        ("Call time", "hour", None),
        ("Local time", "world_clock", None),
        ("Time spent", "time_tracking", None),
        ("Files", "file", None),
        ("Customer", "board_relation", {"boardIds": [linked_board_id], "allowMultipleItems": True,
                                        "allowCreateReflectionColumn": False}),
        ("Customer status", "mirror", {"relation_column": {"board_relation": True},
                                       "displayed_linked_columns": {str(linked_board_id): ["status"]}}),
        ("Blocked by", "dependency", {"boardIds": [board_id]}),
        ("Budget with VAT", "formula", {"formula": "{numbers} * 1.2"}),
        ("Created", "creation_log", None),
        ("Last updated", "last_updated", None),
        ("Item ID", "item_id", None),
        ("Ticket #", "auto_number", None),
        ("Approve", "button", {"label": "Approve", "color": "#00c875"}),
        ("Colour", "color_picker", None),
        ("Votes", "vote", None),
        ("Progress", "progress", None),
        ("Team", "team", None),
        ("Brief", "doc", None),
    ]  # fmt: skip
    return {col_type: sandbox.create_column(board_id, title, col_type, settings, col_type)
            for title, col_type, settings in specs}  # fmt: skip


def _create_subitem_columns(sandbox: SeedTarget, sub_board_id: int) -> list[Column]:
    sub_labels = _copy(STATUS_LABELS[:3] + STATUS_LABELS[5:])
    return [
        sandbox.create_column(sub_board_id, "Owner", "people", None, "person"),
        sandbox.create_column(sub_board_id, "Status", "status", {"labels": sub_labels}, "status"),
        sandbox.create_column(sub_board_id, "Date", "date", None, "date0"),
        sandbox.create_column(sub_board_id, "Hours", "numbers", None, "numbers"),
        sandbox.create_column(sub_board_id, "Note", "text", None, "text"),
    ]  # fmt: skip


def _item_name(rng: random.Random, n: int) -> str:
    if n % 13 == 4:
        return f'Review "{rng.choice(WORDS)}", phase {n % 4 + 1}'
    if n % 17 == 6:
        return f"Ünïcödé {rng.choice(WORDS)} — 项目 {n + 1} 🚀"
    return f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} #{n + 1}"


def _long_text(rng: random.Random, n: int) -> str:
    if n % 25 == 3:
        para = 'Lorem ipsum, dolor "sit" amet — ünïcödé ✓. '
        return (para * 60)[:1900]
    return "\n".join(rng.choice(PLAIN_TEXTS) for _ in range(rng.randint(1, 4)))


def _row_values(
    rng: random.Random, n: int, people: _People, relation_pool: list[int], created: list[int]
) -> dict[str, Any]:
    """One item's column values in monday's JSON write formats; some left out (empty)."""
    day = BASE_DAY + timedelta(days=rng.randint(-400, 400))
    week_start = BASE_DAY + timedelta(weeks=rng.randint(-20, 20))
    user_ids = people.user_ids
    owners = rng.sample(user_ids, k=min(len(user_ids), rng.choice((1, 1, 2, 3))))
    persons: list[dict[str, Any]] = [{"id": i, "kind": "person"} for i in owners]
    if people.team_ids and n % 11 == 0:
        persons.append({"id": rng.choice(people.team_ids), "kind": "team"})
    lat, lng, address = rng.choice(PLACES)
    phone, phone_country = rng.choice(PHONES)
    code, country = rng.choice(COUNTRY_PICKS)
    slug = rng.choice(USER_NAMES)[1]
    text = "x" * 1000 + " — long text in a text column" if n % 50 == 7 else rng.choice(PLAIN_TEXTS)
    clock = f"{rng.randint(0, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
    status = {"index": rng.choice((0, 1, 1, 2, 3, 4))} if n % 3 else {"label": rng.choice(("Done", "Stuck"))}
    choices = {"labels": rng.sample(DROPDOWN_LABELS, k=rng.randint(1, 3))} if n % 2 else {"ids": [1 + n % 6]}
    week_end = week_start + timedelta(days=6)
    values: dict[str, Any] = {
        "status": status,
        "people": {"personsAndTeams": persons},
        "date": {"date": day.isoformat(), "time": clock} if n % 2 else {"date": day.isoformat()},
        "numbers": NUMBERS[n % len(NUMBERS)] if n % 4 == 0 else f"{rng.uniform(-5000, 50000):.2f}",
        "text": text,
        "long_text": {"text": _long_text(rng, n)},
        "dropdown": choices,
        "timeline": {"from": day.isoformat(), "to": (day + timedelta(days=rng.randint(0, 30))).isoformat()},
        "week": {"week": {"startDate": week_start.isoformat(), "endDate": week_end.isoformat()}},
        "checkbox": {"checked": "true"} if rng.random() < 0.6 else None,
        "email": {
            "email": f"{slug}+{n}@{rng.choice(DOMAINS)}",
            "text": rng.choice(("Work", "Perso, home", "Zoë")),
        },
        "phone": {"phone": phone, "countryShortName": phone_country},
        "link": {
            "url": f'https://example.com/p/{n}?q=a,b&x="y"',
            "text": rng.choice(("Spec", "Doc, v2", "Ünï")),
        },
        "location": {"lat": lat, "lng": lng, "address": address},
        "tags": {"tag_ids": rng.sample(people.tag_ids, k=min(len(people.tag_ids), rng.randint(1, 3)))},
        "country": {"countryCode": code, "countryName": country},
        "rating": {"rating": rng.randint(1, 5)},
        "hour": {"hour": rng.randint(0, 23), "minute": rng.choice((0, 5, 30, 59))},
        "world_clock": {"timezone": rng.choice(ZONES)},
        "color_picker": {"color": {"hex": rng.choice(COLOURS)}},
    }
    if people.team_ids:
        values["team"] = {"team_id": rng.choice(people.team_ids)}
    if relation_pool:
        values["board_relation"] = {
            "item_ids": rng.sample(relation_pool, k=min(len(relation_pool), rng.randint(1, 3)))
        }
    if created and n % 5 == 1:
        values["dependency"] = {"item_ids": [str(rng.choice(created[-20:]))]}
    # leave some cells empty in otherwise filled rows
    for key in list(values):
        if rng.random() < 0.12:
            del values[key]
    return values


def _store_api_read_only(
    rng: random.Random, item: Item, cols: dict[str, Column], people: _People, n: int
) -> None:
    """Fill the types the API can't write, in the stored form columns.py reads."""
    if n % 3 == 0:
        return
    stamp = iso_utc(item.created_at).replace("Z", ".000Z")
    start = EPOCH_BASE + n * 3600
    duration = rng.randint(60, 40 * 3600)
    item.values[cols["time_tracking"].id] = {
        "running": False,
        "duration": duration,
        "startDate": start,
        "changed_at": stamp,
        "additional_value": [
            {"id": item.id * 10 + 1, "started_at": start, "ended_at": start + duration, "status": "active",
             "started_user_id": item.creator_id, "ended_user_id": item.creator_id}
        ],
    }  # fmt: skip
    creator = str(item.creator_id)
    item.values[cols["file"].id] = {
        "files": [
            {"name": name, "assetId": item.id * 10 + k, "isImage": str(name.endswith(".png")).lower(),
             "fileType": "ASSET", "createdAt": (start + k) * 1000, "createdBy": creator}
            for k, name in enumerate(rng.sample(FILE_NAMES, k=rng.randint(1, 2)))
        ]
    }  # fmt: skip
    voters = rng.sample(people.user_ids, k=rng.randint(1, min(3, len(people.user_ids))))
    item.values[cols["vote"].id] = {"votersIds": voters, "changed_at": stamp}


def _subitem_values(rng: random.Random, n: int, k: int, people: _People) -> dict[str, Any]:
    if (n + k) % 6 == 5:
        return {}
    day = BASE_DAY + timedelta(days=rng.randint(-60, 60))
    return {
        "person": {"personsAndTeams": [{"id": rng.choice(people.user_ids), "kind": "person"}]},
        "status": {"index": rng.choice((0, 1, 2))},
        "date0": {"date": day.isoformat()},
        "numbers": rng.choice(("1.5", "-2", "8", "0.25")),
        "text": rng.choice(PLAIN_TEXTS),
    }


def _copy(labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(label) for label in labels]
