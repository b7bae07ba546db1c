#!/usr/bin/env bash
# Installs the JavaScript plugin toolchain — @bytecodealliance/componentize-js
# (JS + WIT -> component, on the SpiderMonkey engine) and @bytecodealliance/jco
# (component tooling) — from npm, exactly as polyglot/js/package-lock.json
# pins them, into $CACHE/node (CACHE defaults to ~/.cache/hammer): outside the
# clone, so a fresh clone reuses it. A stamp holding the lock file's sha256
# makes a second run instant; a changed lock file reinstalls. Needs Node 18+
# and npm (no prompt, so it runs under CI=true with no standard input).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CACHE:-${HOME}/.cache/hammer}"
dest="$cache/node"
stamp="$dest/.hammer-setup"
want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$dest/node_modules/.bin/componentize-js" ]]; then
    exit 0
fi

command -v node >/dev/null && command -v npm >/dev/null \
    || { echo "error: the JavaScript plugins need Node.js 18+ and npm (apt-get install nodejs npm)" >&2; exit 1; }
major="$(node -p 'process.versions.node.split(".")[0]')"
((major >= 18)) || { echo "error: Node.js $(node --version) is too old for componentize-js: 18+ is needed" >&2; exit 1; }

echo "polyglot/js: installing componentize-js and jco into $dest" >&2
mkdir -p "$dest"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
# `npm install` on the lock file installs the versions it pins. (`npm ci`
# would be stricter but refuses a lock that lacks platform packages the
# registry does not serve, such as some musl and Windows builds.)
(cd "$dest" && npm install --no-audit --no-fund --loglevel=error </dev/null)
for pkg in @bytecodealliance/componentize-js @bytecodealliance/jco; do
    pinned="$(cd "$here" && node -p "require('./package.json').dependencies['$pkg']")"
    got="$(cd "$dest" && node -p "require('./node_modules/$pkg/package.json').version")"
    [[ "$got" == "$pinned" ]] || { echo "error: $pkg $got was installed, $pinned is pinned" >&2; exit 1; }
done
echo "$want" >"$stamp"
