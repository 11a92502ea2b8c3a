"""Incremental run vs full run, over HTTP against the same sandbox.

Usage:
  python bench/incremental_sync.py --items 100000 --changed 0.01

The board (20 mapped columns) was last updated a week ago. After a full run, `--changed` of its items
are edited; then an incremental run without reconciliation (the usual hourly run), and one with it
(the daily run that also lists every id to find deleted items). Target: incremental >= 20x faster.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from bench.common import COLUMNS, TOKEN, build_board, header, run_once, served_runtime

from monday_snowflake.integrations import create_integration
from monday_snowflake.model import IntegrationOptions
from monday_snowflake.sync.state import SyncState


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.01, help="fraction of items edited")
    args = parser.parse_args()

    header()
    sandbox, board_id = build_board(args.items)
    with tempfile.TemporaryDirectory() as tmp, served_runtime(sandbox, Path(tmp)) as (runtime, api_url):
        integration = create_integration(
            runtime, board_id=board_id, name="bench", monday_token=TOKEN, monday_url=api_url,
            column_ids=COLUMNS, options=IntegrationOptions(reconcile_every_hours=24),
        )  # fmt: skip
        full_seconds, full = run_once(runtime, integration.id, full=True)
        print(f"full run: {full.items:,} items in {full_seconds:.2f} s")

        rng = random.Random(1)
        with sandbox.lock:
            board = sandbox.get_board(board_id)
            edited = rng.sample(board.item_ids, int(len(board.item_ids) * args.changed))
            for item_id in edited:
                sandbox.change_column_values(board_id, item_id, {"name": f"edited {item_id}"})
        print(f"edited {len(edited):,} items")

        seconds, result = run_once(runtime, integration.id, full=False)
        assert result.kind == "incremental" and not result.reconciled, result
        print(f"  phases: {result.phases}")
        print(
            f"incremental run: {result.items:,} changed items written ({result.read:,} read) in "
            f"{seconds:.2f} s = {full_seconds / seconds:.1f}x faster than the full run (target >= 20x)"
        )

        state = SyncState.from_json(runtime.store.sync_state(integration.id))
        state.reconciled_at = None  # the daily run: also list every id
        runtime.store.set_sync_state(integration.id, state.to_json())
        seconds, result = run_once(runtime, integration.id, full=False)
        assert result.kind == "incremental" and result.reconciled, result
        print(
            f"incremental run with reconciliation: {result.items:,} items written in {seconds:.2f} s "
            f"= {full_seconds / seconds:.1f}x faster than the full run"
        )


if __name__ == "__main__":
    main()
