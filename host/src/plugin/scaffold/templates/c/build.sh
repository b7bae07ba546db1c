#!/usr/bin/env bash
# Builds @NAME@.wasm: plugin.c -> a wasm32-wasi core module (clang, lld and
# wasi-libc) -> a component (wasm-tools component new, adapting WASI preview 1
# to preview 2). The tools default to those hammer's `make setup` installs;
# set the variables below to use others.
set -euo pipefail
cd "$(dirname "$0")"

tools="${HAMMER_C_TOOLCHAIN:-$HOME/.cache/hammer/tools}"
WIT="${HAMMER_WIT:-@WIT@}"
WIT_BINDGEN="${WIT_BINDGEN:-$tools/bin/wit-bindgen}"
WASM_TOOLS="${WASM_TOOLS:-$tools/bin/wasm-tools}"
WASI_ADAPTER="${WASI_ADAPTER:-$tools/lib/wasi_snapshot_preview1.reactor.wasm}"
WASI_CC="${WASI_CC:-clang}"
for tool in "$WIT_BINDGEN" "$WASM_TOOLS" "$WASI_ADAPTER" "$WIT"; do
    [[ -e "$tool" ]] || { echo "error: $tool not found: see README.md" >&2; exit 1; }
done

rm -rf build
mkdir build
# The world's bindings: build/plugin.h, build/plugin.c and the component type.
"$WIT_BINDGEN" c --world @WORLD@ --rename-world plugin --autodrop-borrows yes --out-dir build "$WIT" \
    2>build/wit-bindgen.log || { cat build/wit-bindgen.log >&2; exit 1; }
# clang's headers, then wasi-libc's; never the host's /usr/include.
flags=(--target=wasm32-wasi -std=c11 -O2 -nostdlibinc -idirafter /usr/include/wasm32-wasi)
"$WASI_CC" "${flags[@]}" -Wall -Wextra -I build -c plugin.c -o build/@NAME@.o
"$WASI_CC" "${flags[@]}" -c build/plugin.c -o build/bindings.o
# A reactor: no `main`, the host calls the exports.
"$WASI_CC" --target=wasm32-wasi -mexec-model=reactor \
    build/@NAME@.o build/bindings.o build/plugin_component_type.o -o build/core.wasm
"$WASM_TOOLS" component new build/core.wasm --adapt "wasi_snapshot_preview1=$WASI_ADAPTER" -o @NAME@.wasm
echo "@NAME@.wasm"
