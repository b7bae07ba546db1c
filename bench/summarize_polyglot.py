"""Statistics of the "polyglot" part of `bench/run.sh`: what a plugin costs in
each language. Reads the list of plugins measured (LANGS_TSV: lang, role
`hook`/`metric`/`lr-policy`, component, options), their plugin_bench results
(PLUGIN_BENCH_DIR/<lang>-<role>-{cold,cached}.json, from
host/examples/plugin_bench.rs) and the runs table of the tutorial job as it is
(tool `without-hook`) and with each language's hook (`hook-<lang>`): round,
whole-process wall and CPU time, log file. Writes OUT_DIR/polyglot.json (raw
numbers, medians, ratios, machine) and OUT_DIR/polyglot.md (tables, also
printed).

The languages are whatever LANGS_TSV lists (bench/run.sh finds them under
polyglot/); nothing here names one, except that rust comes first.

Standard library only.

Usage: python bench/summarize_polyglot.py RUNS_TSV LANGS_TSV PLUGIN_BENCH_DIR OUT_DIR
           [--threads N] [--config PATH] [--load-before "1.0 0.8 0.5"]
"""

import argparse
import csv
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import write_results, machine_info, machine_line, parse_hammer, ratio  # noqa: E402

ROLES = {'hook': 'hook', 'metric': 'metric', 'lr-policy': 'lr policy'}

# The issue's goals for a Python or JavaScript plugin; shown for every language.
START_GOAL_S = 0.100
JOB_GOAL = 1.05

# hammer's end-of-run table: `<name> (hook)   calls   total (s)   mean (µs)`.
HOOK_LINE = re.compile(r' - (\S+) \(hook\)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)\s*$', re.M)


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 6) if values else None


def read_tsv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f, delimiter='\t'))


def language_order(langs):
    return sorted(set(langs), key=lambda lang: (lang != 'rust', lang))


def load_plugins(langs_tsv, bench_dir):
    """{(lang, role): {component, size_bytes, cold, cached}}."""
    plugins = {}
    for row in read_tsv(langs_tsv):
        entry = {'component': row['component'], 'options': json.loads(row['options'] or '{}'),
                 'size_bytes': os.path.getsize(row['component'])}
        for mode in ('cold', 'cached'):
            path = os.path.join(bench_dir, f"{row['lang']}-{row['role']}-{mode}.json")
            try:
                with open(path) as f:
                    entry[mode] = json.load(f)
            except (OSError, json.JSONDecodeError) as e:
                sys.exit(f'summarize_polyglot: cannot read {path}: {e}')
        plugins[(row['lang'], row['role'])] = entry
    return plugins


def calls_of(entry):
    """(call, ns per call in the cached process, in the cold-cache process) for each timed call."""
    cached, cold = entry['cached']['calls'], entry['cold']['calls']
    kind = entry['cached']['kind']
    if kind == 'hook':
        return [(f'on_phase at {phase}', t['ns_per_call'], cold['hook_call'][phase]['ns_per_call'])
                for phase, t in cached['hook_call'].items()]
    keys = {'metric': [('metric_process', 'process, [1000, 2] batch'), ('metric_compute', 'compute'),
                       ('metric_reset', 'reset')],
            'lr-policy': [('lr_policy_step', 'step')]}[kind]
    return [(label, cached[key]['ns_per_call'], cold[key]['ns_per_call']) for key, label in keys]


def load_summary(entry):
    cold, cached = entry['cold'], entry['cached']
    return {
        'size_bytes': entry['size_bytes'],
        'compile_s': cold['first_load_s'] if cold['first_load_from'] == 'compile' else None,
        'cached_load_s': cached['first_load_s'] if cached['first_load_from'] == 'cache' else None,
        # What `hammer train` pays per plugin at a cached start: hash the
        # component, read its compiled form, link, instantiate, `setup`.
        'start_s': cached['plugin_load_s'],
    }


