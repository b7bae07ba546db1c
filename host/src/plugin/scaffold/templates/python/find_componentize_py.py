CPY="${COMPONENTIZE_PY:-}"
if [[ -z "$CPY" ]]; then
    for candidate in "$(command -v componentize-py || true)" \
        "${HAMMER_PYTHON:+$(dirname "${HAMMER_PYTHON:-}")/componentize-py}" "$HOME/.cache/hammer/venv/bin/componentize-py"; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then CPY="$candidate"; break; fi
    done
fi
if [[ -z "$CPY" ]]; then
    echo "error: componentize-py not found (not on PATH, nor in ~/.cache/hammer/venv/bin where hammer's make setup puts it):" >&2
    echo "       pip install componentize-py==0.25.1, or set COMPONENTIZE_PY to its path" >&2
    exit 1
fi
