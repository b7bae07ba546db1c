//! The schedulers whose chainable formula is a single expression of the
//! step: ConstantLR, StepLR, MultiStepLR, ExponentialLR, LinearLR and PolyLR
//! (warm-ups and decays by factors or powers).

use hammer_sdk::Options;

use super::config::{at_least_one, to_i64, Setup, Spec};
use super::Kind;

/// The family's types and their options.
pub(super) const SPECS: &[Spec] = &[
    Spec { name: "ConstantLR", options: &["factor", "total_iters"], parse: constant },
    Spec { name: "StepLR", options: &["step_size", "gamma"], parse: step },
    Spec { name: "MultiStepLR", options: &["milestones", "gamma"], parse: multi_step },
    Spec { name: "ExponentialLR", options: &["gamma"], parse: exponential },
    Spec { name: "LinearLR", options: &["start_factor", "end_factor", "total_iters"], parse: linear },
    Spec { name: "PolyLR", options: &["eta_min", "power", "total_iters"], parse: poly },
];

/// A configured scheduler of the family.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum StepLike {
    Constant { factor: f64, total_iters: i64 },
    Step { step_size: i64, gamma: f64 },
    MultiStep { milestones: Vec<i64>, gamma: f64 },
    Exponential { gamma: f64 },
    Linear { start: f64, end: f64, total_iters: i64 },
    Poly { eta_min: f64, power: f64, total_iters: i64 },
}

impl StepLike {
    /// The chainable formula at step `t` of the window, from the current lr.
    pub(super) fn value(&self, t: i64, lr: f64) -> f64 {
        match self {
            StepLike::Constant { factor, total_iters } => {
                if t == 0 {
                    lr * factor
                } else if t != *total_iters {
                    lr
                } else {
                    lr * (1.0 / factor)
                }
            }
            StepLike::Step { step_size, gamma } => {
                if t == 0 || t % step_size != 0 {
                    lr
                } else {
                    lr * gamma
                }
            }
            StepLike::MultiStep { milestones, gamma } => {
                let count = milestones.iter().filter(|&&m| m == t).count();
                if count == 0 {
                    lr
                } else {
                    lr * gamma.powf(count as f64)
                }
            }
            StepLike::Exponential { gamma } => {
                if t == 0 {
                    lr
                } else {
                    lr * gamma
                }
            }
            StepLike::Linear { start, end, total_iters } => {
                if t == 0 {
                    lr * start
                } else if t > *total_iters {
                    lr
                } else {
                    lr * (1.0 + (end - start) / (*total_iters as f64 * start + (t - 1) as f64 * (end - start)))
                }
            }
            StepLike::Poly { eta_min, power, total_iters } => {
                if t == 0 || t > *total_iters {
                    lr
                } else {
                    (lr - eta_min) * (1.0 - 1.0 / (total_iters - t + 1) as f64).powf(*power) + eta_min
                }
            }
        }
    }
}

fn constant(o: &Options, s: &Setup) -> Result<Kind, String> {
    let factor = o.get_f64("factor", 1.0 / 3.0)?;
    if !(0.0..=1.0).contains(&factor) {
        return Err(format!("`factor` must be between 0 and 1, found {factor}"));
    }
    Ok(Kind::StepLike(StepLike::Constant { factor, total_iters: s.window.total_iters(o, "total_iters")? }))
}

fn step(o: &Options, _: &Setup) -> Result<Kind, String> {
    let step_size = at_least_one("step_size", to_i64("step_size", o.require_u64("step_size")?)?)?;
    Ok(Kind::StepLike(StepLike::Step { step_size, gamma: o.get_f64("gamma", 0.1)? }))
}

fn multi_step(o: &Options, _: &Setup) -> Result<Kind, String> {
    let milestones = o.require_i64_list("milestones")?;
    if milestones.iter().any(|&m| m < 0) {
        return Err("`milestones` must be non-negative".into());
    }
    Ok(Kind::StepLike(StepLike::MultiStep { milestones, gamma: o.get_f64("gamma", 0.1)? }))
}

fn exponential(o: &Options, _: &Setup) -> Result<Kind, String> {
    Ok(Kind::StepLike(StepLike::Exponential { gamma: o.require_f64("gamma")? }))
}

fn linear(o: &Options, s: &Setup) -> Result<Kind, String> {
    let start = o.get_f64("start_factor", 1.0 / 3.0)?;
    let end = o.get_f64("end_factor", 1.0)?;
    if !(start > 0.0 && start <= 1.0) {
        return Err(format!("`start_factor` must be in (0, 1], found {start}"));
    }
    if !(0.0..=1.0).contains(&end) {
        return Err(format!("`end_factor` must be between 0 and 1, found {end}"));
    }
    let total_iters = at_least_one("total_iters", s.window.total_iters(o, "total_iters")?)?;
    Ok(Kind::StepLike(StepLike::Linear { start, end, total_iters }))
}

fn poly(o: &Options, s: &Setup) -> Result<Kind, String> {
    let total_iters = at_least_one("total_iters", s.window.total_iters(o, "total_iters")?)?;
    Ok(Kind::StepLike(StepLike::Poly { eta_min: o.get_f64("eta_min", 0.0)?, power: o.get_f64("power", 1.0)?, total_iters }))
}
