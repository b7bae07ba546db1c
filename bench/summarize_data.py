"""Statistics of the "data" part of `bench/run.sh`: reads the four JSON
results in DIR — data-hammer.json (host/examples/data_bench.rs),
data-torch.json (bench/data_torch.py), step-hammer[-N].json
(host/examples/step_bench.rs), step-torch[-N].json (bench/step_torch.py),
the -N files (one per thread count) merged — and
writes OUT_DIR/data.json (raw numbers, medians, ratios, machine) and
OUT_DIR/data.md (tables, also printed).

Standard library only.

Usage: python bench/summarize_data.py DIR OUT_DIR [--images-desc TEXT]
                                      [--load-before "1.0 0.8 0.5"]
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import write_results, machine_info, ratio  # noqa: E402


def load(directory, name):
    path = os.path.join(directory, name)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f'summarize_data: cannot read {path}: {e}')


def load_steps(directory, stem):
    """STEM.json, or STEM-<threads>.json (one process per thread count)
    merged into one result."""
    if os.path.exists(os.path.join(directory, f'{stem}.json')):
        return load(directory, f'{stem}.json')
    names = sorted(n for n in os.listdir(directory)
                   if n.startswith(stem + '-') and n.endswith('.json'))
    if not names:
        sys.exit(f'summarize_data: no {stem}.json or {stem}-N.json in {directory}')
    parts = [load(directory, n) for n in names]
    merged = dict(parts[0])
    merged['runs'] = [r for p in parts for r in p['runs']]
    return merged


def by(runs, key):
    return {r[key]: r for r in runs}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('dir')
    p.add_argument('out_dir')
    p.add_argument('--images-desc', default=None, help='what the image folder holds')
    p.add_argument('--load-before', default=None)
    args = p.parse_args()

    dh, dt = load(args.dir, 'data-hammer.json'), load(args.dir, 'data-torch.json')
    sh, st = load_steps(args.dir, 'step-hammer'), load_steps(args.dir, 'step-torch')

    pipeline = []
    hw, tw = by(dh['runs'], 'workers'), by(dt['runs'], 'workers')
    for w in sorted(set(hw) & set(tw)):
        h, t = hw[w]['median_images_per_s'], tw[w]['median_images_per_s']
        ch, ct = hw[w]['checksum_epoch0'], tw[w]['checksum_epoch0']
        values = dh['samples'] * 3 * dh['resolution'][0] * dh['resolution'][1]
        pipeline.append({
            'workers': w,
            'hammer_images_per_s': h,
            'torchvision_images_per_s': t,
            'hammer_over_torchvision': ratio(h, t),
            'hammer_runs': hw[w]['images_per_s'],
            'torchvision_runs': tw[w]['images_per_s'],
            # Sum of every normalized value of one epoch, both sides: they
            # differ only by the JPEG decoders' rounding.
            'mean_value_difference': round(abs(ch - ct) / values, 6) if values else None,
        })

    step = []
    hs, ts = by(sh['runs'], 'threads'), by(st['runs'], 'threads')
    for n in sorted(set(hs) & set(ts)):
        h, t = hs[n]['median_ms_per_step'], ts[n]['median_ms_per_step']
        step.append({
            'threads': n,
            'hammer_ms_per_step': h,
            'torch_ms_per_step': t,
            'hammer_over_torch': ratio(h, t),
            'hammer_min_ms': hs[n]['min_ms_per_step'],
            'torch_min_ms': ts[n]['min_ms_per_step'],
            'hammer_runs': hs[n]['ms_per_step'],
            'torch_runs': ts[n]['ms_per_step'],
        })

    result = {
        'machine': machine_info(args.load_before),
        'images': args.images_desc,
        'pipeline': {
            'samples': dh['samples'],
            'resolution': dh['resolution'],
            'batch_size': dh['batch_size'],
            'epochs': dh['epochs'],
            'warmup_epochs': dh['warmup_epochs'],
            'by_workers': pipeline,
        },
        'step': {
            'model': 'resnet18, CIFAR stem, 10 classes',
            'batch_size': sh['batch_size'],
            'input': sh['input'],
            'optimizer': sh['optimizer'],
            'steps': sh['steps'],
            'warmup': sh['warmup'],
            'by_threads': step,
        },
        'raw': {'data_hammer': dh, 'data_torch': dt, 'step_hammer': sh, 'step_torch': st},
    }
    write_results(args.out_dir, 'data', result, markdown(result))


def markdown(result):
    m, pl, st = result['machine'], result['pipeline'], result['step']
    lines = [
        '# Benchmark: image pipeline and ResNet-18 training step',
        '',
        f"{m['nproc']} × {m['cpu_model']}, torch {m['torch']}, {m['date']}.",
        '',
        f"Load average (1, 5, 15 min): {m['loadavg_before'] or '?'} before the "
        f"runs, {m['loadavg_after'] or '?'} after, on {m['nproc']} cores.",
        '',
        '## Image pipeline: decode + center crop + resize + normalize',
        '',
        f"{result['images'] or str(pl['samples']) + ' JPEGs'}, to "
        f"{pl['resolution'][0]}×{pl['resolution'][1]}, batches of {pl['batch_size']}, "
        f"shuffled; median images/s over {pl['epochs']} epochs after "
        f"{pl['warmup_epochs']} untimed.",
        '',
        '| workers | hammer (images/s) | torchvision (images/s) | hammer / torchvision |',
        '| ---: | ---: | ---: | ---: |',
    ]
    for r in pl['by_workers']:
        lines.append(f"| {r['workers']} | {r['hammer_images_per_s']:.0f} | "
                     f"{r['torchvision_images_per_s']:.0f} | {r['hammer_over_torchvision']:.2f}× |")
    diffs = [r['mean_value_difference'] for r in pl['by_workers'] if r['mean_value_difference'] is not None]
    lines += [
        '',
        "hammer: an `image_folder` data set (`pipeline = { resolution = [64, 64], mean, std }`) "
        "through hammer's `DataLoader` (worker threads, `prefetch = 2`), from "
        '`host/examples/data_bench.rs`. torchvision: `ImageFolder` (PIL decoding) with '
        '`ToTensor`, the same centred crop, `Resize(antialias=False)` (bilinear, as hammer) and '
        '`Normalize`, through `DataLoader(num_workers=N)` (worker processes, started each epoch '
        'as hammer starts its threads), `bench/data_torch.py`. An epoch ends when the consumer '
        'has received its last batch.',
    ]
    if diffs:
        lines += ['', f"Both produce the same tensors up to JPEG decoder rounding: the mean "
                      f"difference of a normalized value over an epoch is {max(diffs):.2g}."]
    lines += [
        '',
        f"## ResNet-18 training step ({st['model']})",
        '',
        f"Batch {st['batch_size']} × {'×'.join(map(str, st['input']))}, {st['optimizer']}; "
        f"median ms per step over {st['steps']} steps after {st['warmup']} untimed.",
        '',
        '| threads | hammer (ms/step) | PyTorch eager (ms/step) | hammer / PyTorch |',
        '| ---: | ---: | ---: | ---: |',
    ]
    for r in st['by_threads']:
        lines.append(f"| {r['threads']} | {r['hammer_ms_per_step']:.1f} | "
                     f"{r['torch_ms_per_step']:.1f} | {r['hammer_over_torch']:.2f}× |")
    lines += [
        '',
        "hammer: `Model::build` (resnet18, `cifar_stem = true`), `forward_t(train)`, "
        "`hammer::loss` cross-entropy, backward, `hammer::optim` SGD step and `zero_grad`, "
        "`host/examples/step_bench.rs` (the runner's step without its hooks and logging). "
        "PyTorch: torchvision's `resnet18` with the same stem, `torch.optim.SGD`, "
        "`bench/step_torch.py`. Both read the loss as a number at the end of each step; "
        "each thread count runs in a process of its own.",
        '',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
