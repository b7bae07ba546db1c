"""A plain PyTorch training loop doing the job of configs/tutorial.toml:
what the MMEngine tutorial's job costs without a runner.

Same data (MMEngine's two-ring MyDataset: train 10,000 points after
manual_seed(0), val 1,000 after manual_seed(3407)), same model (MyAwesomeModel
with layers=2: Linear 2->64, ReLU, Linear 64->64, ReLU, Linear 64->2, built
after manual_seed(0)), Adam lr 1e-3 with torch's MultiStepLR (milestones
[4, 8], gamma 0.1) stepped once per epoch, after it, as MMEngine does with
`by_epoch=True` and hammer's `lr` plugin does (epochs 0-3 at 1e-3, 4-7 at
1e-4, 8-9 at 1e-5), 10 epochs of batches of 64 in an order
drawn each epoch by a torch.Generator seeded with seed + epoch, cross-entropy,
validation (one batch of 1,000) after each epoch from epoch 2. Batches are
taken by indexing the data set's tensors, as hammer's loader does; no
DataLoader, no hooks, no logging.

With --work-dir DIR, model and optimizer state are saved with one torch.save
per epoch (DIR/epoch_N.pth), to match the checkpoint hammer writes per epoch.

Usage: python bench/torch_loop.py [--threads N] [--work-dir DIR]
Prints one line of JSON: {"train_loop_s": ..., "accuracy": ...}; the time
covers the epochs, validations and checkpoints only.
"""

import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 0
EPOCHS = 10
VAL_BEGIN = 2
BATCH = 64
LR = 1e-3
MILESTONES = [4, 8]
GAMMA = 0.1


def two_rings(size, seed):
    """The tutorial's MyDataset, as two tensors (inputs [n, 2], labels [n])."""
    torch.manual_seed(seed)
    labels = torch.randint(0, 2, (size,))
    r = 3 * (labels + 1) + torch.randn(labels.shape)
    theta = torch.rand(labels.shape) * 2 * torch.pi
    return torch.vstack([r * torch.cos(theta), r * torch.sin(theta)]).T.contiguous(), labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)

    train_x, train_y = two_rings(10000, 0)
    val_x, val_y = two_rings(1000, 3407)
    n = len(train_y)

    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(),
        nn.Linear(64, 64), nn.ReLU(),
        nn.Linear(64, 2),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=MILESTONES, gamma=GAMMA)
    generator = torch.Generator()

    started = time.perf_counter()
    accuracy = float('nan')
    for epoch in range(EPOCHS):
        model.train()
        generator.manual_seed(SEED + epoch)
        order = torch.randperm(n, generator=generator)
        for lo in range(0, n, BATCH):
            idx = order[lo:lo + BATCH]
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        # Per epoch (MMEngine's `by_epoch=True`): the rate for the next epoch.
        scheduler.step()
        if args.work_dir:
            # The scheduler's state too, as hammer's checkpoint keeps the
            # `lr` plugin's state.
            torch.save({'state_dict': model.state_dict(),
                        'optimizer': optimizer.state_dict(),
                        'param_schedulers': scheduler.state_dict(),
                        'epoch': epoch + 1},
                       os.path.join(args.work_dir, f'epoch_{epoch + 1}.pth'))
        if epoch + 1 >= VAL_BEGIN:
            model.eval()
            with torch.no_grad():
                correct = (model(val_x).argmax(dim=1) == val_y).sum().item()
            accuracy = 100.0 * correct / len(val_y)
    train_loop_s = time.perf_counter() - started
    print(json.dumps({'train_loop_s': round(train_loop_s, 4),
                      'accuracy': round(accuracy, 4)}))


if __name__ == '__main__':
    main()
