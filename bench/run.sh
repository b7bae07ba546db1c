#!/usr/bin/env bash
# `make bench`, in five parts (BENCH_PARTS, default "tutorial plugins data
# polyglot dist").
#
# Part "tutorial": the tutorial job (configs/tutorial.toml) run four ways,
# one thread each, timed as whole processes (start-up included):
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
# Part "plugins": what WebAssembly plugins cost.
#   - host/examples/plugin_bench.rs, for a hook (tests/guests/out/misbehave.wasm
#     doing nothing), a metric (plugins/accuracy.wasm), a learning-rate
#     policy (plugins/lr.wasm, the tutorial's MultiStepLR) and plugins/ema.wasm
#     (given the tutorial model's parameters): each run twice as
#     fresh processes, once with an empty compile cache (`--cold`: the load
#     compiles) and once with the cache the first run wrote (the load reads
#     it), measuring load times and the cost of one call;
#   - the tutorial job with plugins (configs/tutorial.toml, whose `accuracy`
#     and `lr` are plugins, plus `--plugin plugins/ema.wasm`) against the same
#     job with none (plugins = [], the built-in accuracy metric, no schedule),
#     and, to tell EMA's work from the plugins' overhead, the tutorial job as
#     it is (accuracy and lr only); the three back to back in each round, in
#     reverse order every other round.
# bench/summarize_plugins.py writes bench/results/plugins.{json,md}.
#
# Part "data": the image pipeline and a ResNet-18 training step.
#   - an image folder (10 classes x 100 JPEGs of 160x120, fixed seed, by
#     bench/make_image_folder.py, written once into $BENCH_CACHE) read to
#     64x64 (decode, centred crop, bilinear resize, normalize), batches of
#     64, with 1 and 2 workers: hammer's image_folder data set and
#     DataLoader (host/examples/data_bench.rs) against torchvision's
#     ImageFolder + DataLoader (bench/data_torch.py); images/s;
#   - one SGD step of ResNet-18 with the CIFAR stem on a 64x3x32x32 batch,
#     with 1 and 2 threads: hammer's library (host/examples/step_bench.rs)
#     against PyTorch eager (bench/step_torch.py); ms/step.
# bench/summarize_data.py writes bench/results/data.{json,md}.
#
# Part "polyglot": what a plugin costs in each language. The languages are
# rust (the first-party plugins/accuracy.wasm and plugins/lr.wasm, and
# tests/guests' misbehave doing nothing as the hook: a no-op, the floor) and
# every polyglot/<lang>/out/ holding components (an out-<variant>/ directory,
# such as polyglot/js/out-spidermonkey/ from `JS_ENGINE=spidermonkey
# polyglot/js/build.sh`, which this script runs, counts as language
# <lang>-<variant>). For each:
#   - host/examples/plugin_bench.rs on its hook (spike), metric (accuracy)
#     and lr policy (cosine, T_max = 10), cold and cached as in part
#     "plugins": component size, compile, cached load, link + instantiate +
#     setup, and the cost of one call per phase;
#   - the tutorial job with the language's hook added (`--plugin`) against
#     the job as it is, BENCH_POLYGLOT_ROUNDS rounds back to back (default 5),
#     in reverse order every other round; hammer's own per-extension timing
#     of the hook is read from each log;
#   - as language <lang>-new, for python, js and c: the hook `hammer plugin
#     new --kind hook --lang <lang>` writes, built by its build.sh (it asks
#     for every 100th iteration: what a hook acting every so often costs);
#   - host/examples/call_shapes.rs, for python and js: the exports of
#     bench/call_shapes/shapes.wit (a step-info record in, only the phase
#     in, nothing in; the spike detector given each), built here, timed in a
#     tight loop and with 16 MiB written between calls; what the shape of
#     hammer's hook call costs a dynamic language (bench/summarize_shapes.py
#     writes bench/results/call_shapes.{json,md});
#   - host/examples/hook_overhead.rs: the same job with and without the
#     hook in one process, BENCH_OVERHEAD_PAIRS pairs (default 60), the
#     order alternating: what the hook adds to a run (its start, its calls
#     and what they cost the loop around them), without the whole-process
#     noise;
#   - the same pairing for the job with its own plugins, its metric and lr
#     schedule (CosineAnnealingLR by epoch), in each language against the
#     first-party Rust ones (bench/plugin_configs.py writes the configs).
# bench/summarize_polyglot.py writes bench/results/polyglot.{json,md}.
#
# Part "dist": data-parallel training with 1 and 2 processes on a
# 9.45M-parameter MLP (bench/dist.sh, BENCH_DIST_ROUNDS, BENCH_DIST_ITERS):
# throughput, all-reduce time and bytes per step against the model's size;
# bench/summarize_dist.py writes bench/results/dist.{json,md}.
#
# hammer's compile cache (in HAMMER_HOME, default ~/.hammer) is filled
# before the timed runs: the jobs measure a start-up that reads compiled
# plugins from it. plugin_bench uses temporary homes of its own.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_PLUGIN_ROUNDS (rounds of the
# plugins/no-plugins pair, default BENCH_ROUNDS), BENCH_WARMUP (untimed runs
# of each before the rounds, default 1), BENCH_PARTS, CARGO_TARGET_DIR,
# HAMMER_PYTHON, LIBTORCH, CACHE (defaults: those of the Makefile); for part "data":
# BENCH_DATA_EPOCHS (timed epochs, default 5), BENCH_STEPS (timed steps,
# default 20), BENCH_CACHE (where the image folder is kept, default
# ~/.cache/hammer/bench).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"

