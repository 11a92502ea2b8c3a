"""The demo, as a new user runs it: twice in a row in the same data directory. Each demo makes a full
run, edits the board, then makes an incremental run."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from rich.console import Console

from monday_snowflake.demo import run_demo
from monday_snowflake.settings import Settings


def test_the_demo_replicates_a_board_and_can_run_again(warehouse_data_dir: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=warehouse_data_dir,
        secret_key=Fernet.generate_key().decode(),
    )
    console = Console(record=True, width=200)
    assert run_demo(settings, items=60, subitems=1, seed=5, console=console)
    assert run_demo(settings, items=80, subitems=1, seed=6, console=console)
    output = console.export_text()
    # items and subitems tables, after the full and after the incremental run, in both demos
    assert output.count("table equals the board") == 8
    assert output.count("    incremental run:") == 2
    assert "(80 rows)" in output  # the full run of the second demo
    assert "(79 rows)" in output  # then one item added, one deleted, one archived
