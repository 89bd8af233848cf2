#!/usr/bin/env bash
# Webhook delivery throughput (1, 10 and 100 threads; batching on and off) and the
# latency a delivery adds after the Send API's commit, on a release build. The node,
# its SQLite store (in target/, on disk) and the receiver run in one process.
# Usage: bench/delivery.sh [events]
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-20000}"
cargo build --release -p switchboard-bench --bin deliverybench >&2
./target/release/deliverybench --threads 1,10,100 --events "$events"
