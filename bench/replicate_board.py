"""Full replication throughput and memory: a generated board -> the embedded warehouse.

Usage:
  python bench/replicate_board.py --items 100000            # replayed pages + over HTTP
  python bench/replicate_board.py --items 20000 --memory    # peak memory of one replayed run

The board is the sandbox's generated board, replicated with 20 mapped columns of mixed types. The
sandbox's complexity budget is lifted here so that the replay measures our pipeline, not monday's
budget: with it, 20 columns cost 91 points an item, so a personal token's 10M points a minute cap
reads at ~1,830 items/s (bench/subitems_overhead.py prints points per row).
"Replayed": the monday side answers from pages recorded in memory beforehand (an httpx
MockTransport), so only our pipeline is measured: JSON parsing, decoding, CSV, PUT, COPY, MERGE.
"HTTP": the same run against the sandbox served on 127.0.0.1. Peak memory is tracemalloc's peak of
the replication alone (the recorded pages are allocated before the measurement starts).
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench.common import (
    COLUMNS,
    TOKEN,
    UNLIMITED_BUDGET,
    Recorder,
    build_board,
    header,
    replay,
    run_once,
    served_runtime,
    use_transport,
)

from monday_snowflake.integrations import create_integration


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--memory", action="store_true", help="only the replayed run, reporting peak memory")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    header()
    sandbox, board_id = build_board(args.items, budget=UNLIMITED_BUDGET)
    with tempfile.TemporaryDirectory() as tmp, served_runtime(sandbox, Path(tmp)) as (runtime, api_url):
        integration = create_integration(
            runtime,
            board_id=board_id,
            name="bench",
            monday_token=TOKEN,
            monday_url=api_url,
            column_ids=COLUMNS,
        )
        recorder = Recorder()
        use_transport(runtime, recorder)
        http_seconds, http_result = run_once(runtime, integration.id, full=True)
        pages = recorder.pages
        print(f"recorded {len(pages)} responses, {sum(map(len, pages.values())) / 1e6:.0f} MB")

        use_transport(runtime, replay(pages))
        gc.collect()
        if args.memory:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
        seconds, result = run_once(runtime, integration.id, full=True)
        if args.memory:
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
            print(f"peak memory during the replayed run: {peak / 1e6:.1f} MB for {args.items:,} items")
        runs = runtime.store.list_runs(integration.id, limit=1)
        metrics = runtime.store.get_run(runs[0].id).metrics or {}
        print(json.dumps({"phases": metrics.get("phases")}, default=str))
        print(
            f"replayed: {result.items:,} items in {seconds:.2f} s = {result.items / seconds:,.0f} items/s "
            f"({result.items / seconds / 1000:.1f}x the brief's 1,000 items/s)"
        )
        if not args.memory and not args.skip_http:
            print(
                f"over HTTP (first run, inserts): {http_result.items:,} items in {http_seconds:.2f} s = "
                f"{http_result.items / http_seconds:,.0f} items/s"
            )
            use_transport(runtime, None)
            seconds, result = run_once(runtime, integration.id, full=True)
            print(
                f"over HTTP (updates): {result.items:,} items in {seconds:.2f} s = "
                f"{result.items / seconds:,.0f} items/s"
            )
        del pages
        time.sleep(0)


if __name__ == "__main__":
    main()
