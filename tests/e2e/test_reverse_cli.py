"""`integrations add-reverse` as a user runs it: separate processes, the sandbox over HTTP, the source
table in the embedded warehouse of the command's own data directory."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.conftest import TOKEN, Served
from tests.e2e.test_cli import run
from tests.e2e.test_reverse import Accounts

from monday_snowflake.monday.client import MondayClient
from monday_snowflake.monday.queries import Shape
from monday_snowflake.settings import MondaySettings

TABLE = "MONDAY.PUBLIC.SCORES"
ROWS = (  # CODE, TITLE, SCORE, STAGE, DONE; S-4 is filtered out by the source's WHERE
    "('S-1', 'Acme', 12.5, 'Open', TRUE), ('S-2', 'Globex', -3, 'Won', FALSE), "
    "('S-3', 'Initech, Ltd', 1000000.25, 'Open', NULL), ('S-4', 'Hidden', 1, 'Won', TRUE)"
)
SOURCE = f"SELECT CODE, TITLE, SCORE, STAGE, DONE FROM {TABLE} WHERE CODE <> 'S-4'"


class Scores(Accounts):
    """The reverse tests' board (text key, numbers, status, checkbox, long-text errors, formula)."""

    def __init__(self, served: Served) -> None:
        super().__init__(served)
        self.id = str(self.board.id)
        self.score = self.amount

    def options(self, *, source: str = SOURCE, maps: dict[str, str] | None = None) -> list[str]:
        """The add-reverse options of a good recipe, `source` and `maps` replaceable."""
        maps = maps if maps is not None else {
            "TITLE": "name", "SCORE": self.score, "STAGE": self.stage, "DONE": self.done,
        }  # fmt: skip
        given = ["--board", self.id, "--source", source, "--key", f"CODE={self.code}"]
        for column, target in maps.items():
            given += ["--map", f"{column}={target}"]
        return [*given, "--monday-token", TOKEN, "--monday-url", self.served.api_url]

    def board_view(self) -> dict[str, dict[str, str]]:
        """The board as monday's API shows it: code -> name and the text of each column."""

        async def read() -> dict[str, dict[str, str]]:
            found: dict[str, dict[str, str]] = {}
            settings = MondaySettings(api_url=self.served.api_url)
            async with MondayClient(settings, TOKEN) as client:
                async for page in client.iter_item_pages(self.id, shape=Shape.ITEMS):
                    for item in page:
                        texts = {c["id"]: c.get("text") or "" for c in item["column_values"]}
                        assert texts[self.code] not in found, f"two items have the key {texts[self.code]}"
                        found[texts[self.code]] = {"name": item["name"], **texts}
            return found

        return asyncio.run(read())


def warehouse(sql: str, data_dir: Path) -> list[dict[str, Any]]:
    return list(json.loads(run("warehouse", "query", "--format", "json", sql, data_dir=data_dir).stdout))


def make_source(data_dir: Path) -> None:
    run("db", "upgrade", data_dir=data_dir)
    warehouse(f"CREATE TABLE {TABLE} (CODE VARCHAR, TITLE VARCHAR, SCORE NUMBER(12,2), STAGE VARCHAR, "
              f"DONE BOOLEAN)", data_dir)  # fmt: skip
    warehouse(f"INSERT INTO {TABLE} VALUES {ROWS}", data_dir)


def assert_board_equals_source(scores: Scores, data_dir: Path) -> None:
    rows = warehouse(SOURCE, data_dir)
    view = scores.board_view()
    assert sorted(view) == sorted(r["CODE"] for r in rows)
    for row in rows:
        item = view[row["CODE"]]
        assert item["name"] == row["TITLE"]
        assert Decimal(item[scores.score]) == Decimal(str(row["SCORE"]))
        assert item[scores.stage] == row["STAGE"]
        assert bool(item[scores.done]) == bool(row["DONE"])


