//! Tests of the optimizers: agreement with PyTorch (`torch_reference.py`),
//! state save/load, gradient reset and clipping.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

use super::*;
use crate::config::{ClipGradConfig, OptimizerConfig};

/// The PyTorch reference script, run by the comparison test.
const TORCH_REFERENCE: &str = include_str!("torch_reference.py");

/// Largest difference allowed between hammer and PyTorch.
const TOLERANCE: f64 = 1e-6;

/// Shapes of the test parameters.
const SHAPES: &[&[i64]] = &[&[4, 3], &[3], &[2, 2, 2]];

const STEPS: usize = 5;

fn optimizer_config(kind: &str, lr: f64) -> OptimizerConfig {
    OptimizerConfig {
        kind: kind.into(),
        lr,
        momentum: None,
        dampening: None,
        nesterov: None,
        weight_decay: None,
        betas: None,
        eps: None,
        amsgrad: None,
    }
}

/// Deterministic values in about [-2, 2] (a fixed linear congruential
/// sequence, independent of libtorch's global generator, which tests running
/// in parallel would share).
fn fixed_values(seed: u64, shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 40) as f64 / (1u64 << 24) as f64; // [0, 1)
            (4.0 * unit - 2.0) as f32
        })
        .collect();
    Tensor::from_slice(&values).view(shape)
}

/// Fresh trainable parameters `p0..` holding copies of `values`.
fn params_from(values: &[Tensor]) -> Vec<(String, Tensor)> {
    values
        .iter()
        .enumerate()
        .map(|(j, v)| (format!("p{j}"), v.copy().set_requires_grad(true)))
        .collect()
}

/// Gives each parameter exactly the gradient `grads[j]` (none for `None`),
/// through a backward pass of `sum_j (p_j * g_j).sum()`.
fn set_grads(optimizer: &mut Optimizer, grads: &[Option<Tensor>]) {
    optimizer.zero_grad();
    let mut loss: Option<Tensor> = None;
    for (p, g) in optimizer.params().iter().zip(grads) {
        if let Some(g) = g {
            let term = (p * g).sum(p.kind());
            loss = Some(match loss {
                Some(l) => l + term,
                None => term,
            });
        }
    }
    if let Some(loss) = loss {
        loss.backward();
    }
    for (p, g) in optimizer.params().iter().zip(grads) {
        assert_eq!(p.grad().defined(), g.is_some());
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a - b).abs().max().double_value(&[])
}

/// One scenario run by both hammer and PyTorch.
struct Case {
    name: &'static str,
    optimizer: OptimizerConfig,
    clip: Option<ClipGradConfig>,
    /// Learning rate of each step.
    lrs: Vec<f64>,
    /// Momentum (SGD) or beta1 (Adam) of each step, when changed.
    momenta: Option<Vec<f64>>,
    /// (step, parameter) pairs without a gradient.
    missing: Vec<(usize, usize)>,
    /// Dtype of the parameters and gradients.
    dtype: Kind,
}

impl Case {
    fn new(name: &'static str, optimizer: OptimizerConfig) -> Self {
        let lrs = vec![optimizer.lr; STEPS];
        Self {
            name,
            optimizer,
            clip: None,
            lrs,
            momenta: None,
            missing: Vec::new(),
            dtype: Kind::Float,
        }
    }

    fn initial(&self, index: usize) -> Vec<Tensor> {
        SHAPES
            .iter()
            .enumerate()
            .map(|(j, s)| fixed_values((index * 100 + j) as u64, s).to_kind(self.dtype))
            .collect()
    }

    fn grads(&self, index: usize) -> Vec<Vec<Option<Tensor>>> {
        (0..STEPS)
            .map(|k| {
                SHAPES
                    .iter()
                    .enumerate()
                    .map(|(j, s)| {
                        let seed = (10_000 + index * 1000 + k * 10 + j) as u64;
                        (!self.missing.contains(&(k, j)))
                            .then(|| fixed_values(seed, s).to_kind(self.dtype))
                    })
                    .collect()
            })
            .collect()
    }

