"""Statistics of the "plugins" part of `bench/run.sh`: reads the
plugin_bench results (PLUGIN_BENCH_DIR/<name>-{cold,cached}.json, from
host/examples/plugin_bench.rs) and the runs table of the tutorial job with
and without plugins (tool `plugins` or `no-plugins`, round, whole-process
wall time, log file; hammer's scalars.jsonl kept beside each log as
<log stem>.scalars.jsonl), and writes OUT_DIR/plugins.json (raw numbers,
medians, ratios, machine) and OUT_DIR/plugins.md (tables, also printed).

Standard library only.

Usage: python bench/summarize_plugins.py RUNS_TSV PLUGIN_BENCH_DIR OUT_DIR
           [--threads N] [--config PATH] [--load-before "1.0 0.8 0.5"]
"""

import argparse
import csv
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import accuracy_range, write_results, machine_info, machine_line, parse_hammer, ratio  # noqa: E402

# plugin_bench runs, in table order: name -> what it stands for.
PLUGINS = {
    'misbehave': 'hook (tests/guests misbehave, action "nothing")',
    'accuracy': 'metric (plugins/accuracy)',
    'lr': 'lr policy (plugins/lr, MultiStepLR)',
    'ema': 'hook (plugins/ema, the tutorial model\'s parameters)',
}

# The calls plugin_bench times, per kind: (key in its "calls", label,
# native counterpart key or None).
CALLS = {
    'hook': [],  # one entry per subscribed phase, filled from the results
    'metric': [('metric_process', 'process, [1000, 2] batch', 'native_accuracy_process'),
               ('metric_compute', 'compute', None),
               ('metric_reset', 'reset', None)],
    'lr-policy': [('lr_policy_step', 'step', None)],
}

VARIANTS = {
    'plugins': 'with plugins (accuracy, lr, ema)',
    'tutorial': 'the tutorial job as it is (accuracy, lr)',
    'no-plugins': 'no plugins (built-in accuracy, no schedule)',
}

HOOK_GOAL_NS = 1000.0
JOB_GOAL = 1.05


def load_plugin_bench(directory):
    results = {}
    for name in PLUGINS:
        for mode in ('cold', 'cached'):
            path = os.path.join(directory, f'{name}-{mode}.json')
            try:
                with open(path) as f:
                    results.setdefault(name, {})[mode] = json.load(f)
            except (OSError, json.JSONDecodeError) as e:
                sys.exit(f'summarize_plugins: cannot read {path}: {e}')
    return results


def call_rows(name, runs):
    """(label, cold ns/call, cached ns/call, native ns/call or None) per timed call."""
    cached, cold = runs['cached'], runs['cold']
    kind = cached['kind']
    rows = []
    if kind == 'hook':
        # EMA's native counterpart is the same update in libtorch.
        native = cached['calls'].get('native_ema_update', cached['calls']['native_noop_hook_call'])['ns_per_call']
        for phase, timing in cached['calls']['hook_call'].items():
            rows.append((f'hook call at {phase}', cold['calls']['hook_call'][phase]['ns_per_call'],
                         timing['ns_per_call'], native))
    else:
        for key, label, native_key in CALLS[kind]:
            native = cached['calls'][native_key]['ns_per_call'] if native_key else None
            rows.append((label, cold['calls'][key]['ns_per_call'],
                         cached['calls'][key]['ns_per_call'], native))
    return rows


