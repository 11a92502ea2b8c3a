"""A replication run behind a rich progress bar, for the command line and the demo."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from monday_snowflake.runtime import Runtime
    from monday_snowflake.sync.replicate import ReplicationResult


def replicate_with_progress(
    runtime: Runtime,
    integration: str,
    *,
    console: Console,
    label: str = "[bold]replicating",
    full: bool = False,
) -> ReplicationResult:
    """Replicate an integration (by id or name), showing items done against the board's item count
    (a full run) or items written so far (an incremental one). `full` forces a full run."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("items", total=None)

        def progress(done: int, expected: int | None) -> None:
            bar.update(task, completed=done, total=expected)

        return asyncio.run(runtime.replicator().replicate(integration, progress=progress, full=full))
