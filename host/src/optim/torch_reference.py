"""PyTorch reference for hammer's optimizer tests (host/src/optim/tests/pytorch.rs).

Usage: python torch_reference.py INPUTS.safetensors CASES.json OUTPUTS.safetensors

For each case of CASES.json, takes the initial parameters `<case>.p<j>` and
the gradients `<case>.g<k>.p<j>` (absent: no gradient at step k) from INPUTS,
runs `steps` steps of torch.optim (single-tensor implementation) with the
case's per-step learning rate and momentum and optional gradient clipping,
and writes to OUTPUTS:

- `<case>.step<k>.p<j>`: parameter j after step k;
- `<case>.norm<k>`: the total norm returned by clip_grad_norm_ at step k;
- `<case>.p<j>.<state>`: the final optimizer state of parameter j
  (`step` included, as a one-element float32 tensor).
"""

import json
import sys

import torch
from safetensors.torch import load_file, save_file


def build(cfg, params):
    kind = cfg["type"].lower()
    kw = {k: v for k, v in cfg.items() if v is not None and k not in ("type", "lr")}
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    classes = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    return classes[kind](params, lr=cfg["lr"], foreach=False, **kw)


def set_momentum(opt, kind, m):
    for group in opt.param_groups:
        if kind == "sgd":
            group["momentum"] = m
        else:
            group["betas"] = (m, group["betas"][1])


def run(case, inputs, out):
    name = case["name"]
    kind = case["optimizer"]["type"].lower()
    params = [
        inputs[f"{name}.p{j}"].clone().requires_grad_(True) for j in range(case["num_params"])
    ]
    opt = build(case["optimizer"], params)
    clip = case.get("clip")
    for k in range(case["steps"]):
        for group in opt.param_groups:
            group["lr"] = case["lrs"][k]
        if case.get("momenta") is not None:
            set_momentum(opt, kind, case["momenta"][k])
        for j, p in enumerate(params):
            key = f"{name}.g{k}.p{j}"
            p.grad = inputs[key].clone() if key in inputs else None
        if clip is not None:
            if clip["type"] == "norm":
                norm = torch.nn.utils.clip_grad_norm_(
                    params, clip["max_norm"], norm_type=float(clip["norm_type"]), foreach=False
                )
                out[f"{name}.norm{k}"] = norm.detach().reshape(1).clone()
            else:
                torch.nn.utils.clip_grad_value_(params, clip["clip_value"], foreach=False)
        opt.step()
        for j, p in enumerate(params):
            out[f"{name}.step{k}.p{j}"] = p.detach().clone()
    for j, p in enumerate(params):
        for state, value in opt.state[p].items():
            if isinstance(value, torch.Tensor):
                t = value.detach().clone()
                out[f"{name}.p{j}.{state}"] = t.reshape(1) if t.dim() == 0 else t


def main():
    inputs_path, cases_path, outputs_path = sys.argv[1:4]
    inputs = load_file(inputs_path)
    with open(cases_path) as f:
        cases = json.load(f)
    out = {}
    for case in cases:
        run(case, inputs, out)
    save_file(out, outputs_path)


if __name__ == "__main__":
    main()