def scalars_iter_seconds(path):
    """Seconds spent in training iterations (data, step, hooks, lr policies),
    from hammer's scalars.jsonl: each training record's mean `time` times the
    iterations since the previous one."""
    total, last_iter = 0.0, 0
    try:
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if record.get('mode') != 'train' or 'time' not in record:
                    continue
                total += record['time'] * (record['iter'] - last_iter)
                last_iter = record['iter']
    except (OSError, json.JSONDecodeError):
        return None
    return round(total, 4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs')
    parser.add_argument('plugin_bench_dir')
    parser.add_argument('out_dir')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--config', default='configs/tutorial.toml')
    parser.add_argument('--load-before', default=None,
                        help='load average when the runs started')
    args = parser.parse_args()

    bench = load_plugin_bench(args.plugin_bench_dir)

    runs = []
    with open(args.runs, newline='') as f:
        for row in csv.DictReader(f, delimiter='\t'):
            log = row['log']
            with open(log, errors='replace') as lf:
                loop_s, accuracy, val_epoch = parse_hammer(lf.read(), log)
            cpu = row.get('cpu_s')
            runs.append({'variant': row['tool'], 'round': int(row['round']),
                         'wall_s': float(row['wall_s']),
                         'cpu_s': float(cpu) if cpu else None, 'loop_s': loop_s,
                         'iter_s': scalars_iter_seconds(os.path.splitext(log)[0] + '.scalars.jsonl'),
                         'accuracy': accuracy, 'last_val_epoch': val_epoch})
    missing = [v for v in VARIANTS if not any(r['variant'] == v for r in runs)]
    if missing:
        sys.exit(f'summarize_plugins: no runs of {", ".join(missing)} in {args.runs}')

    variants = {}
    for variant, label in VARIANTS.items():
        mine = [r for r in runs if r['variant'] == variant]
        entry = {'name': label}
        for key in ('wall_s', 'cpu_s', 'loop_s', 'iter_s', 'accuracy'):
            values = [r[key] for r in mine if r[key] is not None]
            entry[key] = values
            entry[f'median_{key}'] = round(statistics.median(values), 4) if values else None
        variants[variant] = entry

    def job_ratio(variant, key, what, goal):
        value = ratio(variants[variant][f'median_{key}'] or 0,
                      variants['no-plugins'][f'median_{key}'] or 0)
        # Per round too: the variants of a round ran back to back.
        per_round = []
        for rnd in sorted({r['round'] for r in runs}):
            mine = {r['variant']: r[key] for r in runs if r['round'] == rnd}
            if mine.get(variant) is not None and mine.get('no-plugins'):
                per_round.append(ratio(mine[variant], mine['no-plugins']))
        entry = {'value': value, 'what': what, 'per_round': per_round,
                 'median_per_round': round(statistics.median(per_round), 3) if per_round else None}
        if goal:
            entry.update(goal=f'<= {JOB_GOAL}×', met=value is not None and value <= JOB_GOAL)
        return entry

    ratios = {
        'plugins_over_none_wall': job_ratio(
            'plugins', 'wall_s', 'with / without plugins, whole process', True),
        'plugins_over_none_cpu': job_ratio(
            'plugins', 'cpu_s', 'with / without plugins, process CPU time', False),
        'plugins_over_none_loop': job_ratio(
            'plugins', 'loop_s', 'with / without plugins, training loop', True),
        'plugins_over_none_iters': job_ratio(
            'plugins', 'iter_s', 'with / without plugins, training iterations', False),
        'tutorial_over_none_wall': job_ratio(
            'tutorial', 'wall_s', 'tutorial (accuracy, lr) / no plugins, whole process', False),
        'tutorial_over_none_cpu': job_ratio(
            'tutorial', 'cpu_s', 'tutorial (accuracy, lr) / no plugins, process CPU time', False),
        'tutorial_over_none_loop': job_ratio(
            'tutorial', 'loop_s', 'tutorial (accuracy, lr) / no plugins, training loop', False),
        'tutorial_over_none_iters': job_ratio(
            'tutorial', 'iter_s', 'tutorial (accuracy, lr) / no plugins, training iterations', False),
    }

    hook_ns = bench['misbehave']['cached']['calls']['hook_call']
    worst_hook = max(t['ns_per_call'] for t in hook_ns.values())
    goals = {
        'hook_call_ns': {'value': worst_hook, 'what': 'one hook call (no-op hook)',
                         'goal': f'< {HOOK_GOAL_NS:.0f} ns', 'met': worst_hook < HOOK_GOAL_NS},
    }

    loads = {}
    for name, modes in bench.items():
        cold, cached = modes['cold'], modes['cached']
        loads[name] = {
            'kind': cached['kind'],
            'compile_s': cold['first_load_s'] if cold['first_load_from'] == 'compile' else None,
            'cached_load_s': cached['first_load_s'] if cached['first_load_from'] == 'cache' else None,
            'reload_same_process_s': cached['reload_s'],
            'runtime_s': cached['runtime_s'],
            'plugin_load_s': cached['plugin_load_s'],
        }

    result = {
        'job': args.config,
        'threads': args.threads,
        'rounds': max(r['round'] for r in runs),
        'machine': machine_info(args.load_before),
        'goals': goals,
        'ratios': ratios,
        'loads': loads,
        'calls': {name: [dict(zip(('call', 'cold_run_ns', 'cached_run_ns', 'native_ns'), row))
                         for row in call_rows(name, modes)]
                  for name, modes in bench.items()},
        'variants': variants,
        'runs': runs,
        'plugin_bench': bench,
    }

    write_results(args.out_dir, 'plugins', result, markdown(result))


def fmt(value, spec):
    return '–' if value is None else format(value, spec)


def markdown(result):
    m = result['machine']
    lines = [
        '# Benchmark: what plugins cost',
        '',
        machine_line(m),
        '',
        '## Loading (host/examples/plugin_bench.rs, a fresh process each)',
        '',
        '| plugin | compile: first load, empty cache (ms) | cached: first load in a new process (ms) '
        '| `plugin::load` from the cache: link, instantiate, setup (ms) | engine (ms) |',
        '| --- | ---: | ---: | ---: | ---: |',
    ]
    ms = lambda s: None if s is None else 1000 * s  # noqa: E731
    for name, label in PLUGINS.items():
        load = result['loads'][name]
        lines.append(f"| {label} | {fmt(ms(load['compile_s']), '.1f')} | "
                     f"{fmt(ms(load['cached_load_s']), '.2f')} | {fmt(ms(load['plugin_load_s']), '.2f')} | "
                     f"{fmt(ms(load['runtime_s']), '.2f')} |")
    lines += [
        '',
        '## One call (median over repetitions of a timed loop, after a warm-up)',
        '',
        '| plugin | call | ns per call (cold-cache process) | ns per call (cached process) | native equivalent (ns) |',
        '| --- | --- | ---: | ---: | ---: |',
    ]
    for name in PLUGINS:
        for row in result['calls'][name]:
            lines.append(f"| {name} | {row['call']} | {fmt(row['cold_run_ns'], '.0f')} | "
                         f"{fmt(row['cached_run_ns'], '.0f')} | {fmt(row['native_ns'], '.0f')} |")
    lines += [
        '',
        'Native equivalents: for the no-op hook, a native no-op called through a trait '
        'object; for ema, the same update natively (`lerp_` of each parameter\'s '
        'average, as MMEngine\'s EMA); for the metric, hammer\'s built-in `Accuracy` '
        'on the same tensors.',
        '',
        f"## The tutorial job with and without plugins (`{result['job']}`, "
        f"{result['threads']} thread, median of {result['rounds']} round(s))",
        '',
        '| | whole process (s) | process CPU time (s) | training loop (s) | training iterations (s) '
        '| val accuracy (%) |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
    ]
    for variant in VARIANTS:
        v = result['variants'][variant]
        acc = accuracy_range(v['accuracy'])
        lines.append(f"| {v['name']} | {fmt(v['median_wall_s'], '.3f')} | {fmt(v['median_cpu_s'], '.3f')} | "
                     f"{fmt(v['median_loop_s'], '.3f')} | "
                     f"{fmt(v['median_iter_s'], '.3f')} | {acc} |")
    lines += [
        '',
        '| measure | ratio of medians | median of per-round ratios | goal | met |',
        '| --- | ---: | ---: | --- | --- |',
    ]
    times = lambda v: '–' if v is None else f'{v:.3f}×'  # noqa: E731
    for entry in result['ratios'].values():
        goal = entry.get('goal', '(context)')
        met = {True: 'yes', False: 'no'}.get(entry.get('met'), '')
        lines.append(f"| {entry['what']} | {times(entry['value'])} | "
                     f"{times(entry['median_per_round'])} | {goal} | {met} |")
    for entry in result['goals'].values():
        lines.append(f"| {entry['what']}, worst phase | {entry['value']:.0f} ns | | {entry['goal']} | "
                     f"{'yes' if entry['met'] else 'no'} |")
    lines += [
        '',
        'With plugins: `configs/tutorial.toml` (the `accuracy` metric and the `lr` '
        'MultiStepLR policy are plugins) plus `--plugin plugins/ema.wasm` (an EMA of '
        'the weights, updated after every iteration and swapped in for validation, '
        'hence its lower accuracy: real work per iteration, not only plugin overhead); '
        'the tutorial job as it is: `configs/tutorial.toml` alone; without: the same '
        'config with `plugins = []` and the built-in accuracy metric. The three run '
        'back to back in each round, in reverse order every other round. Compiled '
        'plugins come from the cache. '
        'Process CPU time: user + system of the whole process, less disturbed than '
        'wall time by other processes on the machine. '
        'Training loop: hammer\'s "Training finished in X s" (printed to 0.01 s); '
        'training iterations: the sum of the per-iteration `time` in `scalars.jsonl` '
        '(data, step, hooks and lr policies; no validation or checkpoints).',
        '',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
