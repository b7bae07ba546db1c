//! ReduceOnPlateauLR: the learning rate cut by `factor` when a validation
//! metric has not improved for `patience` validations. It steps at
//! validation results only, never at construction (as in MMEngine).

use hammer_sdk::Options;

use super::config::{Setup, Spec};
use super::{Kind, Schedule};

/// The family's one type and its options.
pub(super) const SPECS: &[Spec] = &[Spec {
    name: "ReduceOnPlateauLR",
    options: &[
        "monitor",
        "rule",
        "factor",
        "patience",
        "threshold",
        "threshold_rule",
        "threshold_mode",
        "cooldown",
        "min_value",
        "eps",
        "val_interval",
    ],
    parse: reduce_on_plateau,
}];

/// The `rule` of a monitored metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Smaller is better.
    Less,
    /// Larger is better.
    Greater,
}

/// A metric rule: explicit `rule`, else inferred from the monitored name.
///
/// # Errors
///
/// A `rule` other than `greater` or `less`.
pub fn parse_rule(options: &Options, monitor: &str, default: Option<Rule>) -> Result<Rule, String> {
    let inferred = default.unwrap_or(if monitor.to_lowercase().contains("loss") { Rule::Less } else { Rule::Greater });
    let default_name = match inferred {
        Rule::Less => "less",
        Rule::Greater => "greater",
    };
    Ok(match options.get_choice("rule", &["greater", "less"], default_name)?.as_str() {
        "less" => Rule::Less,
        _ => Rule::Greater,
    })
}

/// A configured ReduceOnPlateauLR.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ReduceOnPlateau {
    monitor: String,
    rule: Rule,
    factor: f64,
    patience: u64,
    threshold: f64,
    threshold_rel: bool,
    cooldown: u64,
    min_value: f64,
    eps: f64,
    val_interval: u64,
}

impl ReduceOnPlateau {
    /// The host scalar holding the monitored metric.
    pub(super) fn scalar(&self) -> String {
        format!("val/{}", self.monitor)
    }
}

/// ReduceOnPlateauLR's running bookkeeping (saved in the state).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Plateau {
    pub(super) best: f64,
    pub(super) num_bad: u64,
    pub(super) cooldown_counter: u64,
    /// The last metric value consumed, to recognise a stale one after a resume.
    pub(super) last_metric: Option<f64>,
}

impl Plateau {
    /// The bookkeeping before any metric (every kind has one: it is in
    /// every schedule's state).
    pub(super) fn start(kind: &Kind) -> Plateau {
        let best = match kind {
            Kind::Plateau(ReduceOnPlateau { rule: Rule::Greater, .. }) => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        };
        Plateau { best, num_bad: 0, cooldown_counter: 0, last_metric: None }
    }
}

fn reduce_on_plateau(o: &Options, s: &Setup) -> Result<Kind, String> {
    if !s.window.by_epoch {
        return Err("only `by_epoch = true` is supported (as in MMEngine): it steps after validation epochs".into());
    }
    let monitor = o.get_str("monitor", "loss")?;
    let rule = parse_rule(o, &monitor, Some(Rule::Less))?;
    let factor = o.get_f64("factor", 0.1)?;
    if factor >= 1.0 {
        return Err(format!("`factor` must be < 1.0, found {factor}"));
    }
    let threshold = o.get_f64("threshold", 1e-4)?;
    if threshold < 0.0 {
        return Err(format!("`threshold` must be >= 0, found {threshold}"));
    }
    if o.contains("threshold_rule") && o.contains("threshold_mode") {
        return Err("give either `threshold_rule` or its alias `threshold_mode`, not both".into());
    }
    let key = if o.contains("threshold_mode") { "threshold_mode" } else { "threshold_rule" };
    let threshold_rel = o.get_choice(key, &["rel", "abs"], "rel")? == "rel";
    let val_interval = o.get_u64("val_interval", 1)?;
    if val_interval == 0 {
        return Err("`val_interval` must be at least 1".into());
    }
    Ok(Kind::Plateau(ReduceOnPlateau {
        monitor,
        rule,
        factor,
        patience: o.get_u64("patience", 10)?,
        threshold,
        threshold_rel,
        cooldown: o.get_u64("cooldown", 0)?,
        min_value: o.get_f64("min_value", 0.0)?,
        eps: o.get_f64("eps", 1e-8)?,
        val_interval,
    }))
}

impl Schedule {
    /// ReduceOnPlateauLR at the start of training epoch `global`: consumes the
    /// validation result of the epoch before, if there is one.
    pub(super) fn plateau_step(&mut self, global: u64, lr: f64, scalar: &mut dyn FnMut(&str) -> Option<f64>) -> f64 {
        let Kind::Plateau(config) = &self.kind else {
            unreachable!()
        };
        let ReduceOnPlateau {
            rule,
            factor,
            patience,
            threshold,
            threshold_rel,
            cooldown,
            min_value,
            eps,
            val_interval,
            ..
        } = config;
        // MMEngine steps in after_val_epoch, when `global` training epochs are
        // done; validation runs every `val_interval` epochs.
        if global == 0 || !global.is_multiple_of(*val_interval) {
            return lr;
        }
        let Some(metric) = scalar(&config.scalar()) else {
            return lr; // no validation yet (before val_begin)
        };
        if self.resumed && self.plateau.last_metric.map(f64::to_bits) == Some(metric.to_bits()) {
            return lr; // the value consumed before the checkpoint, restored with it
        }
        if !self.window.contains(global) {
            return lr;
        }
        self.plateau.last_metric = Some(metric);
        self.last_step += 1;
        let p = &mut self.plateau;
        let better = match (rule, threshold_rel) {
            (Rule::Less, true) => metric < p.best * (1.0 - threshold),
            (Rule::Less, false) => metric < p.best - threshold,
            (Rule::Greater, true) => metric > p.best * (threshold + 1.0),
            (Rule::Greater, false) => metric > p.best + threshold,
        };
        if better {
            p.best = metric;
            p.num_bad = 0;
        } else {
            p.num_bad += 1;
        }
        if p.cooldown_counter > 0 {
            p.cooldown_counter -= 1;
            p.num_bad = 0;
        }
        let mut lr = lr;
        if p.num_bad > *patience {
            let new_lr = (lr * factor).max(*min_value);
            if lr - new_lr > *eps {
                lr = new_lr;
            }
            p.cooldown_counter = *cooldown;
            p.num_bad = 0;
        }
        lr
    }
}

#[cfg(test)]
mod tests {
    use hammer_sdk::OptionValue;

    use crate::schedule::Position;
    use crate::tests::{build, text};

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
}
