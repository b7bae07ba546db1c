#!/usr/bin/env bash
# Builds the JavaScript plugins (polyglot/js/<name>/app.js) into components,
# with the toolchain polyglot/js/setup.sh installed into $CACHE/node (`make
# setup`). A component is rebuilt only when its sources, the WIT, this script
# or the toolchain are newer than it.
#
# Two JavaScript engines, chosen per plugin:
#   quickjs       `jco componentize --backend qjs`: QuickJS, through
#                 componentize-qjs, with its synchronous runtime (hammer runs
#                 components without the async ABI). For spike, cosine, probe.
#   spidermonkey  componentize-js: StarlingMonkey (SpiderMonkey), without its
#                 `fetch` (`--disable http fetch-event`: hammer links no
#                 wasi:http). For accuracy: componentize-qjs 0.4.5 never releases
#                 the borrowed tensor handles a metric receives, and wasmtime
#                 traps ("borrow handles still remain at the end of the call").
# Measured on the spike hook (host/examples/plugin_bench.rs): QuickJS's
# components are 1.6 MB against 12 MB, compile in ~1.7 s against ~10 s, load
# from the cache in ~4 ms against ~20 ms, and a call costs ~10 µs against
# ~35 µs (bench/results/polyglot.md; SpiderMonkey runs its generated bindings
# and a promise per call in its interpreter), which matters for what runs at
# every iteration. The plugins are written for both engines:
# JS_ENGINE=spidermonkey builds all four with SpiderMonkey into
# polyglot/js/out-spidermonkey/, to compare.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
node_dir="${CACHE:-${HOME}/.cache/hammer}/node"
stamp="$node_dir/.hammer-setup"
[[ -f "$stamp" ]] || { echo "error: no JavaScript toolchain in $node_dir: run \`make setup\`" >&2; exit 1; }
bin="$node_dir/node_modules/.bin"
out_dir="$here/out"
case "${JS_ENGINE:-}" in
    "") ;;
    spidermonkey) out_dir="$here/out-spidermonkey" ;;
    *) echo "error: JS_ENGINE may only be spidermonkey, not '$JS_ENGINE'" >&2; exit 1 ;;
esac
# The WASI interfaces' WIT, as the pinned jco ships it (the probe imports one).
wasi_wit="$node_dir/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12"

# name:world:engine (the probe's world is its own world.wit, on top of hammer's)
plugins=(spike:hook-plugin:quickjs accuracy:metric-plugin:spidermonkey cosine:lr-policy-plugin:quickjs
    probe:probe:quickjs)

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hammer-js-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$out_dir"
for entry in "${plugins[@]}"; do
    IFS=: read -r name world engine <<<"$entry"
    engine="${JS_ENGINE:-$engine}"
    out="$out_dir/$name.wasm"
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
    echo "$engine: $name ($world) -> ${out#"$root"/}"
    if [[ "$engine" == quickjs ]]; then
        "$bin/jco" componentize "$here/$name/app.js" --wit "$wit" --world-name "$world" \
            --backend qjs --backend-qjs-disable-async -o "$out.tmp.$$" >/dev/null
    else
        "$bin/componentize-js" "$here/$name/app.js" --wit "$wit" --world-name "$world" \
            --disable http fetch-event -o "$out.tmp.$$" >/dev/null
    fi
    mv -f "$out.tmp.$$" "$out"
done
