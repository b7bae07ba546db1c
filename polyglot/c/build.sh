#!/usr/bin/env bash
# Builds the C plugins (polyglot/c/<name>/plugin.c) into
# polyglot/c/out/<name>.wasm with the toolchain polyglot/c/setup.sh installs
# (`make setup`). For each plugin, in polyglot/c/build/<name>/:
#   1. wit-bindgen c writes the world's bindings (plugin.h, plugin.c and the
#      component type object) from wit/;
#   2. Debian's clang compiles them and the plugin for wasm32-wasi (preview 1,
#      wasi-libc) into a core module, a reactor (no `main`);
#   3. wasm-tools component new wraps it into a component, adapting its WASI
#      preview-1 imports to preview 2 with the adapter from setup.sh.
# A component is rebuilt only when its source, a shared header, the WIT, this
# script or a tool is newer than it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="${CACHE:-$HOME/.cache/hammer}/tools"
wit_bindgen="$tools/bin/wit-bindgen"
wasm_tools="$tools/bin/wasm-tools"
adapter="$tools/lib/wasi_snapshot_preview1.reactor.wasm"
cc="${CC_WASI:-clang}"

missing() { echo "error: $1 not found: run \`make setup\`" >&2; exit 1; }
[[ -x "$wit_bindgen" ]] || missing "$wit_bindgen"
[[ -x "$wasm_tools" ]] || missing "$wasm_tools"
[[ -f "$adapter" ]] || missing "$adapter"
command -v "$cc" >/dev/null || missing "$cc (Debian's clang)"
[[ -f /usr/lib/wasm32-wasi/libc.a ]] || missing "wasi-libc (/usr/lib/wasm32-wasi/libc.a)"
builtins="$("$cc" --target=wasm32-wasi -print-libgcc-file-name)"
[[ -f "$builtins" ]] || missing "$builtins (Debian's libclang-rt-dev-wasm32)"
cc_path="$(readlink -f "$(command -v "$cc")")"

# name:world
plugins=(spike:hook-plugin accuracy:metric-plugin cosine:lr-policy-plugin probe:hook-plugin)

# Warnings are errors in the plugins' own code, not in the generated bindings.
# Headers: clang's own, then wasi-libc's, never the host's (Debian's clang
# also searches /usr/local/include and /usr/include for wasm32-wasi, where
# glibc's and Linux's headers would compile and then fail to link).
cflags=(--target=wasm32-wasi -std=c11 -O2 -nostdlibinc -idirafter /usr/include/wasm32-wasi)
strict=(-Wall -Wextra -Wshadow -Wconversion -Werror)

# Whether $1 exists and is newer than every other argument.
up_to_date() {
    local out="$1" dep
    [[ -f "$out" ]] || return 1
    shift
    for dep in "$@"; do
        [[ "$out" -nt "$dep" ]] || return 1
    done
}

# Runs a command, showing what it printed only when it fails.
quietly() {
    local log
    log="$("$@" 2>&1)" || { echo "$log" >&2; return 1; }
}

mkdir -p "$here/out"
for entry in "${plugins[@]}"; do
    name="${entry%%:*}"
    world="${entry#*:}"
    src="$here/$name/plugin.c"
    out="$here/out/$name.wasm"
    if up_to_date "$out" "$src" "$here"/common/*.h "$here"/common/*.c "$root/wit/hammer.wit" "${BASH_SOURCE[0]}" \
        "$wit_bindgen" "$wasm_tools" "$adapter" "$cc_path" "$builtins" /usr/lib/wasm32-wasi/libc.a; then
        continue
    fi
    echo "clang + wasm-tools: $name ($world) -> ${out#"$root"/}"
    build="$here/build/$name"
    rm -rf "$build"
    mkdir -p "$build"
    # `--rename-world plugin`: every world's types are `plugin_*`, so the
    # shared helpers in common/ serve all three; `--autodrop-borrows yes`: the
    # bindings drop the tensors an export borrows when it returns.
    quietly "$wit_bindgen" c --world "$world" --rename-world plugin --autodrop-borrows yes \
        --out-dir "$build" "$root/wit"
    "$cc" "${cflags[@]}" "${strict[@]}" -I "$build" -I "$here/common" -c "$src" -o "$build/$name.o"
    "$cc" "${cflags[@]}" -c "$build/plugin.c" -o "$build/bindings.o"
    "$cc" "${cflags[@]}" "${strict[@]}" -c "$here/common/stack_chk.c" -o "$build/stack_chk.o"
    "$cc" --target=wasm32-wasi -mexec-model=reactor \
        "$build/$name.o" "$build/bindings.o" "$build/stack_chk.o" "$build/plugin_component_type.o" -o "$build/core.wasm"
    "$wasm_tools" component new "$build/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out.tmp.$$"
    mv -f "$out.tmp.$$" "$out"
done
