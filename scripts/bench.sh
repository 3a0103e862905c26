#!/usr/bin/env bash
# make bench: verification next to the bare primitives (criterion, native),
# the wasm/native factor (one loop program, native and wasm32-wasip1 under
# Node's V8), then flowgate-bench: the bundle, the Worker under load against a
# bare pass-through Worker, and the table, written to target/bench/results.md.
# Arguments go to flowgate-bench (e.g. --requests 400 --reps 3 --levels 1,16,64).
# Needs the built Worker (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench
mkdir -p "$out"
export FLOWGATE_BENCH_COMMAND="make bench${*:+ BENCH_ARGS=\"$*\"}"

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

echo "== 2/3 wasm/native factor"
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
cargo run --quiet --release -p flowgate-core --example wasm_factor > "$out/wasm-factor-native.tsv"
cargo build --quiet --release -p flowgate-core --example wasm_factor --target wasm32-wasip1
node --no-warnings tests/bench/wasi-run.mjs target/wasm32-wasip1/release/examples/wasm_factor.wasm \
  > "$out/wasm-factor-wasm.tsv"

echo "== 3/3 bundle, Worker under load, table"
cargo build --quiet --release -p flowgate-e2e --bin flowgate-bench
exec target/release/flowgate-bench "$@"