    fn to_json(&self) -> Value {
        let clip = self.clip.as_ref().map(|c| {
            json!({
                "type": c.kind,
                "max_norm": c.max_norm,
                // JSON has no infinity: Python parses the string with float().
                "norm_type": c.norm_type.unwrap_or(2.0).to_string(),
                "clip_value": c.clip_value,
            })
        });
        json!({
            "name": self.name,
            "optimizer": self.optimizer,
            "clip": clip,
            "lrs": self.lrs,
            "momenta": self.momenta,
            "steps": STEPS,
            "num_params": SHAPES.len(),
        })
    }
}

fn cases() -> Vec<Case> {
    let sgd = |lr| optimizer_config("sgd", lr);
    let mut out = vec![Case::new("sgd_plain", sgd(0.1))];

    let mut c = sgd(0.05);
    c.momentum = Some(0.9);
    c.dampening = Some(0.1);
    c.weight_decay = Some(0.01);
    out.push(Case::new("sgd_momentum_dampening_wd", c));

    let mut c = sgd(0.05);
    c.momentum = Some(0.9);
    c.nesterov = Some(true);
    c.weight_decay = Some(1e-3);
    let mut case = Case::new("sgd_nesterov", c);
    case.lrs = vec![0.05, 0.05, 0.02, 0.01, 0.01];
    case.momenta = Some(vec![0.9, 0.9, 0.8, 0.85, 0.95]);
    case.missing = vec![(1, 2)];
    out.push(case);

    let mut case = Case::new("adam", optimizer_config("Adam", 0.01));
    case.missing = vec![(0, 1), (3, 2)];
    case.lrs = vec![0.01, 0.01, 0.01, 0.005, 0.002];
    out.push(case);

    let mut c = optimizer_config("adam", 0.02);
    c.weight_decay = Some(0.1);
    c.amsgrad = Some(true);
    c.betas = Some((0.8, 0.99));
    c.eps = Some(1e-6);
    let mut case = Case::new("adam_wd_amsgrad", c);
    case.momenta = Some(vec![0.8, 0.8, 0.85, 0.9, 0.9]);
    out.push(case);

    // AdamW's default weight decay (0.01) is left to each side's default.
    let mut case = Case::new("adamw", optimizer_config("adamw", 0.01));
    case.missing = vec![(2, 0)];
    out.push(case);

    let mut c = optimizer_config("adamw", 0.01);
    c.weight_decay = Some(0.05);
    c.amsgrad = Some(true);
    out.push(Case::new("adamw_wd_amsgrad", c));

    let mut c = sgd(0.1);
    c.momentum = Some(0.5);
    let mut case = Case::new("clip_norm_sgd", c);
    case.clip = Some(ClipGradConfig {
        kind: "norm".into(),
        max_norm: Some(2.0),
        norm_type: None,
        clip_value: None,
    });
    case.missing = vec![(4, 1)];
    out.push(case);

    let mut case = Case::new("clip_inf_norm_sgd", sgd(0.1));
    case.clip = Some(ClipGradConfig {
        kind: "norm".into(),
        max_norm: Some(0.5),
        norm_type: Some(f64::INFINITY),
        clip_value: None,
    });
    out.push(case);

    // Double precision: the scalar operands are f64 too.
    let mut c = sgd(0.05);
    c.momentum = Some(0.9);
    c.nesterov = Some(true);
    c.weight_decay = Some(1e-3);
    out.push(Case {
        dtype: Kind::Double,
        ..Case::new("sgd_nesterov_f64", c)
    });
    let mut c = optimizer_config("adam", 0.01);
    c.weight_decay = Some(0.1);
    c.amsgrad = Some(true);
    out.push(Case {
        dtype: Kind::Double,
        ..Case::new("adam_wd_amsgrad_f64", c)
    });
    let mut case = Case::new("clip_norm_adamw_f64", optimizer_config("adamw", 0.01));
    case.clip = Some(ClipGradConfig {
        kind: "norm".into(),
        max_norm: Some(1.0),
        norm_type: Some(3.0),
        clip_value: None,
    });
    out.push(Case {
        dtype: Kind::Double,
        ..case
    });

    let mut case = Case::new("clip_value_sgd", sgd(0.1));
    case.clip = Some(ClipGradConfig {
        kind: "value".into(),
        max_norm: None,
        norm_type: None,
        clip_value: Some(0.5),
    });
    out.push(case);
    out
}

