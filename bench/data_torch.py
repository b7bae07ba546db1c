"""The torchvision side of the image pipeline benchmark (bench/run.sh, part
"data"): torchvision's `ImageFolder` + torch's `DataLoader` over the same
folder and pipeline as host/examples/data_bench.rs, with N worker
processes; prints one JSON object (and writes it to --out) of images/s per
epoch and their median, per worker count.

The pipeline follows hammer's semantics: decode to RGB (PIL, as
`ImageFolder`'s default loader), `ToTensor` (float in [0, 1], as hammer
decodes), the largest centred region of the target's aspect ratio (hammer's
rounding: top = (h - rows) // 2), bilinear `Resize` without antialiasing
(`F.interpolate(mode="bilinear", align_corners=False)`, what hammer
computes), `Normalize` with ImageNet's mean and std. Each epoch iterates the
loader to the end, starting its workers anew (the default
`persistent_workers=False`), as hammer starts its loader threads per epoch.

Usage: python bench/data_torch.py ROOT [--workers 1,2] [--epochs 3] [--warmup 1]
                                  [--out FILE]
"""

import argparse
import json
import statistics
import sys
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class CenterRegion:
    """The largest centred region of aspect `to` (rows, columns), as hammer's
    `center_region`."""

    def __init__(self, to):
        self.th, self.tw = to

    def __call__(self, img):
        sh, sw = img.shape[-2:]
        th, tw = self.th, self.tw
        if sw * th > sh * tw:
            ch, cw = sh, max(1, round(sh * tw / th))
        else:
            ch, cw = max(1, round(sw * th / tw)), sw
        top, left = (sh - ch) // 2, (sw - cw) // 2
        return img[..., top:top + ch, left:left + cw]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('root')
    p.add_argument('--workers', default='1,2')
    p.add_argument('--height', type=int, default=64)
    p.add_argument('--width', type=int, default=64)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--prefetch', type=int, default=2,
                   help="DataLoader's prefetch_factor (batches per worker)")
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    size = (args.height, args.width)
    pipeline = transforms.Compose([
        transforms.ToTensor(),
        CenterRegion(size),
        transforms.Resize(size, interpolation=transforms.InterpolationMode.BILINEAR, antialias=False),
        transforms.Normalize(MEAN, STD),
    ])
    runs = []
    samples = 0
    for workers in [int(w) for w in args.workers.split(',')]:
        t = time.perf_counter()
        dataset = datasets.ImageFolder(args.root, transform=pipeline)
        scan_s = time.perf_counter() - t
        samples = len(dataset)
        generator = torch.Generator().manual_seed(0)
        loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=workers,
                            prefetch_factor=args.prefetch, generator=generator)
        per_epoch, checksum = [], 0.0
        for epoch in range(args.warmup + args.epochs):
            t = time.perf_counter()
            images = 0
            for inputs, _ in loader:
                images += inputs.shape[0]
                if epoch == 0:
                    checksum += inputs.double().sum().item()
            s = time.perf_counter() - t
            if images != samples:
                sys.exit(f'data_torch: epoch {epoch} gave {images} images, the data set has {samples}')
            if epoch >= args.warmup:
                per_epoch.append(images / s)
            print(f'data_torch: {workers} worker(s), epoch {epoch}: {images} images in {s:.3f} s',
                  file=sys.stderr)
        runs.append({
            'workers': workers,
            'images_per_s': [round(v, 1) for v in per_epoch],
            'median_images_per_s': round(statistics.median(per_epoch), 1),
            'scan_s': scan_s,
            'checksum_epoch0': checksum,
        })
    report = {
        'tool': 'torchvision',
        'root': args.root,
        'samples': samples,
        'resolution': list(size),
        'batch_size': args.batch_size,
        'prefetch_factor': args.prefetch,
        'epochs': args.epochs,
        'warmup_epochs': args.warmup,
        'threads': args.threads,
        'runs': runs,
    }
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
            f.write('\n')
    print(json.dumps(report))


if __name__ == '__main__':
    main()
