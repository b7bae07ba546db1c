"""Statistics of host/examples/call_shapes.rs in the "polyglot" part of
`bench/run.sh`: what the shape of a hook call (bench/call_shapes/shapes.wit)
costs a plugin in each dynamic language, in a tight loop and with the caches
disturbed between calls. Reads SHAPES_DIR/<lang>.json, one per language;
writes OUT_DIR/call_shapes.json and OUT_DIR/call_shapes.md (a table, also
printed).

Standard library only.

Usage: python bench/summarize_shapes.py SHAPES_DIR OUT_DIR [--load-before "1.0 0.8 0.5"]
"""

import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import write_results, machine_info, machine_line  # noqa: E402

# What each export of shapes.wit receives and does, in table order.
SHAPES = {
    'with-info': "hammer 0.1's `on-phase(info: step-info)`, empty",
    'with-phase': "hammer 0.2's `on-phase(phase)`, empty",
    'bare': '`()`, empty',
    'spike-info': '`spike` given the step-info: reads `loss`, emits the ratio (2 host calls)',
    'spike-phase': '`spike` given the phase (hammer 0.2): the same 2 host calls',
    'spike-loss': '`spike` given the phase and the loss: emits the ratio (1 host call)',
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('shapes_dir')
    parser.add_argument('out_dir')
    parser.add_argument('--load-before', default=None, help='load average when the runs started')
    args = parser.parse_args()
    languages = {}
    for path in sorted(glob.glob(os.path.join(args.shapes_dir, '*.json'))):
        with open(path) as f:
            data = json.load(f)
        lang = os.path.splitext(os.path.basename(path))[0]
        languages[lang] = {'component': data['component'],
                           'ns_per_call': {f"{r['shape']}@{r['pollute_mb']}": r['ns_per_call'] for r in data['results']},
                           'pollute_mb': sorted({r['pollute_mb'] for r in data['results']})}
    if not languages:
        sys.exit(f'summarize_shapes: no results in {args.shapes_dir}')
    result = {'machine': machine_info(args.load_before), 'languages': languages}
    write_results(args.out_dir, 'call_shapes', result, markdown(result))


def markdown(result):
    langs = result['languages']
    columns = [(lang, mb) for lang, e in langs.items() for mb in e['pollute_mb']]
    def label(lang, mb):
        return f'{lang}, tight loop' if mb == 0 else f'{lang}, {mb} MiB written between calls'
    lines = [
        '# Benchmark: what the shape of a hook call costs (host/examples/call_shapes.rs)',
        '',
        machine_line(result['machine']),
        '',
        'µs per call, the median of 3 repetitions of 5,000 timed calls.',
        '',
        '| shape | ' + ' | '.join(label(lang, mb) for lang, mb in columns) + ' |',
        '| --- |' + ' ---: |' * len(columns),
    ]
    for shape, what in SHAPES.items():
        cells = []
        for lang, mb in columns:
            ns = langs[lang]['ns_per_call'].get(f'{shape}@{mb}')
            cells.append('–' if ns is None else f'{ns / 1000:.2f}')
        lines.append(f'| {what} | ' + ' | '.join(cells) + ' |')
    lines += [
        '',
        'The exports of bench/call_shapes/shapes.wit, built with the toolchains of polyglot/ '
        '(componentize-py with hammer_sdk.fast_enums; jco with QuickJS), called by a plain wasmtime '
        'engine whose host answers `scalar` with a constant. Writing a buffer between calls stands '
        'in for a training loop\'s work, which evicts the interpreter from the caches (inside the '
        'tutorial job a hook call costs more still: bench/results/polyglot.md).',
        '',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
