#!/usr/bin/env bash
# Builds hammer's bundled plugins into WebAssembly components and copies
# each one next to its crate: plugins/<name>.wasm.
#
#   plugins/build.sh            # from anywhere
#
# CARGO_TARGET_DIR_WASM overrides where cargo builds (default
# ~/.cache/hammer/wasm-target, outside the clone, so rebuilds are
# incremental). A second run with nothing changed only checks timestamps.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target_dir="${CARGO_TARGET_DIR_WASM:-$HOME/.cache/hammer/wasm-target}"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

CARGO_TARGET_DIR="$target_dir" cargo build --release --target wasm32-wasip2 \
    --manifest-path "$here/Cargo.toml" --workspace

# The workspace's members, from its manifest: one component each.
members=$(sed -n '/^members *= *\[/,/\]/p' "$here/Cargo.toml" | grep -o '"[^"]*"' | tr -d '"')
for name in $members; do
    built="$target_dir/wasm32-wasip2/release/$name.wasm"
    if [[ ! -f "$built" ]]; then
        echo "build.sh: cargo did not produce $built" >&2
        exit 1
    fi
    # Copy only when changed, so the copies' timestamps mean something.
    if ! cmp -s "$built" "$here/$name.wasm"; then
        cp "$built" "$here/$name.wasm.tmp"
        mv "$here/$name.wasm.tmp" "$here/$name.wasm"
    fi
done
echo "plugins: $(for n in $members; do printf '%s.wasm (%s bytes) ' "$n" "$(stat -c %s "$here/$n.wasm")"; done)"
