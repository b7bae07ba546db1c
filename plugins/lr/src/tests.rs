//! Native tests of the schedules against torch.optim.lr_scheduler and
//! MMEngine (through `reference.py`), and the helpers that the unit tests
//! beside each part of [`crate::schedule`] share.

use std::path::Path;
use std::process::Command;

use hammer_sdk::{OptionValue, Options};
use serde_json::Value;

use crate::schedule::{Position, Schedule};

const TOLERANCE: f64 = 1e-9;
const DEFAULT_PYTHON: &str = "/root/.cache/hammer/venv/bin/python";

/// Options from `(key, value)` pairs.
pub(crate) fn options(pairs: &[(&str, OptionValue)]) -> Options {
    Options::new(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

/// A text option value.
pub(crate) fn text(s: &str) -> OptionValue {
    OptionValue::Text(s.to_string())
}

/// The schedule `pairs` describe, for an optimizer with lr 0.1 and momentum 0.9.
pub(crate) fn build(pairs: &[(&str, OptionValue)]) -> Result<Schedule, String> {
    Schedule::from_options(&options(pairs), 0.1, Some(0.9))
}

/// A JSON options object as the host would send it.
fn json_options(object: &Value) -> Options {
    let entries = object
        .as_object()
        .expect("policy options are an object")
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::Bool(b) => OptionValue::Boolean(*b),
                Value::Number(n) if n.is_i64() => OptionValue::Integer(n.as_i64().unwrap()),
                Value::Number(n) => OptionValue::Float(n.as_f64().unwrap()),
                Value::String(s) => OptionValue::Text(s.clone()),
                Value::Array(items) if items.iter().all(|i| i.is_i64()) => {
                    OptionValue::Integers(items.iter().map(|i| i.as_i64().unwrap()).collect())
                }
                Value::Array(items) if items.iter().all(Value::is_number) => {
                    OptionValue::Floats(items.iter().map(|i| i.as_f64().unwrap()).collect())
                }
                other => panic!("option {k}: unsupported JSON value {other}"),
            };
            (k.clone(), value)
        })
        .collect();
    Options::new(entries)
}

/// The values per iteration of chained schedules, as the host drives them:
/// `epochs` epochs of `epoch_len` iterations, each policy fed the previous
/// one's lr, `val/<monitor>` = `metrics[epoch - 1]` from epoch 1 on.
pub(crate) struct Run {
    /// The learning rate of each iteration.
    pub(crate) lr: Vec<f64>,
    /// The momentum of each iteration.
    pub(crate) momentum: Vec<f64>,
}

/// Runs `schedules` as [`Run`] describes.
pub(crate) fn simulate(
    schedules: &mut [Schedule],
    base_lr: f64,
    base_momentum: f64,
    epochs: u64,
    epoch_len: u64,
    monitor: Option<(&str, &[f64])>,
) -> Result<Run, String> {
    let mut lr = base_lr;
    let mut momentum = base_momentum;
    let mut run = Run { lr: Vec::new(), momentum: Vec::new() };
    for epoch in 0..epochs {
        for inner in 0..epoch_len {
            let pos = Position { epoch, iter: epoch * epoch_len + inner };
            for s in schedules.iter_mut() {
                let mut scalar = |name: &str| match monitor {
                    Some((m, values)) if name == format!("val/{m}") && epoch > 0 => Some(values[epoch as usize - 1]),
                    _ => None,
                };
                let (l, m) = s.step(pos, lr, &mut scalar)?;
                lr = l;
                if let Some(m) = m {
                    momentum = m;
                }
            }
            run.lr.push(lr);
            run.momentum.push(momentum);
        }
    }
    Ok(run)
}

fn python() -> String {
    std::env::var("HAMMER_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.to_string())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOLERANCE * b.abs().max(1.0)
}

#[test]
fn sequences_match_torch_and_mmengine() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference.py");
    let python = python();
    let out = Command::new(&python).arg(&script).output().unwrap_or_else(|e| {
        panic!("cannot run the reference python `{python}` (set HAMMER_PYTHON to a python with torch 2.13): {e}")
    });
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("reference.py prints JSON");
    // MMEngine is a test dependency (python/requirements.txt): its
    // schedulers are the reference for windowed chains.
    assert!(!doc["mmengine"].is_null(), "mmengine is not importable by {python}: run `make setup`");
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let refs = case["references"].as_object().unwrap();
        assert!(!refs.is_empty(), "case {name} has no reference");
        let base_lr = case["base_lr"].as_f64().unwrap();
        let base_momentum = case["base_momentum"].as_f64().unwrap();
        let steps = case["steps"].as_u64().unwrap();
        let epoch_len = case["epoch_len"].as_u64().unwrap();
        let metrics: Option<Vec<f64>> =
            case["metrics"].as_array().map(|m| m.iter().map(|v| v.as_f64().unwrap()).collect());
        let monitor = case["monitor"].as_str();
        let mut schedules: Vec<Schedule> = case["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| Schedule::from_options(&json_options(p), base_lr, Some(base_momentum)).unwrap())
            .collect();
        // Iteration-based cases: one iteration per step (epochs count along).
        let run = simulate(
            &mut schedules,
            base_lr,
            base_momentum,
            steps,
            epoch_len,
            monitor.zip(metrics.as_deref()),
        )
        .unwrap_or_else(|e| panic!("case {name}: {e}"));
        for (source, reference) in refs {
            let want_lr: Vec<f64> = reference["lr"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let want_m: Option<Vec<f64>> =
                reference["momentum"].as_array().map(|m| m.iter().map(|v| v.as_f64().unwrap()).collect());
            assert_eq!(want_lr.len() as u64, steps);
            for i in 0..run.lr.len() {
                let step = i / epoch_len as usize;
                if !close(run.lr[i], want_lr[step]) {
                    failures.push(format!(
                        "{name} vs {source}: iteration {i} (step {step}): lr {} != {}",
                        run.lr[i], want_lr[step]
                    ));
                    break;
                }
                if let Some(want_m) = &want_m {
                    if !close(run.momentum[i], want_m[step]) {
                        failures.push(format!(
                            "{name} vs {source}: iteration {i}: momentum {} != {}",
                            run.momentum[i], want_m[step]
                        ));
                        break;
                    }
                }
            }
            compared += 1;
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(compared >= 30, "only {compared} reference sequences compared");
    eprintln!("compared {compared} reference sequences to {TOLERANCE}");
}
