"""Subitem overhead: the same board replicated without and with two subitems per item.

Usage:
  python bench/subitems_overhead.py --items 20000

Each board gets a full run over HTTP and a full run from replayed pages (our pipeline only). The
figure is the time per row loaded, items plus subitem rows: with subitems it should cost at most 10%
more per row than without (the brief's system: +30%). monday's complexity budget (10M points a minute
for a personal token) caps reads at 10M / (points per row) rows a minute; the points are printed too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.common import (
    COLUMNS,
    TOKEN,
    Recorder,
    build_board,
    header,
    replay,
    run_once,
    served_runtime,
    use_transport,
)

from monday_snowflake.integrations import create_integration
from monday_snowflake.model import IntegrationOptions


def measure(items: int, subitems: int, data_dir: Path) -> tuple[float, float, int]:
    """(seconds over HTTP, seconds replayed, rows loaded) of a full run."""
    sandbox, board_id = build_board(items, subitems=subitems)
    with served_runtime(sandbox, data_dir) as (runtime, api_url):
        integration = create_integration(
            runtime, board_id=board_id, name=f"bench-{subitems}", monday_token=TOKEN, monday_url=api_url,
            table=f"BENCH_{subitems}_SUBITEMS_PER_ITEM",
            column_ids=COLUMNS, options=IntegrationOptions(include_subitems=subitems > 0),
        )  # fmt: skip
        recorder = Recorder()
        use_transport(runtime, recorder)
        http_seconds, result = run_once(runtime, integration.id, full=True)
        use_transport(runtime, replay(recorder.pages))
        replayed_seconds, result = run_once(runtime, integration.id, full=True)
        rows = result.items + (result.subitems.staged_rows if result.subitems else 0)
        points = sum(
            (json.loads(body).get("data") or {}).get("complexity", {}).get("query", 0)
            for body in recorder.pages.values()
        )
        print(
            f"{subitems} subitems per item: {rows:,} rows; over HTTP {http_seconds:.2f} s "
            f"({http_seconds / rows * 1e6:.0f} us/row), replayed {replayed_seconds:.2f} s "
            f"({replayed_seconds / rows * 1e6:.0f} us/row); monday complexity {points / rows:.0f} points/row"
        )
        return http_seconds, replayed_seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=20_000)
    args = parser.parse_args()
    header()
    with tempfile.TemporaryDirectory() as tmp:  # one embedded warehouse per process: one data directory
        plain = measure(args.items, 0, Path(tmp))
        nested = measure(args.items, 2, Path(tmp))
    for label, index in (("over HTTP", 0), ("replayed", 1)):
        per_row_plain = plain[index] / plain[2]
        per_row_nested = nested[index] / nested[2]
        print(
            f"{label}: per-row cost with subitems is {per_row_nested / per_row_plain - 1:+.0%} "
            "(target <= +10%)"
        )


if __name__ == "__main__":
    main()
