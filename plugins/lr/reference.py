"""Reference learning-rate sequences for the `lr` plugin's tests.

Prints one JSON document on stdout: for every test case, the hammer options
of the policies (one `lr` plugin each, chained in order), the optimizer's
base lr and momentum, and the value sequences that the references produce:

* `torch`: torch.optim.lr_scheduler (chained schedulers constructed in order,
  each stepped once per step, as MMEngine's ParamSchedulerHook does);
* `mmengine`: mmengine.optim.scheduler (only when mmengine is importable);
* `formula`: a direct transcription of MMEngine's formula, for the
  schedulers torch has no twin of (CosineRestartLR, PolyLR with eta_min).

Sequence element i is the value in force for step i (epoch i with
`by_epoch = true`, iteration i otherwise), i.e. after the schedulers'
construction and i calls of `step()`. ReduceOnPlateau consumes `metrics[i-1]`
at step i (the validation after epoch i-1).

Run with the venv's python: `$HAMMER_PYTHON plugins/lr/reference.py`.
"""

import itertools
import json
import math
import random
import sys
import warnings

import torch
from torch.optim import lr_scheduler as T

warnings.filterwarnings("ignore")

try:
    import mmengine
    from mmengine.optim import scheduler as M
except Exception:  # noqa: BLE001 - any import failure means "not available"
    mmengine = None
    M = None

STEPS = 100
BASE_LR = 0.1
BASE_MOMENTUM = 0.9


def optimizer(base_lr, momentum):
    param = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([param], lr=base_lr, momentum=momentum)


def record(opt):
    group = opt.param_groups[0]
    return group["lr"], group["momentum"]


def run(make, steps, base_lr, momentum, metrics=None, mm_plateau=False):
    """Constructs the schedulers, then steps them `steps - 1` times."""
    opt = optimizer(base_lr, momentum)
    schedulers = make(opt)
    lrs, moms = [], []
    for i in range(steps):
        if i > 0:
            opt.step()
            for s in schedulers:
                if metrics is None:
                    s.step()
                elif mm_plateau:
                    s.step()  # after_train_epoch: counts the epoch
                    s.step({"loss": metrics[i - 1], "accuracy": metrics[i - 1]})
                else:
                    s.step(metrics[i - 1])
        lr, mom = record(opt)
        lrs.append(lr)
        moms.append(mom)
    return lrs, moms


def cosine_restart_formula(base_lr, periods, weights, eta_min, steps):
    cumulative = list(itertools.accumulate(periods))
    lr, out = base_lr, []
    for t in range(steps):
        idx = next((i for i, c in enumerate(cumulative) if t < c), None)
        if idx is not None:
            step = t - (0 if idx == 0 else cumulative[idx - 1])
            if step == 0:
                lr = base_lr * weights[idx]
            else:
                p = periods[idx]
                lr = (1 + math.cos(math.pi * step / p)) / (
                    1 + math.cos(math.pi * (step - 1) / p)
                ) * (lr - eta_min) + eta_min
        out.append(lr)
    return out


def poly_formula(base_lr, eta_min, power, total_iters, steps):
    lr, out = base_lr, []
    for t in range(steps):
        if 0 < t <= total_iters:
            lr = (lr - eta_min) * (1 - 1 / (total_iters - t + 1)) ** power + eta_min
        out.append(lr)
    return out


def plateau_metrics(seed, kind):
    rng = random.Random(seed)
    if kind == "loss":
        # Falls, then flattens out with noise: several plateaus.
        return [1.0 / (1 + 0.15 * i) + 0.02 * rng.random() for i in range(STEPS)]
    # An accuracy on a small validation set: discrete values, often repeated.
    values, acc = [], 50.0
    for _ in range(STEPS):
        if rng.random() < 0.3:
            acc += rng.choice([0.5, 1.0, -0.5])
        values.append(acc)
    return values


