#!/usr/bin/env bash
# Installs the toolchain of every language under polyglot/ (each
# polyglot/<lang>/setup.sh, where a language needs more than the venv's
# python/requirements.txt). Every script checks before it installs, so a
# second run takes a moment.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shopt -s nullglob
for script in "$here"/*/setup.sh; do
    "$script"
done
