#!/usr/bin/env bash
# Builds the test plugins (misbehaving ones, and a metric that observes the
# run) into tests/guests/out/*.wasm.
set -euo pipefail
cd "$(dirname "$0")"
# future_version is built against the contract with its minor version bumped.
mkdir -p future_version/wit
current="$(sed -n 's/^package hammer:plugin@\(.*\);$/\1/p' ../../wit/hammer.wit)"
IFS=. read -r major minor _ <<<"$current"
sed "s/^package hammer:plugin@$current;/package hammer:plugin@$major.$((minor + 1)).0;/" ../../wit/hammer.wit > future_version/wit/hammer.wit.new
cmp -s future_version/wit/hammer.wit.new future_version/wit/hammer.wit 2>/dev/null \
  && rm future_version/wit/hammer.wit.new || mv future_version/wit/hammer.wit.new future_version/wit/hammer.wit
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_WASM:-$HOME/.cache/hammer/wasm-target}/guests"
cargo build --quiet --release --target wasm32-wasip2
mkdir -p out
for name in misbehave future_version observer; do
  cp -u "$CARGO_TARGET_DIR/wasm32-wasip2/release/$name.wasm" out/
done
