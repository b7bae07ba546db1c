#!/usr/bin/env bash
# `make bench`, part "dist": data-parallel training with 1 and 2 processes
# on one machine (Gloo over loopback), on a model large enough for the
# all-reduce to matter: an MLP 2 → 3072 → 3072 → 2 (9.45 M parameters,
# 37.8 MB of float32 gradients per step) on the two-ring data, batch 64 per
# process, SGD, iteration-based, one intra-op thread per process.
#
#   1 process:   hammer train      (global batch 64)
#   2 processes: hammer launch -n2 (global batch 128)
#
# and, for scale, PyTorch's DDP on the same model and batch
# (bench/dist_torch.py, alone and under torchrun).
#
# Each configuration runs BENCH_DIST_ROUNDS times (default 3), alternating;
# bench/summarize_dist.py reads each run's log — "Training finished in" (the
# loop, without start-up) and the "All-reduce:" line (time and bytes per
# step) — and writes bench/results/dist.{json,md}.
#
# Environment: HAMMER (the binary), PY (the venv's python), BENCH_DIST_ROUNDS,
# BENCH_DIST_ITERS (timed iterations, default 30).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
HAMMER="${HAMMER:?set HAMMER to hammer's binary}"
PY="${PY:?set PY to the venv's python}"
ROUNDS="${BENCH_DIST_ROUNDS:-3}"
ITERS="${BENCH_DIST_ITERS:-30}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_DIST_ROUNDS must be a positive integer" >&2; exit 1; }
[[ "$ITERS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_DIST_ITERS must be a positive integer" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/hammer-bench-dist.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
CFG="$TMP/mlp10m.toml"
cat >"$CFG" <<TOML
[model]
type = "mlp"
in_features = 2
layers = 2
hidden = 3072
num_classes = 2

[train_dataloader]
batch_size = 64
shuffle = true
dataset = { type = "two_rings", size = 20000, seed = 0 }

[train_cfg]
by_epoch = false
max_iters = $ITERS

[optim.optimizer]
type = "sgd"
lr = 0.01
momentum = 0.9

[checkpoint]
interval = 1000000
save_last = false

[log]
interval = 10

[env]
num_threads = 1
TOML

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
LOAD_BEFORE="$(loadavg)"
LOGS="$TMP/logs"
mkdir -p "$LOGS"
for ((r = 1; r <= ROUNDS; r++)); do
    for tool in hammer torch; do
        for procs in 1 2; do
            log="$LOGS/$tool-procs$procs-round$r.log"
            case "$tool-$procs" in
                hammer-1) "$HAMMER" train "$CFG" --work-dir "$TMP/w1-$r" ;;
                hammer-2) "$HAMMER" launch --nproc-per-node 2 --master-port "$(free_port)" \
                              train "$CFG" --work-dir "$TMP/w2-$r" ;;
                torch-1) "$PY" bench/dist_torch.py --iters "$ITERS" ;;
                torch-2) "$PY" -m torch.distributed.run --nproc-per-node 2 --master-port "$(free_port)" \
                              bench/dist_torch.py --iters "$ITERS" ;;
            esac >"$log" 2>&1 || { tail -n 30 "$log" >&2; echo "bench: $tool, $procs process(es), round $r failed" >&2; exit 1; }
            echo "bench: dist, $tool, $procs process(es), round $r: $(grep -o 'Training finished in [0-9.]* s' "$log")" >&2
        done
    done
done
"$PY" bench/summarize_dist.py "$LOGS" bench/results --iters "$ITERS" --load-before "$LOAD_BEFORE"
