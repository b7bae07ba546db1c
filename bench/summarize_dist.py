"""Summarizes bench/dist.sh's logs into bench/results/dist.{json,md}.

From each run's log: the training loop's time ("Training finished in X s")
and, for 2 processes, rank 0's "All-reduce: N steps, T ms and B MB per step
(model parameters: M MB)". Medians over rounds; throughput is the global
samples per second of the loop (batch 64 per process). The same for
PyTorch's DDP (bench/dist_torch.py), for scale.
"""

import argparse
import json
import re
import statistics
from pathlib import Path

BATCH = 64
FINISHED = re.compile(r"Training finished in ([0-9.]+) s")
ALL_REDUCE = re.compile(
    r"All-reduce: (\d+) steps, ([0-9.]+) ms and ([0-9.]+) MB per step \(model parameters: ([0-9.]+) MB\)"
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--load-before", default="unknown")
    args = ap.parse_args()

    runs = {(tool, procs): [] for tool in ("hammer", "torch") for procs in (1, 2)}
    for log in sorted(args.logs.glob("*-procs*-round*.log")):
        tool, rest = log.name.split("-procs")
        procs = int(rest[0])
        text = log.read_text()
        loop = float(FINISHED.search(text).group(1))
        run = {"loop_s": loop, "samples_per_s": args.iters * BATCH * procs / loop}
        m = ALL_REDUCE.search(text)
        if m:
            run.update(
                all_reduce_ms_per_step=float(m.group(2)),
                all_reduce_mb_per_step=float(m.group(3)),
                model_mb=float(m.group(4)),
            )
        runs[(tool, procs)].append(run)

    def median(tool, procs, key):
        values = [r[key] for r in runs[(tool, procs)] if key in r]
        return statistics.median(values) if values else None

    def tool_summary(tool):
        one, two = median(tool, 1, "samples_per_s"), median(tool, 2, "samples_per_s")
        return {
            "samples_per_s": {"1": one, "2": two},
            "speedup": two / one,
            "step_ms": {str(p): median(tool, p, "loop_s") / args.iters * 1e3 for p in (1, 2)},
        }

    hammer, torch = tool_summary("hammer"), tool_summary("torch")
    ar = median("hammer", 2, "all_reduce_ms_per_step")
    result = {
        "model": "MLP 2-3072-3072-2 (9.45 M parameters), SGD, batch 64 per process, 1 thread each",
        "iters": args.iters,
        "rounds": len(runs[("hammer", 1)]),
        "load_before": args.load_before,
        "load_after": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None,
        "hammer": hammer,
        "torch_ddp": torch,
        "all_reduce_ms_per_step": ar,
        "all_reduce_share_of_step": ar / hammer["step_ms"]["2"],
        "all_reduce_mb_per_step": median("hammer", 2, "all_reduce_mb_per_step"),
        "model_mb": median("hammer", 2, "model_mb"),
        "runs": {f"{t}-{p}": v for (t, p), v in runs.items()},
    }
    rows = "\n".join(
        f"| {name} | {p} | {64 * p} | {s['step_ms'][str(p)]:.1f} | {s['samples_per_s'][str(p)]:.0f} |"
        for name, s in (("hammer", hammer), ("PyTorch DDP", torch))
        for p in (1, 2)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dist.json").write_text(json.dumps(result, indent=2) + "\n")
    md = f"""# Data-parallel training: 1 vs 2 processes

{result['model']}, {args.iters} iterations, median of {result['rounds']} rounds,
Gloo over loopback on this 2-core machine (load average before: {args.load_before}).

| runner | processes | global batch | step (ms) | samples/s |
|---|---|---|---|---|
{rows}

- Throughput, 2 processes vs 1: hammer **{hammer['speedup']:.2f}×**, PyTorch DDP {torch['speedup']:.2f}×
  (two processes share two cores here: each step's compute slows down).
- All-reduce per step (hammer's rank 0, bucketed; copies into and out of the bucket buffers
  included): **{ar:.1f} ms**, {100 * result['all_reduce_share_of_step']:.0f}% of a step. hammer reduces after
  backward; DDP overlaps its all-reduce with backward.
- Bytes handed to all-reduce per step: **{result['all_reduce_mb_per_step']:.2f} MB**, against
  {result['model_mb']:.2f} MB of parameters (one float32 gradient per parameter; a ring
  all-reduce moves about 2·(N−1)/N of that over the wire per rank).
"""
    (args.out / "dist.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
