#!/usr/bin/env bash
# make bench: verification next to the bare primitives (criterion, native),
# a profiling build of the Worker (wasm function names kept), then
# flowgate-bench: the bundle, the Workers under load side by side (flowgate
# in each mode, a hand-written JavaScript peer, the pass-through floor: req/s,
# latency and workerd CPU per request), a V8 CPU profile of flowgate in each
# mode, and the table, written to target/bench/results.md.
# Arguments go to flowgate-bench (e.g. --secs 8 --rounds 2 --levels 1,16,64).
# Needs the built Worker (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=target/bench
mkdir -p "$out"
export FLOWGATE_BENCH_COMMAND="make bench${*:+ BENCH_ARGS=\"$*\"}"

# The load generator is wrk, Debian's package; CI-like machines lack it.
if ! command -v wrk >/dev/null; then
  echo "== installing wrk (apt-get install -y wrk)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y wrk || { $sudo apt-get update && $sudo apt-get install -y wrk; }
fi

echo "== 1/3 verification (criterion; full output in $out/criterion.log)"
# Fresh results only: the table reads target/criterion/*/new.
rm -rf target/criterion
set +e
cargo bench -p flowgate-core --bench verify 2>&1 | tee "$out/criterion.log" \
  | grep --line-buffered -E '^(verify|webhook|token-refresh)-?[^ ]*/|time:'
status=("${PIPESTATUS[@]}")
set -e
if [ "${status[0]}" -ne 0 ]; then
  tail -n 30 "$out/criterion.log"
  echo "make bench: criterion failed (full output in $out/criterion.log)" >&2
  exit 1
fi

echo "== 2/3 profiling build ($out/build-names: the release build with its wasm name section)"
# worker-build over cargo's cached release build, into another directory and
# without scripts/build-worker.sh's strip, so that the CPU profile names wasm
# functions. Same code as build/, which is left as it is.
wb="$root/.tools/bin/worker-build"; [ -x "$wb" ] || wb=worker-build
if [ -z "${WASM_BINDGEN_BIN:-}" ] && [ -x "$root/.tools/bin/wasm-bindgen" ]; then
  export WASM_BINDGEN_BIN="$root/.tools/bin/wasm-bindgen"
fi
if [ -z "${WASM_OPT_BIN:-}" ] && [ -x "$root/node_modules/.bin/wasm-opt" ]; then
  export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
fi
if ! "$wb" --release --out-dir "$root/$out/build-names" > "$out/build-names.log" 2>&1; then
  tail -n 30 "$out/build-names.log"
  echo "make bench: the profiling build failed (full output in $out/build-names.log)" >&2
  exit 1
fi

echo "== 3/3 bundle, Workers under load, profile, table"
cargo build --quiet --release -p flowgate-e2e --bin flowgate-bench
exec target/release/flowgate-bench "$@"
