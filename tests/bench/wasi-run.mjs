// Runs a wasm32-wasip1 program under Node's WASI (V8, as in workerd):
//   node --no-warnings tests/bench/wasi-run.mjs program.wasm [args...]
// Used by `make bench` for the wasm/native factor (crates/flowgate-core/examples/wasm_factor.rs).
import { readFile } from "node:fs/promises";
import { argv, exit } from "node:process";
import { WASI } from "node:wasi";

const [program, ...args] = argv.slice(2);
if (!program) {
  console.error("usage: node wasi-run.mjs program.wasm [args...]");
  exit(2);
}
const wasi = new WASI({ version: "preview1", args: [program, ...args], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
