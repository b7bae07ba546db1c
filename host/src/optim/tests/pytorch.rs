//! Agreement with PyTorch: every scenario of [`cases`](super::cases) run by
//! hammer and by `torch_reference.py`, parameters, clipping norms and
//! optimizer state compared after each step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tch::Tensor;

use super::cases::cases;
use super::{params_from, set_grads, Case, SHAPES, STEPS};
use crate::config::OptimConfig;
use crate::optim::build;

/// The PyTorch reference script, run by the comparison test.
const TORCH_REFERENCE: &str = include_str!("../torch_reference.py");

/// Largest difference allowed between hammer and PyTorch.
const TOLERANCE: f64 = 1e-6;

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a - b).abs().max().double_value(&[])
}

impl Case {
    /// The case as `torch_reference.py` reads it.
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
