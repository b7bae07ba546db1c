"""Writes the tutorial job with its plugins written in each language, for the
"polyglot" part of `bench/run.sh`: the job's metric and learning-rate
schedule as plugins, CosineAnnealingLR by epoch over the job's epochs.

- OUT_DIR/rust.json: the first-party `accuracy` and `lr` (type
  CosineAnnealingLR, by_epoch) from the bundle store;
- OUT_DIR/<lang>.json for each LANG=DIR given: DIR/accuracy.wasm and
  DIR/cosine.wasm (polyglot/<lang>/out/), the same metric and schedule.

Everything else is the config's (JSON configs: hammer reads them by
extension). Standard library only.

Usage: python bench/plugin_configs.py CONFIG OUT_DIR [LANG=DIR ...]
"""

import json
import os
import sys
import tomllib


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    config, out_dir, langs = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(config, 'rb') as f:
        job = tomllib.load(f)
    epochs = job['train_cfg']['max_epochs']
    plugins = {
        'rust': [
            {'name': 'accuracy', 'version': '^0.1'},
            {'name': 'lr', 'version': '^0.1',
             'options': {'type': 'CosineAnnealingLR', 'by_epoch': True, 'T_max': epochs}},
        ],
    }
    for spec in langs:
        lang, sep, directory = spec.partition('=')
        if not sep:
            sys.exit(f'plugin_configs: `{spec}` is not LANG=DIR')
        directory = os.path.abspath(directory)
        plugins[lang] = [
            {'path': os.path.join(directory, 'accuracy.wasm')},
            {'path': os.path.join(directory, 'cosine.wasm'), 'options': {'T_max': epochs}},
        ]
    os.makedirs(out_dir, exist_ok=True)
    for lang, chosen in plugins.items():
        with open(os.path.join(out_dir, f'{lang}.json'), 'w') as f:
            json.dump({**job, 'plugins': chosen}, f, indent=2)


if __name__ == '__main__':
    main()
