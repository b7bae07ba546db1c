#!/usr/bin/env bash
# `make bench`: the tutorial job (configs/tutorial.toml) run four ways, one
# thread each, timed as whole processes (start-up included):
#
#   hammer    hammer's binary ($CARGO_TARGET_DIR/debug/hammer, from `make build`)
#   mmengine  MMEngine's runner tutorial (bench/mmengine_tutorial.py)
#   torch     a plain PyTorch loop (bench/torch_loop.py)
#   tch       a bare tch loop (bench/tch-loop, built here)
#
# Each round runs the four one after the other, in reverse order every other
# round, so that drift in the machine's speed falls on all of them alike.
# bench/summarize.py then takes the medians and the ratios and writes
# bench/results/tutorial.{json,md}.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_WARMUP (untimed runs of each
# before the rounds, default 1), CARGO_TARGET_DIR, HAMMER_PYTHON, LIBTORCH
# (defaults: those of the Makefile).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE="${HOME}/.cache/hammer"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
PY="${HAMMER_PYTHON:-$CACHE/venv/bin/python}"
ROUNDS="${BENCH_ROUNDS:-3}"
WARMUP="${BENCH_WARMUP:-1}"
HAMMER="$CARGO_TARGET_DIR/debug/hammer"
TCH_LOOP="$CARGO_TARGET_DIR/debug/tch-loop"
CONFIG=configs/tutorial.toml
THREADS=1

die() { echo "bench: $*" >&2; exit 1; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, not '$ROUNDS'"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer, not '$WARMUP'"
[[ -x "$PY" ]] || die "no Python at $PY (run \`make setup\`, or set HAMMER_PYTHON)"
[[ -x "$HAMMER" ]] || die "no hammer binary at $HAMMER (run \`make build\`)"
"$PY" -c 'import importlib.metadata as m; m.version("mmengine")' 2>/dev/null \
    || die "mmengine is not installed for $PY (\`make bench\` installs python/requirements-bench.txt)"

if [[ -z "${LIBTORCH:-}" ]]; then
    venv="$(dirname "$(dirname "$PY")")"
    LIBTORCH="$(ls -d "$venv"/lib/python3*/site-packages/torch 2>/dev/null | head -n1)"
    [[ -n "$LIBTORCH" ]] || die "no torch package under $venv (set LIBTORCH)"
fi
export LIBTORCH

echo "bench: building bench/tch-loop" >&2
cargo build --quiet --locked --manifest-path bench/tch-loop/Cargo.toml

TMP="$(mktemp -d "${TMPDIR:-/tmp}/hammer-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
RUNS="$TMP/runs.tsv"
printf 'tool\tround\twall_s\tlog\n' >"$RUNS"

# Runs tool $1 once as round $2 (0 = warm-up, not recorded); appends its
# wall time and log to $RUNS.
run_one() {
    local tool=$1 round=$2
    local work="$TMP/work-$tool-$round" log="$TMP/$tool-$round.log"
    local -a cmd
    case "$tool" in
        hammer) cmd=("$HAMMER" train "$CONFIG" --work-dir "$work" --cfg-options "env.num_threads=$THREADS") ;;
        mmengine) cmd=("$PY" bench/mmengine_tutorial.py "$work" --threads "$THREADS") ;;
        torch) cmd=("$PY" bench/torch_loop.py --threads "$THREADS" --work-dir "$work") ;;
        tch) cmd=("$TCH_LOOP" --threads "$THREADS" --work-dir "$work") ;;
        *) die "unknown tool $tool" ;;
    esac
    local start end wall
    start=$(date +%s.%N)
    if ! "${cmd[@]}" >"$log" 2>&1; then
        echo "bench: $tool failed (round $round): ${cmd[*]}" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    rm -rf "$work"
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", e - s }')
    echo "bench: round $round  $tool  ${wall} s" >&2
    if ((round > 0)); then
        printf '%s\t%s\t%s\t%s\n' "$tool" "$round" "$wall" "$log" >>"$RUNS"
    fi
}

TOOLS=(hammer mmengine torch tch)
for ((w = 0; w < WARMUP; w++)); do
    for tool in "${TOOLS[@]}"; do run_one "$tool" 0; done
done
for ((r = 1; r <= ROUNDS; r++)); do
    order=("${TOOLS[@]}")
    if ((r % 2 == 0)); then
        order=()
        for ((i = ${#TOOLS[@]} - 1; i >= 0; i--)); do order+=("${TOOLS[i]}"); done
    fi
    for tool in "${order[@]}"; do run_one "$tool" "$r"; done
done

"$PY" bench/summarize.py "$RUNS" bench/results --threads "$THREADS" --config "$CONFIG"