def cases():
    it = dict(by_epoch=False)
    loss_metrics = plateau_metrics(1, "loss")
    acc_metrics = plateau_metrics(2, "accuracy")
    out = []

    def case(name, policies, torch_make=None, mm_make=None, formula=None, **kw):
        out.append(dict(name=name, policies=policies, torch=torch_make, mm=mm_make, formula=formula, **kw))

    case(
        "constant",
        [dict(type="ConstantLR", factor=0.5, total_iters=10, **it)],
        lambda o: [T.ConstantLR(o, factor=0.5, total_iters=10)],
        lambda o: [M.ConstantLR(o, factor=0.5, end=11, by_epoch=False)],
    )
    case(
        "constant_window",
        [dict(type="ConstantLR", factor=0.5, end=11, **it)],
        lambda o: [T.ConstantLR(o, factor=0.5, total_iters=10)],
        lambda o: [M.ConstantLR(o, factor=0.5, end=11, by_epoch=False)],
    )
    case(
        "constant_defaults",
        [dict(type="ConstantLR", **it)],
        lambda o: [T.ConstantLR(o)],
        lambda o: [M.ConstantLR(o, end=6, by_epoch=False)],
    )
    case(
        "step",
        [dict(type="StepLR", step_size=7, gamma=0.5, **it)],
        lambda o: [T.StepLR(o, step_size=7, gamma=0.5)],
        lambda o: [M.StepLR(o, step_size=7, gamma=0.5, by_epoch=False)],
    )
    case(
        "multistep",
        [dict(type="MultiStepLR", milestones=[10, 30, 30, 60], gamma=0.3, **it)],
        lambda o: [T.MultiStepLR(o, milestones=[10, 30, 30, 60], gamma=0.3)],
        lambda o: [M.MultiStepLR(o, milestones=[10, 30, 30, 60], gamma=0.3, by_epoch=False)],
    )
    case(
        "exponential",
        [dict(type="ExponentialLR", gamma=0.97, **it)],
        lambda o: [T.ExponentialLR(o, gamma=0.97)],
        lambda o: [M.ExponentialLR(o, gamma=0.97, by_epoch=False)],
    )
    case(
        "cosine",
        [dict(type="CosineAnnealingLR", T_max=30, eta_min=0.001, **it)],
        lambda o: [T.CosineAnnealingLR(o, T_max=30, eta_min=0.001)],
        lambda o: [M.CosineAnnealingLR(o, T_max=30, eta_min=0.001, by_epoch=False)],
    )
    case(
        "cosine_window",
        [dict(type="CosineAnnealingLR", end=100, **it)],
        lambda o: [T.CosineAnnealingLR(o, T_max=100)],
        lambda o: [M.CosineAnnealingLR(o, end=100, by_epoch=False)],
    )
    case(
        "cosine_restart",
        [dict(type="CosineRestartLR", periods=[20, 30, 50], restart_weights=[1.0, 0.5, 0.25], eta_min=0.001, **it)],
        None,
        lambda o: [M.CosineRestartLR(o, periods=[20, 30, 50], restart_weights=[1, 0.5, 0.25], eta_min=0.001, by_epoch=False)],
        lambda: cosine_restart_formula(BASE_LR, [20, 30, 50], [1, 0.5, 0.25], 0.001, STEPS),
    )
    case(
        "cosine_restart_ratio_past_periods",
        [dict(type="CosineRestartLR", periods=[30, 40], restart_weights=[1.0, 0.6], eta_min_ratio=0.05, **it)],
        None,
        lambda o: [M.CosineRestartLR(o, periods=[30, 40], restart_weights=[1, 0.6], eta_min_ratio=0.05, by_epoch=False)],
        lambda: cosine_restart_formula(BASE_LR, [30, 40], [1, 0.6], BASE_LR * 0.05, STEPS),
    )
    case(
        "linear",
        [dict(type="LinearLR", start_factor=0.25, end_factor=1.0, total_iters=10, **it)],
        lambda o: [T.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=10)],
        lambda o: [M.LinearLR(o, start_factor=0.25, end_factor=1.0, end=11, by_epoch=False)],
    )
    case(
        "linear_defaults",
        [dict(type="LinearLR", **it)],
        lambda o: [T.LinearLR(o)],
        lambda o: [M.LinearLR(o, end=6, by_epoch=False)],
    )
    case(
        "linear_decay",
        [dict(type="LinearLR", start_factor=1.0, end_factor=0.1, end=51, **it)],
        lambda o: [T.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=50)],
        lambda o: [M.LinearLR(o, start_factor=1.0, end_factor=0.1, end=51, by_epoch=False)],
    )
    case(
        "poly",
        [dict(type="PolyLR", power=2.0, total_iters=80, **it)],
        lambda o: [T.PolynomialLR(o, total_iters=80, power=2.0)],
        lambda o: [M.PolyLR(o, power=2.0, end=81, by_epoch=False)],
    )
    case(
        "poly_eta_min",
        [dict(type="PolyLR", power=0.9, eta_min=0.001, end=81, **it)],
        None,
        lambda o: [M.PolyLR(o, power=0.9, eta_min=0.001, end=81, by_epoch=False)],
        lambda: poly_formula(BASE_LR, 0.001, 0.9, 80, STEPS),
    )
    case(
        "onecycle",
        [dict(type="OneCycleLR", eta_max=1.0, total_steps=100, **it)],
        lambda o: [T.OneCycleLR(o, max_lr=1.0, total_steps=100)],
        None,
        check_momentum=True,
    )
    case(
        "onecycle_three_phase_linear",
        [
            dict(
                type="OneCycleLR",
                eta_max=0.5,
                total_steps=100,
                three_phase=True,
                anneal_strategy="linear",
                div_factor=10,
                final_div_factor=100,
                base_momentum=0.8,
                max_momentum=0.9,
                pct_start=0.25,
                **it,
            )
        ],
        lambda o: [
            T.OneCycleLR(
                o,
                max_lr=0.5,
                total_steps=100,
                three_phase=True,
                anneal_strategy="linear",
                div_factor=10,
                final_div_factor=100,
                base_momentum=0.8,
                max_momentum=0.9,
                pct_start=0.25,
            )
        ],
        None,
        check_momentum=True,
    )
    case(
        "onecycle_window_no_momentum",
        [dict(type="OneCycleLR", eta_max=1.0, end=100, cycle_momentum=False, **it)],
        lambda o: [T.OneCycleLR(o, max_lr=1.0, total_steps=100, cycle_momentum=False)],
        lambda o: [M.OneCycleLR(o, eta_max=1.0, total_steps=100, by_epoch=False)],
        check_momentum=True,
    )
    case(
        "plateau_loss_rel",
        [dict(type="ReduceOnPlateauLR", monitor="loss", patience=3, factor=0.5, cooldown=2, min_value=0.002, threshold=0.01)],
        lambda o: [T.ReduceLROnPlateau(o, mode="min", patience=3, factor=0.5, cooldown=2, min_lr=0.002, threshold=0.01)],
        lambda o: [
            M.ReduceOnPlateauLR(o, monitor="loss", rule="less", patience=3, factor=0.5, cooldown=2, min_value=0.002, threshold=0.01)
        ],
        metrics=loss_metrics,
        monitor="loss",
    )
    case(
        "plateau_accuracy_abs",
        [dict(type="ReduceOnPlateauLR", monitor="accuracy", rule="greater", threshold_mode="abs", threshold=0.25, patience=2, factor=0.7)],
        lambda o: [T.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", threshold=0.25, patience=2, factor=0.7)],
        lambda o: [
            M.ReduceOnPlateauLR(o, monitor="accuracy", rule="greater", threshold_rule="abs", threshold=0.25, patience=2, factor=0.7)
        ],
        metrics=acc_metrics,
        monitor="accuracy",
    )
    case(
        "chain_warmup_multistep",
        [
            dict(type="LinearLR", start_factor=0.1, begin=0, end=5, **it),
            dict(type="MultiStepLR", milestones=[30, 60], gamma=0.1, **it),
        ],
        lambda o: [T.LinearLR(o, start_factor=0.1, total_iters=4), T.MultiStepLR(o, milestones=[30, 60], gamma=0.1)],
        lambda o: [
            M.LinearLR(o, start_factor=0.1, begin=0, end=5, by_epoch=False),
            M.MultiStepLR(o, milestones=[30, 60], gamma=0.1, by_epoch=False),
        ],
    )
    case(
        "chain_warmup_cosine_windows",
        [
            dict(type="LinearLR", start_factor=0.001, end=10, **it),
            dict(type="CosineAnnealingLR", T_max=90, eta_min=1e-5, begin=10, end=100, **it),
        ],
        None,
        lambda o: [
            M.LinearLR(o, start_factor=0.001, end=10, by_epoch=False),
            M.CosineAnnealingLR(o, T_max=90, eta_min=1e-5, begin=10, end=100, by_epoch=False),
        ],
    )
    case(
        "window_linear_begin",
        [dict(type="LinearLR", start_factor=0.5, begin=10, end=20, **it)],
        None,
        lambda o: [M.LinearLR(o, start_factor=0.5, begin=10, end=20, by_epoch=False)],
    )
    case(
        "by_epoch_step",
        [dict(type="StepLR", step_size=3, gamma=0.5)],
        lambda o: [T.StepLR(o, step_size=3, gamma=0.5)],
        lambda o: [M.StepLR(o, step_size=3, gamma=0.5)],
        steps=30,
        epoch_len=4,
    )
    case(
        "by_epoch_chain_windows",
        [
            dict(type="LinearLR", start_factor=0.2, end=3),
            dict(type="MultiStepLR", milestones=[5, 8], gamma=0.5, begin=2),
            dict(type="ExponentialLR", gamma=0.9, begin=12, end=20),
        ],
        None,
        lambda o: [
            M.LinearLR(o, start_factor=0.2, end=3),
            M.MultiStepLR(o, milestones=[5, 8], gamma=0.5, begin=2),
            M.ExponentialLR(o, gamma=0.9, begin=12, end=20),
        ],
        steps=30,
        epoch_len=3,
    )
    return out


def main():
    result = {
        "torch": torch.__version__,
        "mmengine": getattr(mmengine, "__version__", None),
        "cases": [],
    }
    for c in cases():
        steps = c.get("steps", STEPS)
        metrics = c.get("metrics")
        refs = {}
        if c["torch"] is not None:
            lrs, moms = run(c["torch"], steps, BASE_LR, BASE_MOMENTUM, metrics)
            refs["torch"] = {"lr": lrs, "momentum": moms if c.get("check_momentum") else None}
        if c["mm"] is not None and M is not None:
            lrs, _ = run(c["mm"], steps, BASE_LR, BASE_MOMENTUM, metrics, mm_plateau=metrics is not None)
            refs["mmengine"] = {"lr": lrs, "momentum": None}
        if c["formula"] is not None:
            refs["formula"] = {"lr": c["formula"](), "momentum": None}
        result["cases"].append(
            {
                "name": c["name"],
                "policies": c["policies"],
                "base_lr": BASE_LR,
                "base_momentum": BASE_MOMENTUM,
                "steps": steps,
                "epoch_len": c.get("epoch_len", 1),
                "metrics": metrics,
                "monitor": c.get("monitor"),
                "needs_mmengine": c["torch"] is None and c["formula"] is None,
                "references": refs,
            }
        )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
