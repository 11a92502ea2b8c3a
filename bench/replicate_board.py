"""Full replication throughput and memory: a generated board -> the embedded warehouse.

Usage:
  python bench/replicate_board.py --items 100000            # replayed pages + over HTTP
  python bench/replicate_board.py --items 20000 --memory    # peak memory of one replayed run

The board is the sandbox's generated board, replicated with 20 mapped columns of mixed types. The
sandbox's complexity budget is lifted here so that the replay measures our pipeline, not monday's
budget: with it, 20 columns cost 91 points an item, so a personal token's 10M points a minute cap
reads at ~1,830 items/s (bench/subitems_overhead.py prints points per row).
"Replayed": the monday side answers from pages recorded beforehand (an httpx MockTransport), so
only our pipeline is measured: JSON parsing, decoding, CSV, PUT, COPY, MERGE.
"HTTP": the same run against the sandbox served on 127.0.0.1.
Memory (`--memory`): the pages are recorded to files, then each figure comes from a fresh process
that replays them, reading each page from its file when asked for it (as it would arrive from the
network): nothing of the sandbox or the recording is in that process. One process measures
tracemalloc's peak over its second run (Python's own allocations, C extensions' through Python's
allocator included; the first run's one-off imports and caches excluded); others, without tracemalloc,
the peak resident set size (VmHWM) of a process whose only run it is (interpreter, imports, everything),
once with the embedded warehouse (DuckDB) served in the same process, as `sync run` on defaults has
it, and once with it served by another process, as against Snowflake.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from bench.common import (
    COLUMNS,
    TOKEN,
    UNLIMITED_BUDGET,
    Recorder,
    bench_settings,
    build_board,
    header,
    replay,
    replay_from,
    run_once,
    served_runtime,
    use_transport,
)
from cryptography.fernet import Fernet

from monday_snowflake.integrations import create_integration
from monday_snowflake.runtime import Runtime
from monday_snowflake.snowflake.embedded import EmbeddedWarehouse

_KEY_VARIABLE = "BENCH_REPLICATE_SECRET_KEY"
"""How the measuring process gets the data directory's key (an environment variable, never argv)."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--memory", action="store_true", help="only the replayed run, reporting peak memory")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--measure", nargs=3, metavar=("DATA_DIR", "PAGES_DIR", "INTEGRATION"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        data_dir, pages_dir, integration_id = args.measure
        print(json.dumps(measure(Path(data_dir), Path(pages_dir), integration_id, trace=args.trace)))
        return

    header()
    sandbox, board_id = build_board(args.items, budget=UNLIMITED_BUDGET)
    secret_key = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, pages_dir = Path(tmp) / "data", Path(tmp) / "pages"
        pages_dir.mkdir()
        with served_runtime(sandbox, data_dir, secret_key=secret_key) as (runtime, api_url):
            integration = create_integration(
                runtime,
                board_id=board_id,
                name="bench",
                monday_token=TOKEN,
                monday_url=api_url,
                column_ids=COLUMNS,
            )
            recorder = Recorder(pages_dir if args.memory else None)
            use_transport(runtime, recorder)
            http_seconds, http_result = run_once(runtime, integration.id, full=True)
            print(f"recorded {recorder.recorded_bytes / 1e6:.0f} MB of responses")
            if not args.memory:
                replayed(runtime, integration.id, recorder.pages)
                if not args.skip_http:
                    over_http(runtime, integration.id, http_seconds, http_result)
        if args.memory:
            del sandbox
            gc.collect()
            report_memory(args.items, data_dir, pages_dir, integration.id, secret_key)


def replayed(runtime: Runtime, integration_id: str, pages: dict[bytes, bytes]) -> None:
    use_transport(runtime, replay(pages))
    gc.collect()
    seconds, result = run_once(runtime, integration_id, full=True)
    runs = runtime.store.list_runs(integration_id, limit=1)
    metrics = runtime.store.get_run(runs[0].id).metrics or {}
    print(json.dumps({"phases": metrics.get("phases")}, default=str))
    print(
        f"replayed: {result.items:,} items in {seconds:.2f} s = {result.items / seconds:,.0f} items/s "
        f"({result.items / seconds / 1000:.1f}x the brief's 1,000 items/s)"
    )


def over_http(runtime: Runtime, integration_id: str, first_seconds: float, first: Any) -> None:
    print(
        f"over HTTP (first run, inserts): {first.items:,} items in {first_seconds:.2f} s = "
        f"{first.items / first_seconds:,.0f} items/s"
    )
    use_transport(runtime, None)
    seconds, result = run_once(runtime, integration_id, full=True)
    print(
        f"over HTTP (updates): {result.items:,} items in {seconds:.2f} s = "
        f"{result.items / seconds:,.0f} items/s"
    )


def report_memory(items: int, data_dir: Path, pages_dir: Path, integration_id: str, secret_key: str) -> None:
    """Fresh processes replay the recorded run: the RSS peak of a run whose warehouse is served by
    another process (this one: as against Snowflake, only the pipeline's memory), then, once this
    process has stopped serving it, tracemalloc's peak over a second run and the RSS peak of a first
    and only run with the embedded warehouse in the same process (as `sync run` on defaults)."""

    def in_fresh_process(*options: str) -> dict[str, Any]:
        command = [sys.executable, "-m", "bench.replicate_board", "--measure", str(data_dir), str(pages_dir),
                   integration_id, *options]  # fmt: skip
        env = {**os.environ, _KEY_VARIABLE: secret_key}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"the measuring process failed:\n{done.stderr[-2000:]}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return figures

    remote = in_fresh_process()  # the warehouse is still served here
    EmbeddedWarehouse(data_dir).stop()
    traced = in_fresh_process("--trace")
    local = in_fresh_process()
    print(
        f"peak memory of a replayed full run of {items:,} items: "
        f"tracemalloc {traced['traced_peak_mb']:.1f} MB; "
        f"RSS peak {local['rss_peak_mb']:.0f} MB with the embedded warehouse in the process "
        f"({local['rss_before_mb']:.0f} MB before the run), {remote['rss_peak_mb']:.0f} MB with it in "
        f"another ({remote['rss_before_mb']:.0f} MB before)"
    )


def measure(data_dir: Path, pages_dir: Path, integration_id: str, *, trace: bool) -> dict[str, Any]:
    """In a fresh process: a full run replayed from `pages_dir`, with the embedded warehouse served here
    unless another process serves it already."""
    runtime = Runtime(bench_settings(data_dir, "http://127.0.0.1:9/v2", os.environ[_KEY_VARIABLE]))
    warehouse = EmbeddedWarehouse(data_dir)
    try:
        use_transport(runtime, replay_from(pages_dir))
        warehouse.ensure_running()  # started (or found) before the run, as a long-lived process has it
        if trace:  # a run first: what the first run imports and caches for good is not the run's peak
            run_once(runtime, integration_id, full=True)
            gc.collect()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            run_once(runtime, integration_id, full=True)
            return {"traced_peak_mb": round((tracemalloc.get_traced_memory()[1] - base) / 1e6, 2)}
        gc.collect()
        before = _rss_mb()
        run_once(runtime, integration_id, full=True)
        return {"rss_before_mb": before, "rss_peak_mb": _peak_rss_mb()}
    finally:
        warehouse.stop()
        runtime.close()


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return round(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not `ru_maxrss`: Linux carries a parent's peak into a child it forks,
    through exec, so a child of the (big) recording process would report the parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) * 1024 / 1e6, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6, 1)


if __name__ == "__main__":
    main()