fn python() -> PathBuf {
    let path = std::env::var_os("HAMMER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/hammer/venv/bin/python"));
    assert!(
        path.exists(),
        "the PyTorch comparison test needs a Python with torch and safetensors: {} does not exist \
         (set HAMMER_PYTHON to one)",
        path.display()
    );
    path
}

fn run_reference(
    dir: &Path,
    inputs: &[(String, Tensor)],
    cases: &Value,
) -> HashMap<String, Tensor> {
    let python = python();
    let (inputs_path, cases_path) = (dir.join("inputs.safetensors"), dir.join("cases.json"));
    let (script_path, outputs_path) = (
        dir.join("torch_reference.py"),
        dir.join("outputs.safetensors"),
    );
    Tensor::write_safetensors(inputs, &inputs_path).unwrap();
    std::fs::write(&cases_path, serde_json::to_string_pretty(cases).unwrap()).unwrap();
    std::fs::write(&script_path, TORCH_REFERENCE).unwrap();
    let output = Command::new(&python)
        .arg(&script_path)
        .args([&inputs_path, &cases_path, &outputs_path])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "the PyTorch reference failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Tensor::read_safetensors(&outputs_path)
        .unwrap()
        .into_iter()
        .collect()
}

#[test]
fn matches_pytorch() {
    let cases = cases();
    let mut inputs = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        for (j, p) in case.initial(index).into_iter().enumerate() {
            inputs.push((format!("{}.p{j}", case.name), p));
        }
        for (k, grads) in case.grads(index).into_iter().enumerate() {
            for (j, g) in grads.into_iter().enumerate() {
                if let Some(g) = g {
                    inputs.push((format!("{}.g{k}.p{j}", case.name), g));
                }
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let reference = run_reference(
        dir.path(),
        &inputs,
        &Value::from_iter(cases.iter().map(Case::to_json)),
    );
    let expect = |key: &str| {
        reference
            .get(key)
            .unwrap_or_else(|| panic!("PyTorch did not output `{key}`"))
    };

    let mut failures = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let (mut optimizer, clipper) = build(
            &OptimConfig {
                optimizer: case.optimizer.clone(),
                clip_grad: case.clip.clone(),
                accumulative_counts: 1,
            },
            params_from(&case.initial(index)),
        )
        .unwrap();
        let mut diffs: Vec<(String, f64)> = Vec::new();
        let mut check = |what: String, diff: f64| diffs.push((what, diff));
        for (k, grads) in case.grads(index).iter().enumerate() {
            optimizer.set_lr(case.lrs[k]);
            if let Some(m) = &case.momenta {
                optimizer.set_momentum(m[k]);
            }
            set_grads(&mut optimizer, grads);
            let norm = clipper.clip(optimizer.params());
            if let Some(norm) = norm {
                let want = expect(&format!("{}.norm{k}", case.name)).double_value(&[0]);
                check(
                    format!("total norm at step {k} ({norm} vs {want})"),
                    (norm - want).abs(),
                );
            }
            optimizer.step().unwrap();
            for (j, p) in optimizer.params().iter().enumerate() {
                let want = expect(&format!("{}.step{k}.p{j}", case.name));
                check(format!("p{j} after step {k}"), max_abs_diff(p, want));
            }
        }
        // The state: the same tensors under the same names, and the same
        // per-parameter step counts (Adam's `step`).
        let ours: HashMap<String, Tensor> = optimizer.state_tensors().into_iter().collect();
        let prefix = format!("{}.", case.name);
        let mut theirs: Vec<&String> = reference
            .keys()
            .filter(|k| {
                k.starts_with(&prefix) && k.split('.').nth(1).is_some_and(|p| p.starts_with('p'))
            })
            .collect();
        theirs.sort();
        let scalars = optimizer.state_scalars();
        for key in theirs {
            let short = &key[prefix.len()..];
            let (param, state) = short.split_once('.').unwrap();
            if state == "step" {
                let got = scalars["params"][param]["step"].as_u64().unwrap() as f64;
                check(
                    format!("step count of {param}"),
                    (got - expect(key).double_value(&[0])).abs(),
                );
                continue;
            }
            match ours.get(short) {
                Some(t) => check(format!("state {short}"), max_abs_diff(t, expect(key))),
                None => failures.push(format!("{}: hammer has no state `{short}`", case.name)),
            }
        }
        for short in ours.keys() {
            if !reference.contains_key(&format!("{prefix}{short}")) {
                failures.push(format!("{}: PyTorch has no state `{short}`", case.name));
            }
        }
        let mut worst: f64 = 0.0;
        for (what, diff) in diffs {
            worst = worst.max(diff);
            if diff.is_nan() || diff > TOLERANCE {
                failures.push(format!(
                    "{}: {what} differs from PyTorch by {diff:e}",
                    case.name
                ));
            }
        }
        println!("{:<28} max |hammer - torch| = {worst:e}", case.name);
    }
    assert!(
        failures.is_empty(),
        "hammer and PyTorch disagree:\n{}",
        failures.join("\n")
    );
}

/// Runs `steps` (grads, lr) steps.
fn run_steps(optimizer: &mut Optimizer, steps: &[(Vec<Option<Tensor>>, f64)]) {
    for (grads, lr) in steps {
        optimizer.set_lr(*lr);
        set_grads(optimizer, grads);
        optimizer.step().unwrap();
    }
}

fn round_trip_configs() -> Vec<OptimizerConfig> {
    let mut sgd = optimizer_config("sgd", 0.1);
    sgd.momentum = Some(0.9);
    sgd.nesterov = Some(true);
    sgd.weight_decay = Some(0.01);
    let mut sgd_damp = optimizer_config("sgd", 0.1);
    sgd_damp.momentum = Some(0.9);
    sgd_damp.dampening = Some(0.3);
    let mut adam = optimizer_config("adam", 0.01);
    adam.amsgrad = Some(true);
    adam.weight_decay = Some(0.1);
    vec![
        optimizer_config("sgd", 0.1),
        sgd,
        sgd_damp,
        adam,
        optimizer_config("adamw", 0.01),
    ]
}

/// Saving after two steps (through a safetensors file and JSON text) and
/// loading into a new optimizer continues bit-identically.
#[test]
fn state_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    for (index, cfg) in round_trip_configs().into_iter().enumerate() {
        let case = Case {
            missing: vec![(0, 2), (3, 1)],
            ..Case::new("round_trip", cfg.clone())
        };
        let initial = case.initial(index);
        let steps: Vec<_> = case
            .grads(index)
            .into_iter()
            .zip([0.1, 0.05, 0.05, 0.02, 0.01])
            .collect();

        let mut straight = Optimizer::new(&cfg, params_from(&initial)).unwrap();
        straight.set_momentum(0.8);
        run_steps(&mut straight, &steps);

        let mut first = Optimizer::new(&cfg, params_from(&initial)).unwrap();
        first.set_momentum(0.8);
        run_steps(&mut first, &steps[..2]);
        let path = dir.path().join(format!("state{index}.safetensors"));
        let mut saved = first.state_tensors();
        saved.extend(
            first
                .param_names()
                .iter()
                .cloned()
                .zip(first.params().iter().map(Tensor::shallow_clone)),
        );
        Tensor::write_safetensors(&saved, &path).unwrap();
        let scalars: Value = serde_json::from_str(&first.state_scalars().to_string()).unwrap();
        drop(first);

        let loaded: HashMap<String, Tensor> = Tensor::read_safetensors(&path)
            .unwrap()
            .into_iter()
            .collect();
        let values: Vec<Tensor> = (0..SHAPES.len())
            .map(|j| loaded[&format!("p{j}")].copy())
            .collect();
        let mut resumed = Optimizer::new(&cfg, params_from(&values)).unwrap();
        resumed.load_state(&loaded, &scalars).unwrap();
        assert_eq!(resumed.lr(), 0.05, "{}", cfg.kind);
        assert_eq!(resumed.momentum(), Some(0.8), "{}", cfg.kind);
        assert_eq!(resumed.steps(), 2);
        run_steps(&mut resumed, &steps[2..]);

        for (a, b) in straight.params().iter().zip(resumed.params()) {
            assert!(a.equal(b), "{}: parameters differ after resuming", cfg.kind);
        }
        let a = straight.state_tensors();
        let b = resumed.state_tensors();
        assert_eq!(a.len(), b.len());
        for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
            assert_eq!(na, nb);
            assert!(
                ta.equal(tb),
                "{}: state {na} differs after resuming",
                cfg.kind
            );
        }
        assert_eq!(straight.state_scalars(), resumed.state_scalars());
    }
}

