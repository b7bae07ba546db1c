#!/usr/bin/env bash
# Builds the JavaScript plugins (polyglot/js/<name>/app.js) into
# polyglot/js/out/<name>.wasm with componentize-js, from the toolchain
# polyglot/js/setup.sh installed into $CACHE/node (`make setup`). A component
# is rebuilt only when its sources, the WIT, this script or the toolchain are
# newer than it.
#
# Each component embeds the SpiderMonkey engine (StarlingMonkey), about 12 MB.
# `--disable http fetch-event` leaves out the engine's `fetch` and its
# `wasi:http` imports, which hammer does not link (and a plugin must not use).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
node_dir="${CACHE:-${HOME}/.cache/hammer}/node"
cjs="$node_dir/node_modules/.bin/componentize-js"
stamp="$node_dir/.hammer-setup"
[[ -x "$cjs" && -f "$stamp" ]] || { echo "error: $cjs not found: run \`make setup\`" >&2; exit 1; }
# The WASI interfaces' WIT, as the pinned jco ships it (the probe imports one).
wasi_wit="$node_dir/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12"

# name:world (the probe's world is its own world.wit, on top of hammer's)
plugins=(spike:hook-plugin accuracy:metric-plugin cosine:lr-policy-plugin probe:probe)

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hammer-js-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$here/out"
for entry in "${plugins[@]}"; do
    name="${entry%%:*}"
    world="${entry#*:}"
    out="$here/out/$name.wasm"
    fresh=1
    for dep in "$here/$name"/* "$root/wit/hammer.wit" "$here/build.sh" "$stamp"; do
        [[ "$out" -nt "$dep" ]] || fresh=0
    done
    ((fresh)) && continue

    wit="$root/wit"
    if [[ -f "$here/$name/world.wit" ]]; then
        # A WIT package of the plugin's own, with hammer's and WASI's as deps.
        wit="$tmp/$name-wit"
        mkdir -p "$wit/deps/hammer"
        cp "$here/$name/world.wit" "$wit/"
        cp "$root"/wit/*.wit "$wit/deps/hammer/"
        for pkg in wasi-filesystem wasi-io wasi-clocks; do
            cp -r "$wasi_wit/$pkg" "$wit/deps/"
        done
    fi
    echo "componentize-js: $name ($world) -> ${out#"$root"/}"
    "$cjs" "$here/$name/app.js" --wit "$wit" --world-name "$world" \
        --disable http fetch-event -o "$out.tmp.$$" >/dev/null
    mv -f "$out.tmp.$$" "$out"
done