CACHE="${CACHE:-${HOME}/.cache/hammer}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
PY="${HAMMER_PYTHON:-$CACHE/venv/bin/python}"
ROUNDS="${BENCH_ROUNDS:-3}"
PLUGIN_ROUNDS="${BENCH_PLUGIN_ROUNDS:-$ROUNDS}"
WARMUP="${BENCH_WARMUP:-1}"
PARTS="${BENCH_PARTS:-tutorial plugins data polyglot dist}"
POLYGLOT_ROUNDS="${BENCH_POLYGLOT_ROUNDS:-5}"
OVERHEAD_PAIRS="${BENCH_OVERHEAD_PAIRS:-60}"
DATA_EPOCHS="${BENCH_DATA_EPOCHS:-5}"
STEPS="${BENCH_STEPS:-20}"
BENCH_CACHE="${BENCH_CACHE:-$CACHE/bench}"
HAMMER="$CARGO_TARGET_DIR/debug/hammer"
TCH_LOOP="$CARGO_TARGET_DIR/debug/tch-loop"
PLUGIN_BENCH="$CARGO_TARGET_DIR/debug/examples/plugin_bench"
HOOK_OVERHEAD="$CARGO_TARGET_DIR/debug/examples/hook_overhead"
CALL_SHAPES="$CARGO_TARGET_DIR/debug/examples/call_shapes"
DATA_BENCH="$CARGO_TARGET_DIR/debug/examples/data_bench"
STEP_BENCH="$CARGO_TARGET_DIR/debug/examples/step_bench"
CONFIG=configs/tutorial.toml
THREADS=1
# Part polyglot: each language's hook, by language.
declare -A HOOK=()