/// Loading copies into existing state tensors too (an optimizer that has
/// already stepped), and drops state the checkpoint does not have.
#[test]
fn load_state_overwrites_existing_state() {
    let mut cfg = optimizer_config("adam", 0.01);
    cfg.amsgrad = Some(true);
    let case = Case {
        missing: vec![(0, 1), (1, 1)],
        ..Case::new("overwrite", cfg.clone())
    };
    let initial = case.initial(7);
    let steps: Vec<_> = case.grads(7).into_iter().map(|g| (g, 0.01)).collect();
    let mut a = Optimizer::new(&cfg, params_from(&initial)).unwrap();
    run_steps(&mut a, &steps[..2]); // p1 has no state yet
    let tensors: HashMap<String, Tensor> = a
        .state_tensors()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();
    let scalars = a.state_scalars();

    let mut b = Optimizer::new(&cfg, params_from(&initial)).unwrap();
    run_steps(&mut b, &steps[2..]); // every parameter has state
    let exp_avg = b
        .state_tensors()
        .into_iter()
        .find(|(n, _)| n == "p0.exp_avg")
        .unwrap()
        .1;
    b.load_state(&tensors, &scalars).unwrap();
    assert!(
        exp_avg.equal(&tensors["p0.exp_avg"]),
        "state was not copied in place"
    );
    let names: Vec<String> = b.state_tensors().into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.iter().any(|n| n.starts_with("p1.")),
        "stale state kept: {names:?}"
    );
    assert_eq!(b.state_scalars()["params"], scalars["params"]);
}

