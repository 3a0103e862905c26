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
"$wb" --release "$@"

# worker-build keeps the wasm name section (wasm-opt --debuginfo): about 150 KB
# of function names, shipped and parsed on every cold start, used only to name
# frames in stack traces. Strip it (panic messages still carry file:line).
opt="${WASM_OPT_BIN:-}"
[ -n "$opt" ] || opt="$(command -v wasm-opt || true)"
if [ -n "$opt" ]; then
  "$opt" build/index_bg.wasm --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
    --enable-multivalue --enable-reference-types --enable-exception-handling \
    -o build/index_bg.wasm
else
  echo "build-worker.sh: wasm-opt not found (run make tools); the name section stays in" >&2
fi
