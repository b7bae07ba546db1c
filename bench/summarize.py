"""Statistics of a `bench/run.sh` session: reads its runs table (tool, round,
whole-process wall time, log file), takes from each log the training-loop
time and the final validation accuracy, and writes OUT_DIR/tutorial.json
(raw times, medians, ratios, accuracies, machine) and OUT_DIR/tutorial.md
(a small table, also printed).

Standard library only. bench/summarize_plugins.py uses its machine_info().

Usage: python bench/summarize.py RUNS_TSV OUT_DIR [--threads N] [--config PATH]
                                 [--load-before "1.0 0.8 0.5"]
"""

import argparse
import csv
import datetime
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys

# Display names, in table order.
TOOLS = {
    'hammer': 'hammer',
    'mmengine': 'MMEngine runner (tutorial)',
    'torch': 'plain PyTorch loop',
    'tch': 'bare tch loop',
}

# The two numbers `make bench` is about.
GOALS = {
    'mmengine_over_hammer_wall': {
        'what': 'MMEngine / hammer, whole process',
        'goal': '>= 10x', 'aim': '20x', 'met': lambda v: v >= 10.0,
    },
    'hammer_loop_over_tch_loop': {
        'what': 'hammer / bare tch, training loop',
        'goal': '<= 1.2x', 'aim': None, 'met': lambda v: v <= 1.2,
    },
}

HAMMER_LOOP = re.compile(r'Training finished in ([0-9.]+) s')
HAMMER_VAL = re.compile(r'Epoch\(val\) \[(\d+)\]\[\d+/\d+\]\s+accuracy: ([0-9.]+)')


def parse_hammer(text, log):
    """(training-loop seconds, accuracy) from hammer's console log."""
    loops = HAMMER_LOOP.findall(text)
    vals = HAMMER_VAL.findall(text)
    if not loops:
        sys.exit(f'summarize: no "Training finished in X s" line in {log}')
    if not vals:
        sys.exit(f'summarize: no "Epoch(val) [..] accuracy: .." line in {log}')
    epoch, accuracy = vals[-1]
    return float(loops[-1]), float(accuracy), int(epoch)


def parse_json_tail(text, log):
    """(training-loop seconds, accuracy) from the last line, a JSON object,
    that the Python scripts and the tch loop print."""
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        record = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        sys.exit(f'summarize: the last line of {log} is not the expected JSON')
    loop = record.get('train_loop_s', record.get('train_s'))
    return float(loop), float(record['accuracy']), None


def machine_info(load_before=None):
    """The machine and software versions; `load_before` is the load
    average (1, 5, 15 min, as /proc/loadavg) when the runs started; the one
    at the end is read here."""
    def version(package):
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    def command(*args):
        try:
            out = subprocess.run(args, capture_output=True, text=True, check=True)
            return out.stdout.strip() or None
        except (OSError, subprocess.CalledProcessError):
            return None

    cpu = None
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load_after = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    except OSError:
        load_after = None
    return {
        'nproc': len(os.sched_getaffinity(0)),
        'loadavg_before': load_before,
        'loadavg_after': load_after,
        'cpu_model': cpu,
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'platform': platform.platform(),
        'python': platform.python_version(),
        'torch': version('torch'),
        'mmengine': version('mmengine'),
        'rustc': command('rustc', '--version'),
        'git_commit': command('git', 'rev-parse', 'HEAD'),
    }