fn saved_state(cfg: &OptimizerConfig) -> (HashMap<String, Tensor>, Value) {
    let case = Case::new("errors", cfg.clone());
    let mut o = Optimizer::new(cfg, params_from(&case.initial(3))).unwrap();
    run_steps(
        &mut o,
        &case
            .grads(3)
            .into_iter()
            .take(2)
            .map(|g| (g, 0.1))
            .collect::<Vec<_>>(),
    );
    (
        o.state_tensors()
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect(),
        o.state_scalars(),
    )
}

#[test]
fn load_state_errors_name_the_problem() {
    let mut sgd = optimizer_config("sgd", 0.1);
    sgd.momentum = Some(0.9);
    let adam = optimizer_config("adam", 0.1);
    let fresh = |cfg: &OptimizerConfig| {
        Optimizer::new(
            cfg,
            params_from(&Case::new("errors", cfg.clone()).initial(3)),
        )
        .unwrap()
    };
    let err = |o: &mut Optimizer, t: &HashMap<String, Tensor>, s: &Value| {
        let before = o.state_scalars();
        let e = format!("{:#}", o.load_state(t, s).unwrap_err());
        assert_eq!(o.state_scalars(), before, "a failed load changed the state");
        e
    };

    let (tensors, scalars) = saved_state(&sgd);
    let e = err(&mut fresh(&adam), &tensors, &scalars);
    assert!(e.contains("`sgd`") && e.contains("`adam`"), "{e}");

    let mut missing = tensors.clone_shallow();
    missing.remove("p1.momentum_buffer");
    let e = err(&mut fresh(&sgd), &missing, &scalars);
    assert!(
        e.contains("`p1.momentum_buffer`") && e.contains("missing"),
        "{e}"
    );

    let mut wrong = tensors.clone_shallow();
    wrong.insert(
        "p2.momentum_buffer".into(),
        Tensor::zeros([3], (Kind::Float, Device::Cpu)),
    );
    let e = err(&mut fresh(&sgd), &wrong, &scalars);
    assert!(
        e.contains("`p2.momentum_buffer`") && e.contains("shape"),
        "{e}"
    );

    let mut renamed = scalars.clone();
    let params = renamed["params"].as_object_mut().unwrap();
    let p0 = params.remove("p0").unwrap();
    params.insert("fc.weight".into(), p0);
    let e = err(&mut fresh(&sgd), &tensors, &renamed);
    assert!(e.contains("`fc.weight`"), "{e}");

    // Adam saved without AMSGrad, loaded with it: `max_exp_avg_sq` is missing.
    let (tensors, scalars) = saved_state(&adam);
    let mut amsgrad = adam.clone();
    amsgrad.amsgrad = Some(true);
    let e = err(&mut fresh(&amsgrad), &tensors, &scalars);
    assert!(e.contains("`p0.max_exp_avg_sq`"), "{e}");
}

