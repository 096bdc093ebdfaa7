#!/usr/bin/env bash
# Runs the load test (200 tests, each with a fresh server, plus three on one fixed port) ROUNDS
# times in a row (default 10) under `cargo test` with the default thread count, with 16 threads,
# and under `cargo nextest run` (a process per test). Afterwards no server process may be left.
#
#   scripts/stress.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-10}

cargo test -q -p with-server-tests --test load --no-run
survivors() { pgrep -f 'fixture --port' || true; }

run() {
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  for round in $(seq "$rounds"); do
    if ! "$@" >/tmp/with-server-stress.log 2>&1; then
      echo "FAILED: $label, round $round"; tail -40 /tmp/with-server-stress.log; exit 1
    fi
  done
  end=$(date +%s.%N)
  printf '%-34s %2d rounds, 203 tests each: ok, %.1f s per round\n' "$label" "$rounds" \
    "$(awk -v s="$start" -v e="$end" -v r="$rounds" 'BEGIN { print (e - s) / r }')"
}

run "cargo test"                 cargo test -q -p with-server-tests --test load
run "cargo test --test-threads=16" cargo test -q -p with-server-tests --test load -- --test-threads=16
run "cargo nextest run"          cargo nextest run -p with-server-tests --test load --no-fail-fast
left=$(survivors)
if [ -n "$left" ]; then echo "server processes left behind: $left"; exit 1; fi
echo "no server process left behind"
