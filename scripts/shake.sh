#!/usr/bin/env bash
# Runs the test suite (or chosen folders/files) RUNS times in a row beside one busy loop per CPU
# core, at --test-concurrency=4, and reports every failing test by name (issue #24). A test that
# only passes on an idle machine fails here. Not part of CI: it is slow on purpose.
#
#   scripts/shake.sh [RUNS] [PATHS...]     RUNS defaults to 10, PATHS to test/
#   scripts/shake.sh 50 test/sensors
#   scripts/shake.sh 20 test/sensors/alsa-mic.test.ts test/mqtt/outage.test.ts
#
# Environment: SHAKE_BUSY (busy loops, default: one per core), SHAKE_NICE (their niceness,
# default 0), SHAKE_CONCURRENCY (default 4), SHAKE_STOP=1 (stop after the first red run),
# SHAKE_LOGS (folder for each run's spec log, default: a new temporary folder).
# Exit status: 0 when every run passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-10}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/shake.sh [RUNS] [PATHS...]  (RUNS: a positive integer, got '$runs')" >&2
  exit 2
fi
shift || true
paths=("$@")
[ "${#paths[@]}" -gt 0 ] || paths=(test)

files=()
for p in "${paths[@]}"; do
  if [ -d "$p" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$p" -name '*.test.ts' | sort)
  elif [ -f "$p" ]; then
    files+=("$p")
  else
    echo "shake: no such file or folder: $p" >&2
    exit 2
  fi
done
if [ "${#files[@]}" -eq 0 ]; then
  echo "shake: no *.test.ts files under ${paths[*]}" >&2
  exit 2
fi

busy="${SHAKE_BUSY:-$(nproc)}"
concurrency="${SHAKE_CONCURRENCY:-4}"
logs="${SHAKE_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/edgebind-shake.XXXXXX")}"
mkdir -p "$logs"

loops=()
runner=""
# Ends the test run in progress (its own process group: the runner and every test file) and the
# busy loops; nothing this script started outlives it.
stop_all() {
  local pid
  if [ -n "$runner" ]; then
    kill -TERM -- "-$runner" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
    runner=""
  fi
  for pid in "${loops[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${loops[@]}"; do wait "$pid" 2>/dev/null || true; done
  loops=()
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
for ((i = 0; i < busy; i++)); do
  nice -n "${SHAKE_NICE:-0}" bash -c 'while :; do :; done' &
  loops+=("$!")
done

echo "shake: $runs run(s) of ${#files[@]} file(s), --test-concurrency=$concurrency, $busy busy loop(s); logs in $logs"
green=0
red=0
for ((run = 1; run <= runs; run++)); do
  log="$logs/run-$run.log"
  start=$SECONDS
  fails="$logs/run-$run.failures"
  # In the background and waited for, so that INT/TERM reach the traps at once.
  setsid node --import tsx --test --test-concurrency="$concurrency" \
    --test-reporter=./scripts/shake-reporter.mjs --test-reporter-destination="$fails" \
    --test-reporter=spec --test-reporter-destination="$log" \
    "${files[@]}" >>"$log" 2>&1 &
  runner=$!
  rc=0
  wait "$runner" || rc=$?
  runner=""
  failures="$(cat "$fails" 2>/dev/null || true)"
  rm -f "$fails"
  if [ "$rc" -eq 0 ]; then
    green=$((green + 1))
    echo "run $run/$runs: ok ($((SECONDS - start)) s)"
    rm -f "$log"
  else
    red=$((red + 1))
    echo "run $run/$runs: FAILED, exit $rc ($((SECONDS - start)) s; spec log $log)"
    if [ -n "$failures" ]; then
      while IFS= read -r line; do echo "  $line"; done <<<"$failures"
    else
      echo "  (no failing test named: see the log)"
    fi
    if [ "${SHAKE_STOP:-0}" = 1 ]; then
      runs=$run
      break
    fi
  fi
done

echo "shake: $green of $runs run(s) green, $red red"
rmdir "$logs" 2>/dev/null || true # empty when every run was green
[ "$red" -eq 0 ]