def ratio(a, b):
    return round(a / b, 3) if b > 0 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs')
    parser.add_argument('out_dir')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--config', default='configs/tutorial.toml')
    parser.add_argument('--load-before', default=None,
                        help='load average when the runs started')
    args = parser.parse_args()

    runs = []
    with open(args.runs, newline='') as f:
        for row in csv.DictReader(f, delimiter='\t'):
            tool, log = row['tool'], row['log']
            with open(log, errors='replace') as lf:
                text = lf.read()
            parse = parse_hammer if tool == 'hammer' else parse_json_tail
            loop_s, accuracy, val_epoch = parse(text, log)
            run = {'tool': tool, 'round': int(row['round']),
                   'wall_s': float(row['wall_s']), 'loop_s': loop_s,
                   'accuracy': accuracy}
            if val_epoch is not None:
                run['last_val_epoch'] = val_epoch
            if row.get('cpu_s'):
                run['cpu_s'] = float(row['cpu_s'])
            runs.append(run)
    missing = [t for t in TOOLS if not any(r['tool'] == t for r in runs)]
    if missing:
        sys.exit(f'summarize: no runs of {", ".join(missing)} in {args.runs}')

    tools = {}
    for tool in TOOLS:
        mine = [r for r in runs if r['tool'] == tool]
        walls = [r['wall_s'] for r in mine]
        loops = [r['loop_s'] for r in mine]
        accs = [r['accuracy'] for r in mine]
        tools[tool] = {
            'name': TOOLS[tool],
            'wall_s': walls,
            'loop_s': loops,
            'accuracy': accs,
            'median_wall_s': round(statistics.median(walls), 4),
            'median_loop_s': round(statistics.median(loops), 4),
            'median_accuracy': round(statistics.median(accs), 4),
        }

    med = {t: (v['median_wall_s'], v['median_loop_s']) for t, v in tools.items()}
    values = {
        'mmengine_over_hammer_wall': ratio(med['mmengine'][0], med['hammer'][0]),
        'hammer_loop_over_tch_loop': ratio(med['hammer'][1], med['tch'][1]),
        # For context only.
        'mmengine_over_hammer_loop': ratio(med['mmengine'][1], med['hammer'][1]),
        'torch_over_hammer_wall': ratio(med['torch'][0], med['hammer'][0]),
        'torch_over_hammer_loop': ratio(med['torch'][1], med['hammer'][1]),
        'hammer_wall_over_tch_wall': ratio(med['hammer'][0], med['tch'][0]),
    }
    ratios = {}
    for key, value in values.items():
        entry = {'value': value}
        if key in GOALS:
            goal = GOALS[key]
            entry.update(what=goal['what'], goal=goal['goal'], aim=goal['aim'],
                         met=value is not None and goal['met'](value))
        ratios[key] = entry

    rounds = max(r['round'] for r in runs)
    result = {
        'job': args.config,
        'threads': args.threads,
        'rounds': rounds,
        'machine': machine_info(args.load_before),
        'tools': tools,
        'ratios': ratios,
        'runs': runs,
    }

    write_results(args.out_dir, 'tutorial', result, markdown(result))


def accuracy_range(accuracies):
    """The val accuracies of a tool's runs: one value, or their range."""
    accs = sorted(set(accuracies))
    return f"{accs[0]:.2f}" if len(accs) == 1 else f"{accs[0]:.2f}–{accs[-1]:.2f}"


def machine_line(m):
    """One line naming the machine (`machine_info`'s) and its load around the runs."""
    return (f"{m['nproc']} × {m['cpu_model']}, {m['date']}; load average (1, 5, 15 min): "
            f"{m['loadavg_before'] or '?'} before the runs, {m['loadavg_after'] or '?'} after.")


def write_results(out_dir, name, result, text):
    """Writes `<name>.json` and `<name>.md` into `out_dir` and prints the markdown."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f'{name}.json'), 'w') as f:
        json.dump(result, f, indent=2)
        f.write('\n')
    with open(os.path.join(out_dir, f'{name}.md'), 'w') as f:
        f.write(text)
    print(text, end='')


def markdown(result):
    m = result['machine']
    lines = [
        '# Benchmark: the MMEngine runner tutorial job',
        '',
        f"`{result['job']}`, {result['threads']} thread, median of "
        f"{result['rounds']} round(s); {m['nproc']} × {m['cpu_model']}, "
        f"torch {m['torch']}, mmengine {m['mmengine']}, {m['date']}.",
        '',
        f"Load average (1, 5, 15 min): {m['loadavg_before'] or '?'} before the "
        f"runs, {m['loadavg_after'] or '?'} after, on {m['nproc']} cores.",
        '',
        '| | whole process (s) | training loop (s) | val accuracy (%) |',
        '| --- | ---: | ---: | ---: |',
    ]
    for tool in TOOLS:
        t = result['tools'][tool]
        acc = accuracy_range(t['accuracy'])
        lines.append(f"| {t['name']} | {t['median_wall_s']:.3f} | "
                     f"{t['median_loop_s']:.3f} | {acc} |")
    lines += [
        '',
        '| ratio | value | goal | met |',
        '| --- | ---: | --- | --- |',
    ]
    for key, entry in result['ratios'].items():
        if 'goal' not in entry:
            continue
        value = '–' if entry['value'] is None else f"{entry['value']:.2f}×"
        goal = entry['goal'].replace('x', '×')
        if entry['aim']:
            goal += f" (aim {entry['aim'].replace('x', '×')})"
        lines.append(f"| {entry['what']} | {value} | {goal} | "
                     f"{'yes' if entry['met'] else 'no'} |")
    lines += [
        '',
        'Training loop: hammer\'s "Training finished in X s" (epochs, '
        'validations, checkpoints); the same span timed by the PyTorch and '
        'tch loops; for MMEngine, `runner.train()` as a whole (it also builds '
        'the data loaders, optimizer and hooks it was given as configs).',
        '',
        'All four do the same work: Adam with the MultiStepLR schedule '
        '(× 0.1 at epochs 4 and 8) and the accuracy metric — in hammer both '
        'are WebAssembly plugins (`lr`, `accuracy`), read from the compile '
        'cache at start-up.',
        '',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