trait CloneShallow {
    fn clone_shallow(&self) -> Self;
}

impl CloneShallow for HashMap<String, Tensor> {
    fn clone_shallow(&self) -> Self {
        self.iter()
            .map(|(k, v)| (k.clone(), v.shallow_clone()))
            .collect()
    }
}

#[test]
fn zero_grad_drops_gradients_and_step_skips_them() {
    let cfg = optimizer_config("sgd", 0.1);
    let case = Case::new("zero_grad", cfg.clone());
    let initial = case.initial(5);
    let mut o = Optimizer::new(&cfg, params_from(&initial)).unwrap();
    set_grads(&mut o, &case.grads(5)[0]);
    o.zero_grad();
    assert!(o.params().iter().all(|p| !p.grad().defined()));
    o.step().unwrap();
    for (p, v) in o.params().iter().zip(&initial) {
        assert!(p.equal(v), "a parameter without gradient moved");
    }
    assert_eq!(o.steps(), 1);
    assert_eq!(o.state_scalars()["params"]["p0"]["step"], 0);
}

#[test]
fn config_defaults_and_errors() {
    let o = Optimizer::new(
        &optimizer_config("AdamW", 0.001),
        params_from(&[fixed_values(1, &[2])]),
    )
    .unwrap();
    assert_eq!(o.kind(), OptimizerKind::AdamW);
    assert_eq!(o.state_scalars()["hyper_parameters"]["weight_decay"], 0.01);
    assert_eq!(o.momentum(), Some(0.9));
    assert_eq!((o.lr(), o.base_lr()), (0.001, 0.001));
    let o = Optimizer::new(&optimizer_config("adam", 0.001), Vec::new()).unwrap();
    assert_eq!(o.state_scalars()["hyper_parameters"]["weight_decay"], 0.0);

    let mut bad = optimizer_config("sgd", 0.1);
    bad.nesterov = Some(true);
    assert!(Optimizer::new(&bad, Vec::new()).is_err());
    let mut bad = optimizer_config("sgd", 0.1);
    bad.betas = Some((0.9, 0.99));
    assert!(Optimizer::new(&bad, Vec::new()).is_err());
    assert!(Optimizer::new(&optimizer_config("rmsprop", 0.1), Vec::new()).is_err());
    let twice = vec![
        ("w".to_string(), fixed_values(1, &[2])),
        ("w".to_string(), fixed_values(2, &[2])),
    ];
    assert!(Optimizer::new(&optimizer_config("sgd", 0.1), twice).is_err());
}