def load_overhead(bench_dir, name):
    """hook_overhead.rs's results in BENCH_DIR/<name>.json, if it ran:
    `overhead-<lang>` (the language's hook added), `own-plugins-<lang>` (the
    job with its metric and lr policy in the language, against Rust's)."""
    path = os.path.join(bench_dir, f'{name}.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        o = json.load(f)
    result = {k: o[k] for k in ('pairs', 'without_median_s', 'with_median_s', 'added_ms', 'ratio')}
    # Three estimates from disjoint thirds of the pairs: how far to trust the median.
    added = [(w - n) * 1000.0 for w, n in zip(o['with_s'], o['without_s'])]
    third = len(added) // 3
    if third:
        result['added_ms_thirds'] = [round(statistics.median(added[k * third:(k + 1) * third]), 1) for k in range(3)]
    return result


def parse_run(row):
    log = row['log']
    with open(log, errors='replace') as f:
        text = f.read()
    loop_s, accuracy, _ = parse_hammer(text, log)
    hooks = HOOK_LINE.findall(text)
    cpu = row.get('cpu_s')
    return {'tool': row['tool'], 'round': int(row['round']), 'wall_s': float(row['wall_s']),
            'cpu_s': float(cpu) if cpu else None, 'loop_s': loop_s, 'accuracy': accuracy,
            'hook_calls': sum(int(h[1]) for h in hooks) if hooks else None,
            'hook_total_s': round(sum(float(h[2]) for h in hooks), 6) if hooks else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs')
    parser.add_argument('langs')
    parser.add_argument('plugin_bench_dir')
    parser.add_argument('out_dir')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--config', default='configs/tutorial.toml')
    parser.add_argument('--load-before', default=None, help='load average when the runs started')
    args = parser.parse_args()

    plugins = load_plugins(args.langs, args.plugin_bench_dir)
    langs = language_order(lang for lang, _ in plugins)
    runs = [parse_run(row) for row in read_tsv(args.runs)]
    if not any(r['tool'] == 'without-hook' for r in runs):
        sys.exit(f'summarize_polyglot: no runs of the job without a hook in {args.runs}')
    base = [r for r in runs if r['tool'] == 'without-hook']
    base_wall = median(r['wall_s'] for r in base)
    base_cpu = median(r['cpu_s'] for r in base)
    base_loop = median(r['loop_s'] for r in base)

    languages = {}
    for lang in langs:
        entry = {'plugins': {}}
        for role in ROLES:
            if (lang, role) not in plugins:
                continue
            p = plugins[(lang, role)]
            entry['plugins'][role] = {
                'component': p['component'], 'options': p['options'], **load_summary(p),
                'calls': [dict(zip(('call', 'cached_run_ns', 'cold_run_ns'), c)) for c in calls_of(p)],
            }
        mine = [r for r in runs if r['tool'] == f'hook-{lang}']
        if mine:
            wall, cpu, loop = (median(r[k] for r in mine) for k in ('wall_s', 'cpu_s', 'loop_s'))
            per_round = []
            for r in mine:
                other = [b for b in base if b['round'] == r['round']]
                if other:
                    per_round.append(ratio(r['wall_s'], other[0]['wall_s']))
            hook_total = median(r['hook_total_s'] for r in mine)
            start = entry['plugins'].get('hook', {}).get('start_s')
            # What the hook itself accounts for: its start from the cache and
            # its calls as hammer timed them in the job, over the job without
            # it. Less noisy than the ratio of wall times on a shared machine.
            accounted = None
            if start is not None and hook_total is not None and base_wall:
                accounted = round(1.0 + (start + hook_total) / base_wall, 3)
            entry['job'] = {
                'median_wall_s': wall, 'median_cpu_s': cpu, 'median_loop_s': loop,
                'wall_ratio': ratio(wall, base_wall), 'cpu_ratio': ratio(cpu or 0, base_cpu or 0),
                'loop_ratio': ratio(loop, base_loop),
                'median_per_round_wall_ratio': round(statistics.median(per_round), 3) if per_round else None,
                'added_wall_s': round(wall - base_wall, 4),
                'hook_calls': mine[0]['hook_calls'], 'median_hook_total_s': hook_total,
                'accounted_ratio': accounted,
                'accuracy': sorted({r['accuracy'] for r in mine}),
            }
            # The hook's cost paired in one process (hook_overhead.rs): its
            # calls and what they cost the loop around them, without the
            # whole-process noise; its start from the cache added.
            overhead = load_overhead(args.plugin_bench_dir, f'overhead-{lang}')
            in_process = None
            if overhead and start is not None and base_wall:
                # Each paired run builds the runner, so `added_ms` holds the hook's start already.
                in_process = round(1.0 + overhead['added_ms'] / 1000.0 / base_wall, 3)
            entry['in_process'] = overhead
            entry['goals'] = {
                'cached_start': {'value_s': start, 'goal': f'<= {START_GOAL_S * 1000:.0f} ms',
                                 'met': start is not None and start <= START_GOAL_S},
                'job_wall': {'value': entry['job']['wall_ratio'], 'goal': f'<= {JOB_GOAL}x',
                             'met': entry['job']['wall_ratio'] is not None
                             and entry['job']['wall_ratio'] <= JOB_GOAL},
                'job_accounted': {'value': accounted, 'goal': f'<= {JOB_GOAL}x',
                                  'met': accounted is not None and accounted <= JOB_GOAL},
                'job_in_process': {'value': in_process, 'goal': f'<= {JOB_GOAL}x',
                                   'met': in_process is not None and in_process <= JOB_GOAL},
            }
        # The job with its own metric and lr policy in this language, paired
        # against the job with the Rust ones; over the job's whole wall time.
        own = load_overhead(args.plugin_bench_dir, f'own-plugins-{lang}')
        if own:
            own['whole_job_ratio'] = round(1.0 + own['added_ms'] / 1000.0 / base_wall, 3) if base_wall else None
            entry['own_plugins'] = own
            entry.setdefault('goals', {})['job_own_plugins'] = {
                'value': own['whole_job_ratio'], 'goal': f'<= {JOB_GOAL}x',
                'met': own['whole_job_ratio'] is not None and own['whole_job_ratio'] <= JOB_GOAL}
        languages[lang] = entry

    result = {
        'job': args.config,
        'threads': args.threads,
        'rounds': max(r['round'] for r in runs),
        'machine': machine_info(args.load_before),
        'without_hook': {'median_wall_s': base_wall, 'median_cpu_s': base_cpu, 'median_loop_s': base_loop,
                         'accuracy': sorted({r['accuracy'] for r in base})},
        'languages': languages,
        'runs': runs,
        'plugin_bench': {f'{lang}-{role}': {'cold': p['cold'], 'cached': p['cached']}
                         for (lang, role), p in plugins.items()},
    }
    write_results(args.out_dir, 'polyglot', result, markdown(result))


def fmt(value, spec, scale=None):
    if value is None:
        return '–'
    return format(value if scale is None else value * scale, spec)


def paired_cells(o):
    """A hook_overhead.rs result as table cells: the medians without and
    with, the added time and its thirds."""
    thirds = ', '.join(f'{t:.1f}' for t in o.get('added_ms_thirds', []))
    return f"{o['without_median_s']:.3f} | {o['with_median_s']:.3f} | {o['added_ms']:.1f} | {thirds or '–'}"


def markdown(result):
    m = result['machine']
    langs = result['languages']
    lines = [
        '# Benchmark: plugins in each language',
        '',
        machine_line(m),
        '',
        '## Loading (host/examples/plugin_bench.rs, a fresh process each)',
        '',
        '| language | plugin | component | size (MB) | compile: first load, empty cache (s) '
        '| cached: first load in a new process (ms) '
        '| start from the cache: find (digest remembered), load, link, instantiate, setup (ms) |',
        '| --- | --- | --- | ---: | ---: | ---: | ---: |',
    ]
    for lang, entry in langs.items():
        for role, p in entry['plugins'].items():
            # Components outside the repository (the scaffolded hooks) were built in a temporary directory.
            where = f"`{p['component']}`" if not os.path.isabs(p['component']) else \
                f"`{os.path.basename(p['component'])}` (built in a temporary directory)"
            lines.append(f"| {lang} | {ROLES[role]} | {where} | {p['size_bytes'] / 1e6:.2f} | "
                         f"{fmt(p['compile_s'], '.2f')} | "
                         f"{fmt(p['cached_load_s'], '.1f', 1000)} | {fmt(p['start_s'], '.1f', 1000)} |")
    lines += [
        '',
        '## One call (median over repetitions of a timed loop, after a warm-up)',
        '',
        '| language | plugin | call | µs per call (cached process) | µs per call (cold-cache process) |',
        '| --- | --- | --- | ---: | ---: |',
    ]
    for lang, entry in langs.items():
        for role, p in entry['plugins'].items():
            for c in p['calls']:
                lines.append(f"| {lang} | {ROLES[role]} | {c['call']} | {fmt(c['cached_run_ns'], '.2f', 1e-3)} | "
                             f"{fmt(c['cold_run_ns'], '.2f', 1e-3)} |")
    base = result['without_hook']
    lines += [
        '',
        f"## The tutorial job with each language's hook (`{result['job']}` + `--plugin`, "
        f"{result['threads']} thread, median of {result['rounds']} round(s))",
        '',
        '| hook | whole process (s) | ratio | median of per-round ratios | added (ms) | process CPU (s) '
        '| training loop (s) | hook calls | hook time in the job (ms, hammer\'s own count) | val accuracy (%) |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        f"| none (the job as it is) | {fmt(base['median_wall_s'], '.3f')} | 1 | | | {fmt(base['median_cpu_s'], '.3f')} | "
        f"{fmt(base['median_loop_s'], '.3f')} | | | {', '.join(f'{a:.2f}' for a in base['accuracy'])} |",
    ]
    for lang, entry in langs.items():
        j = entry.get('job')
        if not j:
            continue
        lines.append(f"| {lang} | {fmt(j['median_wall_s'], '.3f')} | {fmt(j['wall_ratio'], '.3f')}× | "
                     f"{fmt(j['median_per_round_wall_ratio'], '.3f')}× | {fmt(j['added_wall_s'], '.0f', 1000)} | "
                     f"{fmt(j['median_cpu_s'], '.3f')} | {fmt(j['median_loop_s'], '.3f')} | "
                     f"{fmt(j['hook_calls'], 'd')} | {fmt(j['median_hook_total_s'], '.1f', 1000)} | "
                     f"{', '.join(f'{a:.2f}' for a in j['accuracy'])} |")
    paired = [(lang, e['in_process']) for lang, e in langs.items() if e.get('in_process')]
    if paired:
        lines += [
            '',
            f"## The hook's cost paired in one process (host/examples/hook_overhead.rs, "
            f"{paired[0][1]['pairs']} pairs)",
            '',
            '| hook | build + train without (s) | with (s) | added (ms, median of pairs) '
            '| the same, by thirds of the pairs (ms) | ratio (median of pairs) |',
            '| --- | ---: | ---: | ---: | ---: | ---: |',
        ]
        for lang, o in paired:
            lines.append(f"| {lang} | {paired_cells(o)} | {o['ratio']:.3f}× |")
    own = [(lang, e['own_plugins']) for lang, e in langs.items() if e.get('own_plugins')]
    if own:
        lines += [
            '',
            f"## The job with its own plugins in each language, paired in one process "
            f"(host/examples/hook_overhead.rs --against, {own[0][1]['pairs']} pairs)",
            '',
            'The tutorial job\'s metric (accuracy) and learning-rate schedule (CosineAnnealingLR by epoch) '
            'written in the language, against the same job with the first-party Rust plugins.',
            '',
            '| language | build + train with the Rust plugins (s) | with the language\'s (s) '
            '| added (ms, median of pairs) | the same, by thirds of the pairs (ms) '
            '| 1 + added / the whole job\'s wall time | ≤ 1.05× |',
            '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
        ]
        for lang, o in own:
            met = {True: 'yes', False: 'no'}[o['whole_job_ratio'] is not None and o['whole_job_ratio'] <= JOB_GOAL]
            lines.append(f"| {lang} | {paired_cells(o)} | {fmt(o['whole_job_ratio'], '.3f')}× | {met} |")
    lines += [
        '',
        '## Goals (the issue\'s, for a Python or JavaScript plugin; shown for every language)',
        '',
        '| language | cached start of its hook | ≤ 100 ms | job wall time with / without its hook, measured | ≤ 1.05× '
        '| the same, accounted: 1 + (start + hook time in the job) / wall without | ≤ 1.05× '
        '| the same, paired in one process: 1 + (added to the run, start included) / wall without | ≤ 1.05× '
        '| the job with its metric and lr policy in the language, paired, against Rust\'s | ≤ 1.05× |',
        '| --- | ---: | --- | ---: | --- | ---: | --- | ---: | --- | ---: | --- |',
    ]
    none = {'value': None, 'value_s': None, 'met': None}
    yes = {True: 'yes', False: 'no', None: '–'}
    for lang, entry in langs.items():
        g = entry.get('goals')
        if not g:
            continue
        start, wall, accounted, paired_hook, own_plugins = (
            g.get(k, none) for k in ('cached_start', 'job_wall', 'job_accounted', 'job_in_process', 'job_own_plugins'))
        lines.append(f"| {lang} | {fmt(start['value_s'], '.1f', 1000)} ms | {yes[start['met']]} | "
                     f"{fmt(wall['value'], '.3f')}× | {yes[wall['met']]} | "
                     f"{fmt(accounted['value'], '.3f')}× | {yes[accounted['met']]} | "
                     f"{fmt(paired_hook['value'], '.3f')}× | {yes[paired_hook['met']]} | "
                     f"{fmt(own_plugins['value'], '.3f')}× | {yes[own_plugins['met']]} |")
    lines += [
        '',
        'The hook of each language is its `spike` (reads `loss`, emits `spike/ratio` after every '
        'training iteration); rust\'s is tests/guests\' `misbehave` doing nothing at the same phase '
        '(a no-op: the floor of a hook call); `<lang>-new` is the hook `hammer plugin new --lang <lang>` '
        'writes (subscribed to `after_train_iter` every 100 iterations, it logs the loss: called 15 '
        'times in the job): what a hook that acts every so often costs. '
        'rust\'s metric and lr policy are the first-party '
        '`plugins/accuracy.wasm` and `plugins/lr.wasm` (CosineAnnealingLR). '
        'Compile: the first `Runtime::compile` with an empty cache; cached load: the same in a new '
        'process once the cache holds the compiled form; start from the cache: `hammer::plugin::load` '
        'of the plugin in that process (what `hammer train` does for it at start-up). '
        'The jobs: `without-hook` and one job per language with its hook added, back to back in '
        'each round, in reverse order every other round; compiled plugins come from the cache. '
        'Added: median wall time with the hook minus without. Hook time in the job: the total '
        'hammer reports for the hook at the end of the run (its calls, as the runner saw them, '
        'with the loop\'s caches and the other work around them: more per call than the '
        'plugin_bench loop). '
        'Measured and accounted: whole-process wall times of a ~0.9 s job move by several percent '
        'from round to round on a shared 2-core machine (a no-op hook can come out faster than no '
        'hook); the accounted ratio adds only what hammer timed the hook itself doing, and misses '
        'what its calls cost the loop around them (the caches they take). Paired in one process: '
        'the job built and trained with and without the hook in the same process, one run after '
        'the other, the order alternating; the median over pairs of the difference, which holds '
        'the hook\'s start (each run builds its runner: the compiled form read from the cache, '
        'instantiation, `setup`), its calls and their cost to the loop, and none of the process '
        'start-up noise. Its thirds (the median of each third of the pairs) show how far the '
        'median can be trusted.',
        '',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