def test_a_reverse_integration_added_from_the_command_line_pushes_the_table_to_the_board(
    served: Served, tmp_path: Path
) -> None:
    scores = Scores(served)
    make_source(tmp_path)
    added = run(
        "integrations", "add-reverse", *scores.options(), "--name", "scores",
        "--display-errors-column", scores.errors, "--schedule", '{"schedule_type": "DAILY", "hour": 6}',
        data_dir=tmp_path,
    )  # fmt: skip
    assert "created reverse integration scores" in added.stdout

    recipe = json.loads(run("integrations", "show", "scores", data_dir=tmp_path).stdout)
    assert recipe["board_id"] == scores.id
    assert recipe["reverse"]["source"] == SOURCE
    assert (recipe["reverse"]["key_column"], recipe["reverse"]["key_target"]) == ("CODE", scores.code)
    assert recipe["reverse"]["mapping"] == {
        "TITLE": "name", "SCORE": scores.score, "STAGE": scores.stage, "DONE": scores.done,
    }  # fmt: skip
    flags = ("create_missing", "update_existing", "archive_missing", "create_columns")
    assert [recipe["reverse"][f] for f in flags] == [True, True, False, False]
    assert recipe["options"]["display_errors_column"] == scores.errors
    assert recipe["schedule"]["schedule_type"] == "DAILY" and recipe["schedule"]["hour"] == 6
    assert TOKEN not in json.dumps(recipe)

    first = run("sync", "run", "scores", data_dir=tmp_path)
    assert "3 rows read; created 3, updated 0" in first.stdout, first.stdout
    assert_board_equals_source(scores, tmp_path)

    warehouse(f"UPDATE {TABLE} SET SCORE = 99, STAGE = 'Won' WHERE CODE = 'S-1'", tmp_path)
    second = run("sync", "run", "scores", data_dir=tmp_path)
    assert "created 0, updated 1, archived 0, unchanged 2" in second.stdout, second.stdout
    assert_board_equals_source(scores, tmp_path)

    third = run("sync", "run", "scores", data_dir=tmp_path)
    assert "0 mutations in 0 requests" in third.stdout, third.stdout


def test_the_switches_of_a_recipe_are_stored_as_given(served: Served, tmp_path: Path) -> None:
    scores = Scores(served)
    make_source(tmp_path)
    group = served.sandbox.create_group(scores.board.id, "From Snowflake").id
    run(
        "integrations", "add-reverse", *scores.options(), "--name", "switches", "--group", group,
        "--no-create", "--no-update", "--archive-missing", "--create-columns", "--filter", "SCORE > 0",
        data_dir=tmp_path,
    )  # fmt: skip
    recipe = json.loads(run("integrations", "show", "switches", data_dir=tmp_path).stdout)["reverse"]
    flags = ("create_missing", "update_existing", "archive_missing", "create_columns")
    assert [recipe[f] for f in flags] == [False, False, True, True]
    assert (recipe["group_id"], recipe["filter"]) == (group, "SCORE > 0")
    listed = run("integrations", "list", data_dir=tmp_path).stdout  # the source, not a made-up table
    assert "switches" in listed and "from" in listed and "board name" not in listed, listed


def test_bad_recipes_exit_non_zero_with_a_clear_message_and_create_nothing(
    served: Served, tmp_path: Path
) -> None:
    scores = Scores(served)
    make_source(tmp_path)
    columns_before = set(served.sandbox.get_board(scores.id).columns)
    cases = {
        "source: only a SELECT is allowed": scores.options(source=f"DELETE FROM {TABLE}"),
        "source: give exactly one statement, not 2": scores.options(source=f"{SOURCE}; DROP TABLE {TABLE}"),
        "mapping: the source has no column 'NOPE'": scores.options(maps={"NOPE": scores.score}),
        f"mapping: board {scores.id} has no column 'no_such_column'": scores.options(
            maps={"SCORE": "no_such_column"}
        ),
        f"({scores.formula}) is a formula column, which monday does not let the API write": scores.options(
            maps={"SCORE": scores.formula}
        ),
        "mapping: STAGE -> ": scores.options(maps={"STAGE": scores.score}),  # text into numbers
        "--map: give SNOWFLAKE_COLUMN=MONDAY_COLUMN, not 'SCORE'": [*scores.options(), "--map", "SCORE"],
        "--map: SCORE is given twice": [*scores.options(), "--map", f"SCORE={scores.score}"],
        "invalid schedule: schedule_type": [
            *scores.options(),
            "--schedule",
            '{"schedule_type": "SOMETIMES"}',
        ],
    }
    for expected, options in cases.items():
        refused = run("integrations", "add-reverse", *options, data_dir=tmp_path, check=False)
        assert refused.returncode == 1, (expected, refused.stdout, refused.stderr)
        assert "error: " in refused.stderr, refused.stderr
        # the message is the last thing printed; the console wraps long lines at its width
        message = " ".join(refused.stderr[refused.stderr.index("error: ") :].split())
        assert expected in message, (expected, message)
        assert "Traceback" not in refused.stdout + refused.stderr
        assert TOKEN not in refused.stdout + refused.stderr

    stored = run("integrations", "show", f"board-{scores.id}", data_dir=tmp_path, check=False)
    assert stored.returncode == 1 and "not found" in stored.stderr, stored.stdout + stored.stderr
    assert served.sandbox.active_items(scores.board) == []
    assert set(served.sandbox.get_board(scores.id).columns) == columns_before
