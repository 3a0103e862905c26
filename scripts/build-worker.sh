#!/usr/bin/env bash
# Builds the Worker (build/index.js + build/index_bg.wasm) with worker-build.
# Uses the project-local tools that `make tools` installs (.tools/, node_modules/)
# so nothing is downloaded from GitHub; falls back to tools on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
wb="$root/.tools/bin/worker-build"; [ -x "$wb" ] || wb=worker-build
if [ -z "${WASM_BINDGEN_BIN:-}" ] && [ -x "$root/.tools/bin/wasm-bindgen" ]; then
  export WASM_BINDGEN_BIN="$root/.tools/bin/wasm-bindgen"
fi
if [ -z "${WASM_OPT_BIN:-}" ] && [ -x "$root/node_modules/.bin/wasm-opt" ]; then
  export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
fi
exec "$wb" --release "$@"