die() { echo "bench: $*" >&2; exit 1; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, not '$ROUNDS'"
[[ "$PLUGIN_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_PLUGIN_ROUNDS must be a positive integer, not '$PLUGIN_ROUNDS'"
[[ "$POLYGLOT_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_POLYGLOT_ROUNDS must be a positive integer, not '$POLYGLOT_ROUNDS'"
[[ "$OVERHEAD_PAIRS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_OVERHEAD_PAIRS must be a positive integer, not '$OVERHEAD_PAIRS'"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer, not '$WARMUP'"
[[ "$DATA_EPOCHS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_DATA_EPOCHS must be a positive integer, not '$DATA_EPOCHS'"
[[ "$STEPS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_STEPS must be a positive integer, not '$STEPS'"
for part in $PARTS; do
    [[ "$part" == tutorial || "$part" == plugins || "$part" == data || "$part" == polyglot || "$part" == dist ]] \
        || die "unknown part '$part' in BENCH_PARTS (tutorial, plugins, data, polyglot, dist)"
done
want() { [[ " $PARTS " == *" $1 "* ]]; }
[[ -x "$PY" ]] || die "no Python at $PY (run \`make setup\`, or set HAMMER_PYTHON)"
[[ -x "$HAMMER" ]] || die "no hammer binary at $HAMMER (run \`make build\`)"
if want tutorial; then
    "$PY" -c 'import importlib.metadata as m; m.version("mmengine")' 2>/dev/null \
        || die "mmengine is not installed for $PY (\`make bench\` installs it with the venv)"
fi

if [[ -z "${LIBTORCH:-}" ]]; then
    venv="$(dirname "$(dirname "$PY")")"
    LIBTORCH="$(ls -d "$venv"/lib/python3*/site-packages/torch 2>/dev/null | head -n1)"
    [[ -n "$LIBTORCH" ]] || die "no torch package under $venv (set LIBTORCH)"
fi
export LIBTORCH

# The tutorial job's plugins (accuracy, lr) and ema; the test guests for the
# hook. Both scripts only check timestamps when nothing changed.
echo "bench: building the plugins" >&2
plugins/build.sh >/dev/null
if want tutorial; then
    echo "bench: building bench/tch-loop" >&2
    cargo build --quiet --locked --manifest-path bench/tch-loop/Cargo.toml
fi
if want plugins || want polyglot; then
    echo "bench: building tests/guests and host/examples/plugin_bench.rs" >&2
    tests/guests/build.sh
    cargo build --quiet --example plugin_bench --example hook_overhead --example call_shapes -p hammer
fi
if want polyglot; then
    echo "bench: building the plugins of polyglot/ (polyglot/build.sh), and the JavaScript ones with SpiderMonkey too" >&2
    CACHE="$CACHE" polyglot/build.sh >/dev/null
    CACHE="$CACHE" JS_ENGINE=spidermonkey polyglot/js/build.sh >/dev/null
fi
if want data; then
    echo "bench: building host/examples/data_bench.rs and step_bench.rs" >&2
    cargo build --quiet --example data_bench --example step_bench -p hammer
    "$PY" -c 'import torchvision' 2>/dev/null \
        || die "torchvision is not installed for $PY (\`make setup\` installs it with the venv)"
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/hammer-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# A short run that loads every plugin the jobs below use, so that their
# compiled forms are in hammer's cache (the user's HAMMER_HOME, where the
# config's plugins are installed too) before anything is timed.
echo "bench: filling hammer's compile cache" >&2
"$HAMMER" train "$CONFIG" --plugin plugins/ema.wasm --work-dir "$TMP/prime" \
    --cfg-options "env.num_threads=$THREADS" train_cfg.max_epochs=1 >"$TMP/prime.log" 2>&1 \
    || { tail -n 30 "$TMP/prime.log" >&2; die "a short run of $CONFIG failed (has \`make build\` run?)"; }
rm -rf "$TMP/prime"

# The tutorial job without plugins: the same config, no `[[plugins]]`, the
# built-in accuracy metric instead of the plugin, hence no lr schedule.
NO_PLUGINS="$TMP/tutorial-no-plugins.toml"
cat >"$NO_PLUGINS" <<EOF
_base_ = ["$REPO/$CONFIG"]
plugins = []

[[val_evaluator]]
type = "accuracy"
EOF

# Runs the command after $4 once, as tool $1 in round $2 (0 = warm-up, not
# recorded), with work dir $3; appends its wall time, CPU time (user + system,
# less sensitive than wall time to other processes on the machine) and log to
# $RUNS, and keeps hammer's scalars.jsonl beside the log.
run_timed() {
    local tool=$1 round=$2 work=$3
    shift 3
    local log="$TMP/$tool-$round.log" times="$TMP/$tool-$round.times"
    local start end wall cpu TIMEFORMAT='%3U %3S'
    start=$(date +%s.%N)
    if ! { time "$@" >"$log" 2>&1; } 2>"$times"; then
        echo "bench: $tool failed (round $round): $*" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$times")
    if [[ -f "$work/scalars.jsonl" ]]; then
        cp "$work/scalars.jsonl" "$TMP/$tool-$round.scalars.jsonl"
    fi
    rm -rf "$work"
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", e - s }')
    echo "bench: round $round  $tool  ${wall} s (cpu ${cpu} s)" >&2
    if ((round > 0)); then
        printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$round" "$wall" "$log" "$cpu" >>"$RUNS"
    fi
}

# Runs tool $1 once as round $2 (see run_timed).
run_one() {
    local tool=$1 round=$2
    local work="$TMP/work-$tool-$round"
    case "$tool" in
        hammer) run_timed "$tool" "$round" "$work" "$HAMMER" train "$CONFIG" --work-dir "$work" \
                    --cfg-options "env.num_threads=$THREADS" ;;
        mmengine) run_timed "$tool" "$round" "$work" "$PY" bench/mmengine_tutorial.py "$work" --threads "$THREADS" ;;
        torch) run_timed "$tool" "$round" "$work" "$PY" bench/torch_loop.py --threads "$THREADS" --work-dir "$work" ;;
        tch) run_timed "$tool" "$round" "$work" "$TCH_LOOP" --threads "$THREADS" --work-dir "$work" ;;
        plugins) run_timed "$tool" "$round" "$work" "$HAMMER" train "$CONFIG" --plugin plugins/ema.wasm \
                    --work-dir "$work" --cfg-options "env.num_threads=$THREADS" ;;
        tutorial) run_timed "$tool" "$round" "$work" "$HAMMER" train "$CONFIG" --work-dir "$work" \
                    --cfg-options "env.num_threads=$THREADS" ;;
        no-plugins) run_timed "$tool" "$round" "$work" "$HAMMER" train "$NO_PLUGINS" --work-dir "$work" \
                    --cfg-options "env.num_threads=$THREADS" ;;
        # Part polyglot: the tutorial job as it is, and with language L's hook.
        without-hook) run_timed "$tool" "$round" "$work" "$HAMMER" train "$CONFIG" --work-dir "$work" \
                    --cfg-options "env.num_threads=$THREADS" ;;
        hook-*) run_timed "$tool" "$round" "$work" "$HAMMER" train "$CONFIG" --plugin "${HOOK[${tool#hook-}]}" \
                    --work-dir "$work" --cfg-options "env.num_threads=$THREADS" ;;
        *) die "unknown tool $tool" ;;
    esac
}

# run_rounds ROUNDS TOOL...: BENCH_WARMUP untimed runs of each tool, then
# ROUNDS timed rounds of all of them, the order reversed every other round.
run_rounds() {
    local rounds=$1
    shift
    local -a tools=("$@") order
    local w r i tool
    for ((w = 0; w < WARMUP; w++)); do
        for tool in "${tools[@]}"; do run_one "$tool" 0; done
    done
    for ((r = 1; r <= rounds; r++)); do
        order=("${tools[@]}")
        if ((r % 2 == 0)); then
            order=()
            for ((i = ${#tools[@]} - 1; i >= 0; i--)); do order+=("${tools[i]}"); done
        fi
        for tool in "${order[@]}"; do run_one "$tool" "$r"; done
    done
}

if want tutorial; then
    echo "bench: part tutorial (load average $(loadavg))" >&2
    RUNS="$TMP/runs.tsv"
    printf 'tool\tround\twall_s\tlog\tcpu_s\n' >"$RUNS"
    load_before="$(loadavg)"
    run_rounds "$ROUNDS" hammer mmengine torch tch
    "$PY" bench/summarize.py "$RUNS" bench/results --threads "$THREADS" --config "$CONFIG" \
        --load-before "$load_before"
fi

if want plugins; then
    echo "bench: part plugins (load average $(loadavg))" >&2
    load_before="$(loadavg)"
    PB="$TMP/plugin-bench"
    mkdir -p "$PB"
    # name | component | options | more flags: one of each kind, and ema
    # (the hook of the job below, at the phase it works at every iteration).
    specs=(
        "misbehave|tests/guests/out/misbehave.wasm|{\"action\": \"nothing\"}|"
        "accuracy|plugins/accuracy.wasm|{}|"
        "lr|plugins/lr.wasm|{\"type\": \"MultiStepLR\", \"by_epoch\": true, \"milestones\": [4, 8], \"gamma\": 0.1}|"
        "ema|plugins/ema.wasm|{}|--model-parameters --phases after_train_iter --calls 10000"
    )
    for spec in "${specs[@]}"; do
        IFS='|' read -r name wasm options more <<<"$spec"
        for mode in cold cached; do
            # shellcheck disable=SC2206 # $more is a list of flags
            flags=(--home "$PB/home-$name" --options "$options" --out "$PB/$name-$mode.json" $more)
            [[ "$mode" == cold ]] && flags+=(--cold)
            if ! "$PLUGIN_BENCH" "$wasm" "${flags[@]}" >"$PB/$name-$mode.log" 2>&1; then
                tail -n 30 "$PB/$name-$mode.log" >&2
                die "plugin_bench failed for $name ($mode)"
            fi
            echo "bench: plugin_bench $name ($mode) done" >&2
        done
    done

    RUNS="$TMP/plugin-runs.tsv"
    printf 'tool\tround\twall_s\tlog\tcpu_s\n' >"$RUNS"
    run_rounds "$PLUGIN_ROUNDS" plugins tutorial no-plugins
    "$PY" bench/summarize_plugins.py "$RUNS" "$PB" bench/results --threads "$THREADS" \
        --config "$CONFIG" --load-before "$load_before"
fi

if want data; then
    echo "bench: part data (load average $(loadavg))" >&2
    load_before="$(loadavg)"
    IMAGES="$BENCH_CACHE/image_folder-10x100-160x120-seed0"
    mkdir -p "$BENCH_CACHE"
    "$PY" bench/make_image_folder.py "$IMAGES" --classes 10 --per-class 100 --width 160 --height 120 --seed 0 \
        || die "cannot write the image folder $IMAGES"
    DB="$TMP/data-bench"
    mkdir -p "$DB"
    # name | command: the image pipeline (1 and 2 workers), then the step
    # (1 and 2 threads).
    data_runs=(
        "data-hammer|$DATA_BENCH $IMAGES --workers 1,2 --epochs $DATA_EPOCHS --warmup 1"
        "data-torch|$PY bench/data_torch.py $IMAGES --workers 1,2 --epochs $DATA_EPOCHS --warmup 1"
    )
    # One process per thread count (libtorch's pool is not resized in a
    # running process), hammer and PyTorch alternating.
    for threads in 1 2; do
        data_runs+=(
            "step-hammer-$threads|$STEP_BENCH --threads $threads --batch-size 64 --steps $STEPS --warmup 2"
            "step-torch-$threads|$PY bench/step_torch.py --threads $threads --batch-size 64 --steps $STEPS --warmup 2"
        )
    done
    for spec in "${data_runs[@]}"; do
        IFS='|' read -r name cmd <<<"$spec"
        start=$(date +%s.%N)
        # shellcheck disable=SC2086 # $cmd is a command line without quoting needs
        if ! $cmd --out "$DB/$name.json" >"$DB/$name.log" 2>&1; then
            tail -n 30 "$DB/$name.log" >&2
            die "$name failed: $cmd"
        fi
        end=$(date +%s.%N)
        echo "bench: $name done in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s" >&2
    done
    "$PY" bench/summarize_data.py "$DB" bench/results --load-before "$load_before" \
        --images-desc "1000 JPEGs (10 classes × 100, 160×120, quality 90, generated by bench/make_image_folder.py)"
fi

if want polyglot; then
    echo "bench: part polyglot (load average $(loadavg))" >&2
    load_before="$(loadavg)"
    PG="$TMP/polyglot"
    mkdir -p "$PG"
    # lang, role, component, options: one line per plugin measured.
    LANGS="$PG/languages.tsv"
    printf 'lang\trole\tcomponent\toptions\n' >"$LANGS"
    add_plugin() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$LANGS"; }
    add_plugin rust hook tests/guests/out/misbehave.wasm '{"action": "nothing"}'
    add_plugin rust metric plugins/accuracy.wasm '{}'
    add_plugin rust lr-policy plugins/lr.wasm '{"type": "CosineAnnealingLR", "by_epoch": true, "T_max": 10}'
    HOOK[rust]=tests/guests/out/misbehave.wasm
    # LANG=DIR of each language with a metric and an lr policy.
    own=()
    for dir in polyglot/*/out polyglot/*/out-*; do
        [[ -d "$dir" ]] || continue
        lang="$(basename "$(dirname "$dir")")"
        variant="$(basename "$dir")"
        if [[ "$variant" != out ]]; then lang="$lang-${variant#out-}"; fi
        if [[ -f "$dir/spike.wasm" ]]; then
            add_plugin "$lang" hook "$dir/spike.wasm" '{}'
            HOOK[$lang]="$dir/spike.wasm"
        fi
        if [[ -f "$dir/accuracy.wasm" ]]; then add_plugin "$lang" metric "$dir/accuracy.wasm" '{}'; fi
        if [[ -f "$dir/cosine.wasm" ]]; then add_plugin "$lang" lr-policy "$dir/cosine.wasm" '{"T_max": 10}'; fi
        # The job with its own plugins in this language (below).
        if [[ -f "$dir/accuracy.wasm" && -f "$dir/cosine.wasm" ]]; then own+=("$lang=$dir"); fi
    done
    # Each language's floor, `<lang>-new`: the hook `hammer plugin new`
    # writes (the language's glue around a check of the iteration number, a
    # log line every 100 iterations), built by its own build.sh with the
    # toolchains `make setup` installed.
    NEW="$PG/new"
    mkdir -p "$NEW"
    for lang in python js c; do
        (cd "$NEW" && "$HAMMER" plugin new "new-$lang" --kind hook --lang "$lang" >/dev/null) \
            || die "hammer plugin new --lang $lang failed"
        if ! (cd "$NEW/new-$lang" && COMPONENTIZE_PY="$(dirname "$PY")/componentize-py" \
            NODE_BIN="$CACHE/node/node_modules/.bin" HAMMER_C_TOOLCHAIN="$CACHE/tools" \
            ./build.sh >"$NEW/build-$lang.log" 2>&1); then
            tail -n 30 "$NEW/build-$lang.log" >&2
            die "the scaffolded $lang hook does not build"
        fi
        add_plugin "$lang-new" hook "$NEW/new-$lang/new_$lang.wasm" '{}'
        HOOK[$lang-new]="$NEW/new-$lang/new_$lang.wasm"
    done
    echo "bench: languages: ${!HOOK[*]}" >&2

    # Fewer calls than part "plugins": a Python or JavaScript call costs
    # tens of microseconds.
    while IFS=$'\t' read -r lang role wasm options; do
        for mode in cold cached; do
            flags=(--home "$PG/home-$lang-$role" --options "$options" --out "$PG/$lang-$role-$mode.json"
                --calls 20000 --metric-calls 2000 --reps 5 --warmup 500)
            [[ "$mode" == cold ]] && flags+=(--cold)
            if ! "$PLUGIN_BENCH" "$wasm" "${flags[@]}" >"$PG/$lang-$role-$mode.log" 2>&1; then
                tail -n 30 "$PG/$lang-$role-$mode.log" >&2
                die "plugin_bench failed for $lang $role ($mode)"
            fi
        done
        echo "bench: plugin_bench $lang $role done" >&2
    done < <(tail -n +2 "$LANGS")

    # Each hook's compiled form into hammer's cache before the timed jobs.
    tools=(without-hook)
    for lang in "${!HOOK[@]}"; do
        "$HAMMER" train "$CONFIG" --plugin "${HOOK[$lang]}" --work-dir "$TMP/prime-$lang" \
            --cfg-options "env.num_threads=$THREADS" train_cfg.max_epochs=1 >"$TMP/prime-$lang.log" 2>&1 \
            || { tail -n 30 "$TMP/prime-$lang.log" >&2; die "a short run with ${HOOK[$lang]} failed"; }
        rm -rf "$TMP/prime-$lang"
        tools+=("hook-$lang")
    done
    RUNS="$TMP/polyglot-runs.tsv"
    printf 'tool\tround\twall_s\tlog\tcpu_s\n' >"$RUNS"
    run_rounds "$POLYGLOT_ROUNDS" "${tools[@]}"
    for lang in "${!HOOK[@]}"; do
        if ! "$HOOK_OVERHEAD" "$CONFIG" --plugin "${HOOK[$lang]}" --threads "$THREADS" --pairs "$OVERHEAD_PAIRS" \
            --out "$PG/overhead-$lang.json" >"$PG/overhead-$lang.log" 2>&1; then
            tail -n 30 "$PG/overhead-$lang.log" >&2
            die "hook_overhead failed for $lang"
        fi
        echo "bench: hook_overhead $lang done" >&2
    done
    # The job with its own plugins (its metric and its lr schedule) written
    # in each language, against the same job with the first-party Rust ones,
    # paired in one process as above (bench/plugin_configs.py writes the jobs).
    JOBS="$PG/jobs"
    "$PY" bench/plugin_configs.py "$CONFIG" "$JOBS" "${own[@]}" || die "bench/plugin_configs.py failed"
    for spec in "${own[@]}"; do
        lang="${spec%%=*}"
        if ! "$HOOK_OVERHEAD" "$JOBS/rust.json" --against "$JOBS/$lang.json" --threads "$THREADS" \
            --pairs "$OVERHEAD_PAIRS" --out "$PG/own-plugins-$lang.json" >"$PG/own-plugins-$lang.log" 2>&1; then
            tail -n 30 "$PG/own-plugins-$lang.log" >&2
            die "hook_overhead failed for the job with $lang's plugins"
        fi
        echo "bench: the job with $lang's plugins done" >&2
    done
    "$PY" bench/summarize_polyglot.py "$RUNS" "$LANGS" "$PG" bench/results --threads "$THREADS" \
        --config "$CONFIG" --load-before "$load_before"

    SHAPES="$PG/shapes"
    mkdir -p "$SHAPES"
    load_before="$(loadavg)"
    (cd bench/call_shapes/python && "$(dirname "$PY")/componentize-py" -d ../shapes.wit -w shapes-plugin \
        componentize app -p . -p "$REPO/sdk/python" -o "$SHAPES/python.wasm" >/dev/null) \
        || die "componentize-py failed on bench/call_shapes/python"
    "$CACHE/node/node_modules/.bin/jco" componentize "$REPO/bench/call_shapes/js/app.js" --wit "$REPO/bench/call_shapes/shapes.wit" \
        --world-name shapes-plugin --backend qjs --backend-qjs-disable-async -o "$SHAPES/js.wasm" >/dev/null \
        || die "jco failed on bench/call_shapes/js"
    for lang in python js; do
        if ! "$CALL_SHAPES" "$SHAPES/$lang.wasm" --out "$SHAPES/$lang.json" >"$SHAPES/$lang.log" 2>&1; then
            tail -n 30 "$SHAPES/$lang.log" >&2
            die "call_shapes failed for $lang"
        fi
        echo "bench: call_shapes $lang done" >&2
    done
    "$PY" bench/summarize_shapes.py "$SHAPES" bench/results --load-before "$load_before"
fi

if want dist; then
    echo "bench: part dist (load average $(loadavg))" >&2
    HAMMER="$HAMMER" PY="$PY" bench/dist.sh
fi