#[test]
fn clipping() {
    let values = [fixed_values(1, &[3]), fixed_values(2, &[2, 2])];
    let cfg = optimizer_config("sgd", 0.1);
    let mut o = Optimizer::new(&cfg, params_from(&values)).unwrap();
    assert_eq!(
        clip_grad_norm(o.params(), 1.0, 2.0),
        0.0,
        "no gradients: norm 0"
    );

    let grads = vec![
        Some(Tensor::from_slice(&[3.0f32, 0.0, 0.0])),
        Some(Tensor::from_slice(&[0.0f32, 4.0, 0.0, 0.0]).view([2, 2])),
    ];
    set_grads(&mut o, &grads);
    let norm = clip_grad_norm(o.params(), 1.0, 2.0);
    assert!((norm - 5.0).abs() < 1e-6, "{norm}");
    let clipped: Vec<f64> = o
        .params()
        .iter()
        .map(|p| p.grad().norm().double_value(&[]))
        .collect();
    assert!(
        (clipped[0] - 0.6).abs() < 1e-6 && (clipped[1] - 0.8).abs() < 1e-6,
        "{clipped:?}"
    );

    set_grads(&mut o, &grads);
    assert!((clip_grad_norm(o.params(), 10.0, f64::INFINITY) - 4.0).abs() < 1e-6);
    assert!(
        o.params()[1].grad().equal(grads[1].as_ref().unwrap()),
        "a small norm changed the gradient"
    );

    let clipper = GradClipper::new(Some(&ClipGradConfig {
        kind: "Value".into(),
        max_norm: None,
        norm_type: None,
        clip_value: Some(1.5),
    }))
    .unwrap();
    assert_eq!(clipper, GradClipper::Value { clip_value: 1.5 });
    assert_eq!(clipper.clip(o.params()), None);
    assert_eq!(o.params()[1].grad().max().double_value(&[]), 1.5);

    assert_eq!(GradClipper::new(None).unwrap(), GradClipper::Off);
    let no_max = ClipGradConfig {
        kind: "norm".into(),
        max_norm: None,
        norm_type: None,
        clip_value: None,
    };
    assert!(GradClipper::new(Some(&no_max)).is_err());
    let norm = ClipGradConfig {
        max_norm: Some(1.0),
        ..no_max
    };
    assert_eq!(
        GradClipper::new(Some(&norm)).unwrap(),
        GradClipper::Norm {
            max_norm: 1.0,
            norm_type: 2.0
        }
    );
}

/// Time of one step on the tutorial's MLP (2→64→64→2); run with
/// `cargo test -p hammer --lib optim::tests::step_timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a check"]
fn step_timing() {
    // One intra-op thread, the runner's default (`env.num_threads`).
    tch::set_num_threads(1);
    let shapes: &[&[i64]] = &[&[64, 2], &[64], &[64, 64], &[64], &[2, 64], &[2]];
    let values: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| fixed_values(i as u64, s))
        .collect();
    let grads: Vec<Option<Tensor>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| Some(fixed_values(100 + i as u64, s) * 0.01))
        .collect();
    let mut momentum = optimizer_config("sgd", 0.01);
    momentum.momentum = Some(0.9);
    for cfg in [
        optimizer_config("sgd", 0.01),
        momentum,
        optimizer_config("adam", 1e-3),
        optimizer_config("adamw", 1e-3),
    ] {
        let mut o = Optimizer::new(&cfg, params_from(&values)).unwrap();
        set_grads(&mut o, &grads);
        for _ in 0..100 {
            o.step().unwrap();
        }
        let n = 2000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            o.step().unwrap();
        }
        let per_step = start.elapsed().as_secs_f64() / n as f64 * 1e6;
        println!(
            "{:<6} {:.1} µs/step (momentum {:?})",
            cfg.kind, per_step, cfg.momentum
        );
    }
}
