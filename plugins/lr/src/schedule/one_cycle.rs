//! OneCycleLR: a warm-up to `max_lr` and an annealing far below the
//! initial lr, in two or three phases, with the momentum cycled inversely.

use std::f64::consts::PI;

use hammer_sdk::Options;

use super::config::{Setup, Spec};
use super::Kind;

/// The family's one type and its options.
pub(super) const SPECS: &[Spec] = &[Spec {
    name: "OneCycleLR",
    options: &[
        "eta_max",
        "max_lr",
        "total_steps",
        "pct_start",
        "anneal_strategy",
        "div_factor",
        "final_div_factor",
        "three_phase",
        "cycle_momentum",
        "base_momentum",
        "max_momentum",
    ],
    parse: one_cycle,
}];

/// How OneCycleLR interpolates inside a phase.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Anneal {
    Cos,
    Linear,
}

impl Anneal {
    fn apply(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            // torch's _annealing_cos, operation for operation.
            Anneal::Cos => {
                let cos_out = (PI * pct).cos() + 1.0;
                end + (start - end) / 2.0 * cos_out
            }
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

/// Which anchor a OneCycleLR phase starts or ends at.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Anchor {
    Initial,
    Max,
    Min,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct CyclePhase {
    end_step: f64,
    lr: (Anchor, Anchor),
    /// Momentum anchors: (start, end), `true` = max_momentum, `false` = base_momentum.
    momentum: (bool, bool),
}

/// A configured OneCycleLR.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OneCycle {
    total_steps: i64,
    phases: Vec<CyclePhase>,
    anneal: Anneal,
    initial_lr: f64,
    max_lr: f64,
    min_lr: f64,
    /// (base_momentum, max_momentum) when momentum cycles.
    momentum: Option<(f64, f64)>,
}

impl OneCycle {
    /// The lr and momentum at step `t` of the window (not chainable: the
    /// cycle sets the values whatever they were).
    pub(super) fn value(&self, t: i64) -> Result<(f64, Option<f64>), String> {
        let OneCycle { total_steps, phases, anneal, initial_lr, max_lr, min_lr, momentum } = self;
        if t > *total_steps {
            return Err(format!(
                "OneCycleLR stepped {} times but `total_steps` is {total_steps}: make `total_steps` (or `end`) cover the whole training",
                t + 1
            ));
        }
        let anchor = |a: Anchor| match a {
            Anchor::Initial => *initial_lr,
            Anchor::Max => *max_lr,
            Anchor::Min => *min_lr,
        };
        let mut start_step = 0.0;
        let tf = t as f64;
        for (i, phase) in phases.iter().enumerate() {
            if tf <= phase.end_step || i == phases.len() - 1 {
                let pct = (tf - start_step) / (phase.end_step - start_step);
                let lr = anneal.apply(anchor(phase.lr.0), anchor(phase.lr.1), pct);
                let m = momentum.map(|(base_m, max_m)| {
                    let pick = |is_max: bool| if is_max { max_m } else { base_m };
                    anneal.apply(pick(phase.momentum.0), pick(phase.momentum.1), pct)
                });
                return Ok((lr, m));
            }
            start_step = phase.end_step;
        }
        unreachable!("OneCycleLR has at least one phase")
    }
}

fn one_cycle(o: &Options, s: &Setup) -> Result<Kind, String> {
    if o.contains("eta_max") && o.contains("max_lr") {
        return Err("give either `eta_max` or its alias `max_lr`, not both".into());
    }
    let max_lr = if o.contains("max_lr") { o.require_f64("max_lr")? } else { o.require_f64("eta_max")? };
    let total_steps = s.window.cycle_length(o, "total_steps")?;
    let pct_start = o.get_f64("pct_start", 0.3)?;
    if !(0.0..=1.0).contains(&pct_start) {
        return Err(format!("`pct_start` must be between 0 and 1, found {pct_start}"));
    }
    let anneal = match o.get_choice("anneal_strategy", &["cos", "linear"], "cos")?.as_str() {
        "cos" => Anneal::Cos,
        _ => Anneal::Linear,
    };
    let div_factor = o.get_f64("div_factor", 25.0)?;
    let final_div_factor = o.get_f64("final_div_factor", 1e4)?;
    let three_phase = o.get_bool("three_phase", false)?;
    let total = total_steps as f64;
    let phases = if three_phase {
        vec![
            CyclePhase { end_step: pct_start * total - 1.0, lr: (Anchor::Initial, Anchor::Max), momentum: (true, false) },
            CyclePhase { end_step: 2.0 * pct_start * total - 2.0, lr: (Anchor::Max, Anchor::Initial), momentum: (false, true) },
            CyclePhase { end_step: total - 1.0, lr: (Anchor::Initial, Anchor::Min), momentum: (true, true) },
        ]
    } else {
        vec![
            CyclePhase { end_step: pct_start * total - 1.0, lr: (Anchor::Initial, Anchor::Max), momentum: (true, false) },
            CyclePhase { end_step: total - 1.0, lr: (Anchor::Max, Anchor::Min), momentum: (false, true) },
        ]
    };
    // torch cycles momentum by default; an optimizer without momentum cannot.
    let cycle = match o.optional_bool("cycle_momentum")? {
        Some(true) if s.base_momentum.is_none() => {
            return Err("`cycle_momentum = true` needs an optimizer with momentum (SGD's momentum or Adam's beta1)".into())
        }
        Some(c) => c,
        None => s.base_momentum.is_some(),
    };
    let momentum = if cycle {
        Some((o.get_f64("base_momentum", 0.85)?, o.get_f64("max_momentum", 0.95)?))
    } else {
        None
    };
    let initial_lr = max_lr / div_factor;
    Ok(Kind::OneCycle(OneCycle {
        total_steps,
        phases,
        anneal,
        initial_lr,
        max_lr,
        min_lr: initial_lr / final_div_factor,
        momentum,
    }))
}

#[cfg(test)]
mod tests {
    use hammer_sdk::OptionValue;

    use crate::schedule::Position;
    use crate::tests::{build, text};

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
}
