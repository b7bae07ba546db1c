#!/usr/bin/env bash
# Packs each first-party plugin (plugins/<name>.wasm + plugins/<name>/manifest.toml)
# into plugins/dist/<name>-<version>.hpkg and installs it into the bundle store
# ($HAMMER_HOME, default ~/.hammer), replacing what an earlier build installed.
#
#   plugins/bundle.sh HAMMER_BINARY
set -euo pipefail
hammer="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$here/dist"
members=$(sed -n '/^members *= *\[/,/\]/p' "$here/Cargo.toml" | grep -o '"[^"]*"' | tr -d '"')
bundles=()
for name in $members; do
    version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$here/$name/manifest.toml" | head -n 1)
    bundle="$here/dist/$name-$version.hpkg"
    # Pack only what changed since the last pack.
    if [[ ! -f "$bundle" || "$here/$name.wasm" -nt "$bundle" || "$here/$name/manifest.toml" -nt "$bundle" ]]; then
        "$hammer" plugin pack "$here/$name.wasm" --manifest "$here/$name/manifest.toml" --out "$here/dist" > /dev/null
    fi
    bundles+=("$bundle")
done
"$hammer" plugin install --force "${bundles[@]}"
