#!/usr/bin/env bash
# The benchmark suite in one command: builds release binaries, then measures the bare
# baseline, the Send API (SQLite, then with a preloaded large store, then PostgreSQL
# with one and two nodes), each open-loop run beside the bare server at the same rate,
# person → bot → person round trips (SQLite; PostgreSQL with two nodes), the webhook
# leg through `switchboard listen` beside direct callbacks, webhook fan-out, recovery
# and one thread's backlog, and each node's peak memory by phase; writes
# bench/report/REPORT.md, report.json, latency.svg and timeline.svg.
# PostgreSQL comes from SWITCHBOARD_TEST_POSTGRES_URL, or scripts/postgres-up.
# Usage: bench/run.sh [benchsuite options, e.g. --seconds 5 --skip scale]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins >&2
if [ -z "${SWITCHBOARD_TEST_POSTGRES_URL:-}" ] && [ -x scripts/postgres-up ]; then
  SWITCHBOARD_TEST_POSTGRES_URL="$(scripts/postgres-up)" && export SWITCHBOARD_TEST_POSTGRES_URL || true
fi
exec ./target/release/benchsuite "$@"
