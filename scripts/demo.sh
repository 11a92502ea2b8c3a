#!/usr/bin/env bash
# Set everything up and run the demo: a seeded local monday board replicated into the embedded warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
exec .venv/bin/monday-snowflake demo "$@"
