//! The cosine schedulers: CosineAnnealingLR and CosineRestartLR (cosine
//! annealing restarted at the end of each period).

use std::f64::consts::PI;

use hammer_sdk::Options;

use super::config::{Setup, Spec};
use super::Kind;

/// The family's types and their options.
pub(super) const SPECS: &[Spec] = &[
    Spec { name: "CosineAnnealingLR", options: &["T_max", "eta_min", "eta_min_ratio"], parse: annealing },
    Spec { name: "CosineRestartLR", options: &["periods", "restart_weights", "eta_min", "eta_min_ratio"], parse: restart },
];

/// A configured scheduler of the family.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cosine {
    Annealing { t_max: i64, eta_min: f64 },
    Restart { periods: Vec<i64>, cumulative: Vec<i64>, weights: Vec<f64>, eta_min: f64 },
}

impl Cosine {
    /// The chainable formula at step `t` of the window, from the current lr
    /// and the optimizer's base lr.
    pub(super) fn value(&self, t: i64, lr: f64, base: f64) -> f64 {
        match self {
            Cosine::Annealing { t_max, eta_min } => {
                let tm = *t_max as f64;
                if t == 0 {
                    lr
                } else if (t - 1 - t_max).rem_euclid(2 * t_max) == 0 {
                    lr + (base - eta_min) * (1.0 - (PI / tm).cos()) / 2.0
                } else {
                    chained(t, tm, lr, *eta_min)
                }
            }
            Cosine::Restart { periods, cumulative, weights, eta_min } => match cumulative.iter().position(|&c| t < c) {
                None => lr,
                Some(idx) => {
                    let restart = if idx == 0 { 0 } else { cumulative[idx - 1] };
                    let step = t - restart;
                    if step == 0 {
                        base * weights[idx]
                    } else {
                        chained(step, periods[idx] as f64, lr, *eta_min)
                    }
                }
            },
        }
    }
}

/// torch's chainable cosine step: from the lr at `step - 1` of a `period`
/// to the lr at `step`.
fn chained(step: i64, period: f64, lr: f64, eta_min: f64) -> f64 {
    (1.0 + (PI * step as f64 / period).cos()) / (1.0 + (PI * (step - 1) as f64 / period).cos()) * (lr - eta_min) + eta_min
}

/// The floor: `eta_min`, or `eta_min_ratio` times the base lr (default 0).
fn eta_min(o: &Options, base_lr: f64) -> Result<f64, String> {
    match (o.optional_f64("eta_min")?, o.optional_f64("eta_min_ratio")?) {
        (Some(_), Some(_)) => Err("give either `eta_min` or `eta_min_ratio`, not both".into()),
        (Some(m), None) => Ok(m),
        (None, Some(r)) => Ok(base_lr * r),
        (None, None) => Ok(0.0),
    }
}

fn annealing(o: &Options, s: &Setup) -> Result<Kind, String> {
    let t_max = s.window.cycle_length(o, "T_max")?;
    Ok(Kind::Cosine(Cosine::Annealing { t_max, eta_min: eta_min(o, s.base_lr)? }))
}

fn restart(o: &Options, s: &Setup) -> Result<Kind, String> {
    let periods = o.require_i64_list("periods")?;
    if periods.is_empty() || periods.iter().any(|&p| p < 1) {
        return Err("`periods` must be a non-empty list of positive integers".into());
    }
    let weights = o.get_f64_list("restart_weights", &vec![1.0; periods.len()])?;
    if weights.len() != periods.len() {
        return Err(format!(
            "`restart_weights` has {} values for {} `periods`; give one per period",
            weights.len(),
            periods.len()
        ));
    }
    let cumulative = periods
        .iter()
        .scan(0i64, |acc, &p| {
            *acc += p;
            Some(*acc)
        })
        .collect();
    Ok(Kind::Cosine(Cosine::Restart { periods, cumulative, weights, eta_min: eta_min(o, s.base_lr)? }))
}
