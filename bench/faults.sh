#!/usr/bin/env bash
# The fault suite at its full size in one command: builds release binaries, then
# kills, pauses, cuts and starves Switchboard nodes under load (100 faults of each
# kind per engine), checks that nothing acknowledged was lost and every thread kept
# its order, and writes bench/report/FAULTS.md and faults.json. It prints its seed;
# `bench/faults.sh --seed N` repeats a run. The tests run it at `--size small`.
# PostgreSQL comes from SWITCHBOARD_TEST_POSTGRES_URL, or scripts/postgres-up.
# Usage: bench/faults.sh [faultsuite options, e.g. --only kill --engines sqlite]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins >&2
if [ -z "${SWITCHBOARD_TEST_POSTGRES_URL:-}" ] && [ -x scripts/postgres-up ]; then
  SWITCHBOARD_TEST_POSTGRES_URL="$(scripts/postgres-up)" && export SWITCHBOARD_TEST_POSTGRES_URL || true
fi
exec ./target/release/faultsuite --size full "$@"
