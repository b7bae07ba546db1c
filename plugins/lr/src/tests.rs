//! Native tests of the schedules: against torch.optim.lr_scheduler and
//! MMEngine (through `reference.py`), and of resume, windows and errors.

use std::path::Path;
use std::process::Command;

use hammer_sdk::{OptionValue, Options};
use serde_json::Value;

use crate::schedule::{Position, Schedule};

const TOLERANCE: f64 = 1e-9;
const DEFAULT_PYTHON: &str = "/root/.cache/hammer/venv/bin/python";

fn options(pairs: &[(&str, OptionValue)]) -> Options {
    Options::new(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn text(s: &str) -> OptionValue {
    OptionValue::Text(s.to_string())
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
struct Run {
    lr: Vec<f64>,
    momentum: Vec<f64>,
}

fn simulate(
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

fn build(pairs: &[(&str, OptionValue)]) -> Result<Schedule, String> {
    Schedule::from_options(&options(pairs), 0.1, Some(0.9))
}

#[test]
fn resume_mid_run_continues_exactly() {
    let configs: Vec<Vec<(&str, OptionValue)>> = vec![
        vec![("type", text("CosineAnnealingLR")), ("T_max", OptionValue::Integer(7)), ("by_epoch", OptionValue::Boolean(false))],
        vec![("type", text("LinearLR")), ("end", OptionValue::Integer(20)), ("by_epoch", OptionValue::Boolean(false))],
        vec![("type", text("OneCycleLR")), ("eta_max", OptionValue::Float(0.4)), ("total_steps", OptionValue::Integer(20))],
        vec![("type", text("StepLR")), ("step_size", OptionValue::Integer(2)), ("begin", OptionValue::Integer(1))],
    ];
    for config in configs {
        let mut straight = vec![build(&config).unwrap()];
        let full = simulate(&mut straight, 0.1, 0.9, 20, 5, None).unwrap();
        // Stop after iteration 37 (in the middle of epoch 7) and resume.
        let mut first = build(&config).unwrap();
        let mut lr = 0.1;
        let mut momentum = 0.9;
        for i in 0..37u64 {
            let (l, m) = first.step(Position { epoch: i / 5, iter: i }, lr, &mut |_| None).unwrap();
            lr = l;
            momentum = m.unwrap_or(momentum);
        }
        let state = first.save_state();
        let mut resumed = build(&config).unwrap();
        resumed.load_state(&state).unwrap();
        for i in 37..100u64 {
            let (l, m) = resumed.step(Position { epoch: i / 5, iter: i }, lr, &mut |_| None).unwrap();
            lr = l;
            momentum = m.unwrap_or(momentum);
            assert_eq!(lr.to_bits(), full.lr[i as usize].to_bits(), "{config:?} at iteration {i}");
            assert_eq!(momentum.to_bits(), full.momentum[i as usize].to_bits(), "{config:?} at iteration {i}");
        }
    }
}

#[test]
fn by_epoch_steps_once_per_epoch_and_never_twice() {
    let mut s = build(&[("type", text("ExponentialLR")), ("gamma", OptionValue::Float(0.5))]).unwrap();
    let mut none = |_: &str| None;
    let (lr, _) = s.step(Position { epoch: 0, iter: 0 }, 1.0, &mut none).unwrap();
    assert_eq!(lr, 1.0);
    let (lr, _) = s.step(Position { epoch: 0, iter: 1 }, lr, &mut none).unwrap();
    assert_eq!(lr, 1.0);
    let (lr, _) = s.step(Position { epoch: 1, iter: 2 }, lr, &mut none).unwrap();
    assert_eq!(lr, 0.5);
    // The same epoch again (a retried iteration): unchanged.
    let (lr, _) = s.step(Position { epoch: 1, iter: 3 }, lr, &mut none).unwrap();
    assert_eq!(lr, 0.5);
    // Epochs skipped (no iteration in them) are caught up, as MMEngine steps after every epoch.
    let (lr, _) = s.step(Position { epoch: 3, iter: 4 }, lr, &mut none).unwrap();
    assert_eq!(lr, 0.125);
}

#[test]
fn outside_the_window_the_lr_passes_through() {
    let mut s = build(&[
        ("type", text("ExponentialLR")),
        ("gamma", OptionValue::Float(0.5)),
        ("begin", OptionValue::Integer(2)),
        ("end", OptionValue::Integer(4)),
        ("by_epoch", OptionValue::Boolean(false)),
    ])
    .unwrap();
    let seen: Vec<f64> = (0..6u64)
        .map(|i| s.step(Position { epoch: 0, iter: i }, 0.3, &mut |_| None).unwrap().0)
        .collect();
    // begin: initial step (unchanged for ExponentialLR), then one decay, then outside again.
    assert_eq!(seen, vec![0.3, 0.3, 0.3, 0.15, 0.3, 0.3]);
}

#[test]
fn plateau_ignores_the_metric_it_consumed_before_a_checkpoint() {
    let config = [
        ("type", text("ReduceOnPlateauLR")),
        ("patience", OptionValue::Integer(0)),
        ("factor", OptionValue::Float(0.5)),
    ];
    let mut s = build(&config).unwrap();
    let mut lr = 1.0;
    for (epoch, metric) in [(1u64, 1.0), (2, 1.0)] {
        lr = s.step(Position { epoch, iter: epoch * 10 }, lr, &mut |_| Some(metric)).unwrap().0;
    }
    assert_eq!(lr, 0.5, "the second, equal, loss is not an improvement: patience 0 halves the lr");
    let state = s.save_state();
    let mut resumed = build(&config).unwrap();
    resumed.load_state(&state).unwrap();
    // Resumed at epoch 3: the host still shows the loss consumed at epoch 2.
    let lr2 = resumed.step(Position { epoch: 3, iter: 30 }, lr, &mut |_| Some(1.0)).unwrap().0;
    assert_eq!(lr2, 0.5);
    // A new validation result (equal value, but after the first step since the resume) counts.
    let lr3 = resumed.step(Position { epoch: 4, iter: 40 }, lr2, &mut |_| Some(1.0)).unwrap().0;
    assert_eq!(lr3, 0.25);
}

#[test]
fn plateau_val_interval_skips_epochs_without_validation() {
    let mut s = build(&[
        ("type", text("ReduceOnPlateauLR")),
        ("patience", OptionValue::Integer(0)),
        ("val_interval", OptionValue::Integer(2)),
        ("monitor", text("accuracy")),
        ("rule", text("greater")),
    ])
    .unwrap();
    let mut lr = 1.0;
    let mut reads = Vec::new();
    for epoch in 1..=6u64 {
        lr = s
            .step(Position { epoch, iter: epoch }, lr, &mut |name| {
                reads.push((epoch, name.to_string()));
                Some(90.0)
            })
            .unwrap()
            .0;
    }
    assert_eq!(
        reads,
        vec![(2, "val/accuracy".to_string()), (4, "val/accuracy".to_string()), (6, "val/accuracy".to_string())]
    );
    // 90 at epoch 2 is the first best; epochs 4 and 6 bring no improvement.
    assert!((lr - 0.01).abs() < 1e-15, "{lr}");
}

#[test]
fn state_is_checked() {
    let s = build(&[("type", text("StepLR")), ("step_size", OptionValue::Integer(3))]).unwrap();
    let mut other = build(&[("type", text("ExponentialLR")), ("gamma", OptionValue::Float(0.9))]).unwrap();
    let err = other.load_state(&s.save_state()).unwrap_err();
    assert!(err.contains("StepLR") && err.contains("ExponentialLR"), "{err}");
    assert!(other.load_state(b"nonsense").is_err());
}

#[test]
fn configuration_errors_are_clear() {
    let err = |pairs: &[(&str, OptionValue)]| build(pairs).unwrap_err();
    assert_eq!(
        err(&[("type", text("CosineAnnealingLr"))]),
        "unknown lr policy type `CosineAnnealingLr` (did you mean `CosineAnnealingLR`?); known types: ConstantLR, StepLR, \
         MultiStepLR, ExponentialLR, CosineAnnealingLR, CosineRestartLR, LinearLR, PolyLR, OneCycleLR, ReduceOnPlateauLR"
    );
    assert!(err(&[]).starts_with("option `type` is required"));
    assert!(err(&[("type", text("ReduceLROnPlateau"))]).contains("did you mean `ReduceOnPlateauLR`"));
    let e = err(&[("type", text("StepLR")), ("step_size", OptionValue::Integer(2)), ("gama", OptionValue::Float(0.5))]);
    assert!(e.starts_with("StepLR: unknown option `gama` (did you mean `gamma`?)"), "{e}");
    assert_eq!(err(&[("type", text("StepLR"))]), "StepLR: option `step_size` is required (a non-negative integer)");
    assert!(err(&[("type", text("CosineAnnealingLR"))]).contains("give `T_max` (in epochs) or a finite `end`"));
    assert!(err(&[("type", text("ReduceOnPlateauLR")), ("by_epoch", OptionValue::Boolean(false))])
        .contains("only `by_epoch = true`"));
    assert!(err(&[("type", text("LinearLR")), ("begin", OptionValue::Integer(5)), ("end", OptionValue::Integer(5))])
        .contains("`end` (5) must be larger than `begin` (5)"));
    assert!(err(&[("type", text("CosineRestartLR")), ("periods", OptionValue::Integers(vec![5, 5])), (
        "restart_weights",
        OptionValue::Floats(vec![1.0])
    )])
    .contains("1 values for 2 `periods`"));
    let no_momentum = Schedule::from_options(
        &options(&[("type", text("OneCycleLR")), ("eta_max", OptionValue::Float(1.0)), ("total_steps", OptionValue::Integer(5)), (
            "cycle_momentum",
            OptionValue::Boolean(true),
        )]),
        0.1,
        None,
    );
    assert!(no_momentum.unwrap_err().contains("needs an optimizer with momentum"));
    // Without an explicit request, an optimizer without momentum just is not cycled.
    let mut s = Schedule::from_options(
        &options(&[("type", text("OneCycleLR")), ("eta_max", OptionValue::Float(1.0)), ("total_steps", OptionValue::Integer(5))]),
        0.1,
        None,
    )
    .unwrap();
    assert_eq!(s.step(Position { epoch: 0, iter: 0 }, 0.1, &mut |_| None).unwrap().1, None);
}

#[test]
fn one_cycle_past_total_steps_is_an_error() {
    let mut s = build(&[
        ("type", text("OneCycleLR")),
        ("eta_max", OptionValue::Float(1.0)),
        ("total_steps", OptionValue::Integer(3)),
        ("by_epoch", OptionValue::Boolean(false)),
    ])
    .unwrap();
    // torch allows last_epoch == total_steps, one step past the cycle.
    for i in 0..4u64 {
        s.step(Position { epoch: 0, iter: i }, 0.1, &mut |_| None).unwrap();
    }
    let err = s.step(Position { epoch: 0, iter: 4 }, 0.1, &mut |_| None).unwrap_err();
    assert!(err.contains("stepped 5 times but `total_steps` is 3"), "{err}");
}
