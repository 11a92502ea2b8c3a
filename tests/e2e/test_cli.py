"""The `monday-snowflake` command as a user runs it: separate processes, the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import TOKEN, Served

COMMAND = str(Path(sys.executable).parent / "monday-snowflake")


def run(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONDAY_SNOWFLAKE_")}
    env["MONDAY_SNOWFLAKE_DATA_DIR"] = str(data_dir)
    done = subprocess.run([COMMAND, *args], capture_output=True, text=True, env=env, timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_add_run_history_and_query_from_the_command_line(served: Served, tmp_path: Path) -> None:
    board = str(served.board.id)
    run("db", "upgrade", data_dir=tmp_path)
    added = run(
        "integrations",
        "add",
        "--board",
        board,
        "--name",
        "crm",
        "--monday-token",
        TOKEN,
        "--monday-url",
        served.api_url,
        data_dir=tmp_path,
    )
    assert "created integration crm" in added.stdout

    synced = run("sync", "run", "crm", data_dir=tmp_path)
    active = len(served.sandbox.active_items(served.board))
    assert f"{active} items" in synced.stdout

    history = run("history", "crm", data_dir=tmp_path)
    assert "COMPLETED" in history.stdout

    shown = run("integrations", "show", "crm", data_dir=tmp_path)
    recipe = json.loads(shown.stdout)
    assert recipe["board_id"] == board
    assert TOKEN not in shown.stdout

    table = recipe["target_table"]
    counted = run(
        "warehouse",
        "query",
        "--format",
        "json",
        f'select count(*) as n from MONDAY.PUBLIC."{table}"',
        data_dir=tmp_path,
    )
    assert json.loads(counted.stdout) == [{"N": active}]


def test_expected_failures_print_one_readable_line_and_exit_non_zero(served: Served, tmp_path: Path) -> None:
    bad_token = run(
        "integrations",
        "add",
        "--board",
        str(served.board.id),
        "--monday-token",
        "wrong-token",
        "--monday-url",
        served.api_url,
        data_dir=tmp_path,
        check=False,
    )
    assert bad_token.returncode == 1
    assert "error:" in bad_token.stderr
    assert "Traceback" not in bad_token.stderr + bad_token.stdout
    assert "wrong-token" not in bad_token.stderr

    unknown = run(
        "integrations",
        "add",
        "--board",
        "13579",
        "--monday-token",
        TOKEN,
        "--monday-url",
        served.api_url,
        data_dir=tmp_path,
        check=False,
    )
    assert unknown.returncode == 1
    assert "board 13579" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    missing = run("sync", "run", "no-such-integration", data_dir=tmp_path, check=False)
    assert missing.returncode == 1
    assert "no-such-integration" in missing.stderr
    assert "Traceback" not in missing.stderr
