#!/usr/bin/env bash
# The benchmark suite in one command: builds release binaries, then measures the bare
# baseline, the Send API (SQLite, then with a preloaded large store, then PostgreSQL
# with one and two nodes), person → bot → person round trips, webhook fan-out and
# recovery, and writes bench/report/REPORT.md, report.json and latency.svg.
# PostgreSQL comes from SWITCHBOARD_TEST_POSTGRES_URL, or scripts/postgres-up.
# Usage: bench/run.sh [benchsuite options, e.g. --seconds 5 --skip scale]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins >&2
if [ -z "${SWITCHBOARD_TEST_POSTGRES_URL:-}" ] && [ -x scripts/postgres-up ]; then
  SWITCHBOARD_TEST_POSTGRES_URL="$(scripts/postgres-up)" && export SWITCHBOARD_TEST_POSTGRES_URL || true
fi
exec ./target/release/benchsuite "$@"
