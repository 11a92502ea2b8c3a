"""Seconds per `items_page` of 500 items x 20 columns from the monday sandbox over real HTTP.

Usage: python bench/sandbox_items_page.py [--runs 15] [--items 1000]
Prints the median (and min/max) of N timed requests after one warm-up request.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox

QUERY = """
query ($board: [ID!], $columns: [String!]) {
  boards(ids: $board) {
    items_page(limit: 500) {
      cursor
      items {
        id
        name
        updated_at
        column_values(ids: $columns) {
          id
          type
          text
          value
          ... on StatusValue { index label }
          ... on DateValue { date time }
          ... on NumbersValue { number }
          ... on PeopleValue { persons_and_teams { id kind } }
        }
      }
    }
  }
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()

    from monday_sandbox.generator import seed_account

    sandbox = Sandbox()
    boards = seed_account(sandbox, boards=1, items=args.items, subitems=0, seed=7)
    board = next(b for b in boards if b.type == "board" and len(sandbox.active_items(b)) >= 500)
    columns = [c.id for c in board.columns.values() if c.type not in ("name", "subtasks")][:20]
    sandbox.add_token("bench-token")
    with (
        SandboxServer(sandbox) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": "bench-token"}, timeout=60) as client,
    ):
        body = {"query": QUERY, "variables": {"board": [board.id], "columns": columns}}
        warm = client.post("/v2", json=body).json()
        items = warm["data"]["boards"][0]["items_page"]["items"]
        assert len(items) == 500 and len(items[0]["column_values"]) == len(columns), "unexpected page shape"
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.post("/v2", json=body)
            response.json()
            timings.append(time.perf_counter() - started)
    print(
        f"items_page 500 items x {len(columns)} columns: median {statistics.median(timings):.3f} s "
        f"(min {min(timings):.3f}, max {max(timings):.3f}, {args.runs} runs)"
    )


if __name__ == "__main__":
    main()
