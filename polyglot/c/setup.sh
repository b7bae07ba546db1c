#!/usr/bin/env bash
# Installs the toolchain of the C plugins (run by `make setup` through
# polyglot/setup.sh):
#   - Debian's clang, lld, wasi-libc (a wasm32-wasi, preview-1, sysroot in
#     /usr/include/wasm32-wasi and /usr/lib/wasm32-wasi) and compiler-rt's
#     wasm32 builtins;
#   - wit-bindgen (C bindings from the WIT) and wasm-tools (core module +
#     adapter -> component) into $CACHE/tools/bin, from crates.io;
#   - the WASI preview-1 -> preview-2 reactor adapter into
#     $CACHE/tools/lib/wasi_snapshot_preview1.reactor.wasm, copied out of the
#     crate `wasi-preview1-component-adapter-provider` by polyglot/c/adapter.
# Every step checks before it installs: a second run takes well under a second.
set -euo pipefail

# The versions, pinned. wit-bindgen 0.61 is what the Rust SDK uses; wasm-tools
# 1.258 shares its wit-component (0.258). The adapter's version is pinned in
# polyglot/c/adapter/Cargo.toml (wasmtime 48's).
WIT_BINDGEN_VERSION=0.61.0
WASM_TOOLS_VERSION=1.258.3
DEBIAN_PACKAGES=(clang lld wasi-libc libclang-rt-dev-wasm32)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CACHE:-$HOME/.cache/hammer}"
tools="$cache/tools"
# cargo install builds here, not in the clone nor in the shared target dir.
build="$cache/tools-build"

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "c: installing ${missing[*]} (apt-get)"
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "error: installing ${missing[*]} needs root (or sudo)" >&2; exit 1; }
        sudo=(sudo -n)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

# `cargo install` of one binary at one version, with only the features the
# C plugins need, unless `$tools/bin/$bin --version` says it is there.
install_crate() {
    local crate="$1" version="$2" bin="$3" features="$4"
    if [[ -x "$tools/bin/$bin" ]] && [[ "$("$tools/bin/$bin" --version)" == *" $version"* ]]; then
        return
    fi
    echo "c: installing $crate $version into $tools (cargo install, a minute or two)"
    # Unoptimised (--debug, without debug info): both tools do milliseconds of
    # work per plugin, and an optimised build takes ~5 min each on 2 cores
    # against ~1.5 min; their output is byte-for-byte the same.
    CARGO_TARGET_DIR="$build" CARGO_PROFILE_DEV_DEBUG=0 cargo install --quiet --locked --force --debug \
        --root "$tools" --version "$version" --no-default-features --features "$features" "$crate"
}
install_crate wit-bindgen-cli "$WIT_BINDGEN_VERSION" wit-bindgen c
install_crate wasm-tools "$WASM_TOOLS_VERSION" wasm-tools component

adapter="$tools/lib/wasi_snapshot_preview1.reactor.wasm"
if [[ ! -f "$adapter" || "$here/adapter/Cargo.toml" -nt "$adapter" || "$here/adapter/Cargo.lock" -nt "$adapter" || "$here/adapter/src/main.rs" -nt "$adapter" ]]; then
    echo "c: writing the WASI preview-1 adapter to $adapter"
    CARGO_TARGET_DIR="$build" cargo run --quiet --locked --release \
        --manifest-path "$here/adapter/Cargo.toml" -- "$adapter"
fi
