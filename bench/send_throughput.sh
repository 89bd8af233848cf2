#!/usr/bin/env bash
# Send API throughput on a release build: the demo (Page, person, echo bot) on
# SQLite, then on PostgreSQL with one node, then with two nodes sharing the
# database. Usage: bench/send_throughput.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
connections="${2:-16}"
cargo build --release --workspace --bins >&2
export SWITCHBOARD_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]:-}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
field() { sed -n "s/.*\"$1\": \"\(.*\)\".*/\1/p" "$2"; }
wait_for() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for $2 in $1" >&2; exit 1; }

run() { # label database_url nodes
  local label="$1" url="$2" nodes="$3" data="$work/$1" graphs=""
  mkdir -p "$data"
  ./target/release/switchboard demo --data "$data" --listen 127.0.0.1:0 ${url:+--database-url "$url"} >"$data/a.out" 2>"$data/a.err" &
  pids+=($!)
  wait_for "$data/a.out" "demo is up"
  graphs="$(field graph_url "$data/demo.json")"
  if [ "$nodes" = 2 ]; then
    ./target/release/switchboard serve --data "$data/b" --listen 127.0.0.1:0 --database-url "$url" >"$data/b.out" 2>"$data/b.err" &
    pids+=($!)
    wait_for "$data/b.out" "listening on"
    graphs="$graphs,$(sed -n 's/Switchboard is listening on \(.*\)/\1/p' "$data/b.out")/v21.0"
  fi
  echo "== $label" >&2
  # The person writes first: the Page may answer within the 24-hour window.
  local person_api="${graphs%%/v21.0*}/person/v1" password token
  password="$(field person_password "$data/demo.json")"
  token="$(curl -s -X POST "$person_api/login" -H 'Content-Type: application/json' \
    -d "{\"login\":\"demo\",\"password\":\"$password\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')"
  curl -s -o /dev/null -X POST "$person_api/threads/demo/messages" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"text":"hello"}'
  ./target/release/sendload --graph-url "$graphs" --page-token "$(field page_access_token "$data/demo.json")" \
    --psid "$(field person_psid "$data/demo.json")" --connections "$connections" --seconds "$seconds"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

run sqlite "" 1
run postgres-1-node "$(SWITCHBOARD_TEST_DB=switchboard_bench scripts/postgres-up)" 1
run postgres-2-nodes "$(SWITCHBOARD_TEST_DB=switchboard_bench scripts/postgres-up)" 2
