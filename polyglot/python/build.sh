#!/usr/bin/env bash
# Builds the Python plugins (polyglot/python/<name>/app.py) into
# polyglot/python/out/<name>.wasm with the venv's componentize-py, with
# sdk/python (hammer_sdk) on their Python path
# (python/requirements.txt pins it; `make setup` installs it). A component is
# rebuilt only when its app.py or the WIT is newer than it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-${HOME}/.cache/hammer/venv}"
cpy="$venv/bin/componentize-py"
# hammer_sdk.py, the helpers Python plugins import.
sdk="$root/sdk/python"
[[ -x "$cpy" ]] || { echo "error: $cpy not found: run \`make setup\`" >&2; exit 1; }

# name:world
plugins=(spike:hook-plugin accuracy:metric-plugin cosine:lr-policy-plugin probe:hook-plugin)

mkdir -p "$here/out"
for entry in "${plugins[@]}"; do
    name="${entry%%:*}"
    world="${entry#*:}"
    src="$here/$name/app.py"
    out="$here/out/$name.wasm"
    if [[ -f "$out" && "$out" -nt "$src" && "$out" -nt "$root/wit/hammer.wit" && "$out" -nt "$cpy" && "$out" -nt "$sdk/hammer_sdk.py" ]]; then
        continue
    fi
    echo "componentize-py: $name ($world) -> ${out#"$root"/}"
    tmp="$out.tmp.$$"
    (cd "$here/$name" && "$cpy" -d "$root/wit" -w "$world" componentize app -p . -p "$sdk" -o "$tmp" >/dev/null)
    mv -f "$tmp" "$out"
done
