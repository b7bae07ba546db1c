"""The PyTorch side of the ResNet-18 step benchmark (bench/run.sh, part
"data"): torchvision's resnet18 with the CIFAR stem (3×3 stride-1 conv1, no
max pool), one SGD step (lr 0.1, momentum 0.9, weight decay 5e-4, as
configs/resnet18_cifar10.toml) on a random 3×32×32 batch in eager mode:
forward in training mode, cross-entropy, backward, step, zero_grad, and the
loss read as a number — the step host/examples/step_bench.rs times in
hammer. Prints one JSON object (and writes it to --out): ms per step and
their median per thread count.

Usage: python bench/step_torch.py [--threads 1,2] [--batch-size 64] [--steps 20]
                                  [--warmup 3] [--out FILE]
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--threads', default='1,2')
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--out')
    args = p.parse_args()
    runs = []
    for threads in [int(t) for t in args.threads.split(',')]:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = torchvision.models.resnet18(num_classes=10)
        model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
        model.train()
        # foreach=False: the single-tensor update hammer's optimizer mirrors.
        # (PyTorch's default on CPU is the same.)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4,
                              foreach=False)
        inputs = torch.randn(args.batch_size, 3, 32, 32)
        targets = torch.randint(10, (args.batch_size,))
        ms, last = [], 0.0
        for i in range(args.warmup + args.steps):
            t = time.perf_counter()
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()
            opt.step()
            opt.zero_grad()
            last = loss.item()
            elapsed = (time.perf_counter() - t) * 1e3
            if i >= args.warmup:
                ms.append(elapsed)
        med = statistics.median(ms)
        print(f'step_torch: {threads} thread(s): {med:.1f} ms/step (median of {len(ms)}), '
              f'loss {last:.4f}', file=sys.stderr)
        runs.append({
            'threads': threads,
            'ms_per_step': [round(v, 2) for v in ms],
            'median_ms_per_step': round(med, 2),
            'min_ms_per_step': round(min(ms), 2),
            'last_loss': last,
        })
    report = {
        'tool': 'torch',
        'model': 'torchvision resnet18 (CIFAR stem)',
        'batch_size': args.batch_size,
        'input': [3, 32, 32],
        'optimizer': 'sgd lr 0.1 momentum 0.9 weight_decay 5e-4 (foreach=False)',
        'steps': args.steps,
        'warmup': args.warmup,
        'runs': runs,
    }
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
            f.write('\n')
    print(json.dumps(report))


if __name__ == '__main__':
    main()
