#!/usr/bin/env bash
# Measures the person → bot → person round trip on a release build of the demo:
# starts `switchboard demo` on a fresh data directory, runs bench/src/roundtrip.rs
# against it, prints the JSON report, and stops the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
messages="${1:-1000}"
cargo build --release --workspace --bins >&2
data="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
./target/release/switchboard demo --data "$data" --listen "127.0.0.1:$port" >"$data/demo.out" 2>"$data/demo.err" &
demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do [ -s "$data/demo.json" ] && grep -q "demo is up" "$data/demo.out" && break; sleep 0.1; done
./target/release/roundtrip --demo-json "$data/demo.json" --messages "$messages"
