#!/usr/bin/env bash
# Builds the plugins of every language under polyglot/ (each
# polyglot/<lang>/build.sh), with the toolchains `polyglot/setup.sh` installed.
# Each language's script rebuilds only what changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for script in "$here"/*/build.sh; do
    "$script"
done
