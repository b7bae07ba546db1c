"""Writes the image folder that `bench/run.sh` (part "data") reads: CLASSES
class folders of PER_CLASS JPEGs of WIDTH×HEIGHT pixels each, drawn from a
fixed seed (smooth colour gradients, a few shapes and some noise, so that
the files compress like photographs rather than like flat colour or pure
noise). Writes into ROOT/.tmp first, then renames to ROOT, so a ROOT that
exists is complete; an existing ROOT is left alone.

Usage: python bench/make_image_folder.py ROOT [--classes 10] [--per-class 100]
                                              [--width 160] [--height 120] [--seed 0]
"""

import argparse
import os
import shutil

import numpy as np
from PIL import Image, ImageDraw


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('root')
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--per-class', type=int, default=100)
    p.add_argument('--width', type=int, default=160)
    p.add_argument('--height', type=int, default=120)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--quality', type=int, default=90)
    args = p.parse_args()
    if os.path.isdir(args.root):
        return
    tmp = args.root.rstrip('/') + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    rng = np.random.default_rng(args.seed)
    h, w = args.height, args.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for c in range(args.classes):
        d = os.path.join(tmp, f'class_{c:02d}')
        os.makedirs(d)
        for i in range(args.per_class):
            a = rng.uniform(-1, 1, size=(3, 3)).astype(np.float32)
            base = rng.uniform(40, 215, size=3).astype(np.float32)
            img = np.stack([base[k] + 60 * (a[k, 0] * xx / w + a[k, 1] * yy / h)
                            + 30 * np.sin(xx / (5 + 20 * abs(a[k, 2])) + c) for k in range(3)], axis=-1)
            img += rng.normal(0, 8, size=img.shape).astype(np.float32)
            pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), 'RGB')
            draw = ImageDraw.Draw(pil)
            for _ in range(3):
                x0, y0 = int(rng.integers(0, w - 10)), int(rng.integers(0, h - 10))
                x1, y1 = x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(8, h // 2))
                colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
                (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
            pil.save(os.path.join(d, f'{i:04d}.jpg'), quality=args.quality)
    os.rename(tmp, args.root)


if __name__ == '__main__':
    main()
