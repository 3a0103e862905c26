#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for FUZZ_SECS seconds
# each, one after the other, and prints a summary: seconds, executions,
# crashes. Called by `make fuzz`, which installs nightly and cargo-fuzz.
#
#   FUZZ_SECS      seconds per target (default 60)
#   FUZZ_TARGETS   space-separated subset (default: all)
#   FUZZ_JOBS      libFuzzer -fork jobs per target (default 1)
#
# Each target reads its committed seeds (fuzz/corpus/<target>) and grows a
# working corpus in target/fuzz-corpus/<target> (not committed). A crash is
# written to fuzz/artifacts/<target>/; once fixed, commit it: `make test`
# replays every file there.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SECS:-60}
jobs=${FUZZ_JOBS:-1}
targets=${FUZZ_TARGETS:-$(ls fuzz/fuzz_targets | sed 's/\.rs$//')}
logs=target/fuzz-logs
mkdir -p "$logs"

nice -n 10 cargo +nightly fuzz build >"$logs/build.log" 2>&1 || { tail -20 "$logs/build.log"; exit 1; }

summary=()
total_execs=0
total_crashes=0
for t in $targets; do
    mkdir -p "target/fuzz-corpus/$t" "fuzz/artifacts/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    log="$logs/$t.log"
    args=(-max_total_time="$secs" -timeout=10 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/")
    if [ "$jobs" -gt 1 ]; then args+=(-fork="$jobs" -ignore_crashes=1); fi
    echo "fuzz: $t for ${secs}s"
    status=0
    nice -n 10 cargo +nightly fuzz run "$t" "target/fuzz-corpus/$t" "fuzz/corpus/$t" -- "${args[@]}" >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    if [ -z "$execs" ]; then
        execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
    fi
    execs=${execs:-0}
    crashes=$(($(find "fuzz/artifacts/$t" -type f | wc -l) - before))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
    total_execs=$((total_execs + execs))
    total_crashes=$((total_crashes + crashes))
    summary+=("$(printf '%-20s %6ss %12s %8s' "$t" "$secs" "$execs" "$crashes")")
    if [ "$crashes" -gt 0 ]; then
        echo "fuzz: $t FAILED (log: $log)"
        grep -m1 -A3 "panicked at" "$log" || tail -5 "$log"
    fi
done

echo
printf '%-20s %7s %12s %8s\n' target seconds executions crashes
printf '%s\n' "${summary[@]}"
n=$(echo "$targets" | wc -w)
printf '%-20s %6ss %12s %8s\n' "total ($n targets)" $((secs * n)) "$total_execs" "$total_crashes"
[ "$total_crashes" -eq 0 ]
