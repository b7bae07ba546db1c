"""PyTorch's own DDP on bench/dist.sh's job, for scale: the same MLP
(2 → 3072 → 3072 → 2), SGD with momentum, batch 64 per process, one
intra-op thread, Gloo. Run alone for 1 process or under torchrun for 2;
rank 0 prints `Training finished in X s` over the timed iterations (after
5 untimed ones), the line bench/summarize_dist.py reads.

    python bench/dist_torch.py --iters 30
    python -m torch.distributed.run --nproc-per-node 2 bench/dist_torch.py --iters 30
"""

import argparse
import os
import time

import torch
import torch.distributed as dist
from torch import nn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3072), nn.ReLU(), nn.Linear(3072, 3072), nn.ReLU(), nn.Linear(3072, 2))
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    warmup = 5
    for i in range(warmup + args.iters):
        if i == warmup:
            started = time.perf_counter()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    elapsed = time.perf_counter() - started
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"Training finished in {elapsed:.3f} s")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
