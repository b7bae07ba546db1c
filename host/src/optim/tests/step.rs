//! Stepping: parameters without gradients are skipped, and the time of one
//! step (an ignored test, run by hand).

use tch::Tensor;

use super::{fixed_values, optimizer_config, params_from, set_grads, Case};
use crate::optim::Optimizer;

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

/// Time of one step on the tutorial's MLP (2→64→64→2); run with
/// `cargo test -p hammer --lib optim::tests::step::step_timing -- --ignored --nocapture`.
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
