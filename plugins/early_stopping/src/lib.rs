//! `early_stopping`: stops training when a validation metric stops improving
//! (MMEngine's `EarlyStoppingHook`).
//!
//! Options:
//! * `monitor` (required): a metric name, read as the host scalar `val/<monitor>`;
//! * `rule`: `greater` or `less`; default `less` when the name contains
//!   "loss", else `greater`;
//! * `min_delta` (0.1): the smallest change that counts as an improvement;
//! * `patience` (5): validations without improvement before stopping;
//! * `strict` (false): a missing metric is an error (else a warning);
//! * `check_finite` (true): stop on a NaN or infinite metric;
//! * `stopping_threshold` (none): stop once the metric is better than this.
//!
//! Phase: after-val-epoch; it calls `request_stop` with the reason.
//! State (`HEES` version 1): best score, wait count.

use hammer_sdk::state::{StateReader, StateWriter};
use hammer_sdk::{export_hook, Hook, Level, Options, Phase, StepInfo, Subscription};

/// Which direction is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Larger is better.
    Greater,
    /// Smaller is better.
    Less,
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::Greater => "greater",
            Rule::Less => "less",
        }
    }

    fn compare(self, a: f64, b: f64) -> bool {
        match self {
            Rule::Greater => a > b,
            Rule::Less => a < b,
        }
    }
}

/// The options, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The metric's name.
    pub monitor: String,
    /// Which direction is better.
    pub rule: Rule,
    /// Smallest improvement, signed as MMEngine stores it (negative for `less`).
    pub min_delta: f64,
    /// Validations without improvement before stopping.
    pub patience: u64,
    /// A missing metric is an error.
    pub strict: bool,
    /// Stop on a non-finite metric.
    pub check_finite: bool,
    /// Stop once the metric is better than this.
    pub stopping_threshold: Option<f64>,
}

impl Config {
    /// Parses and checks the options.
    pub fn from_options(o: &Options) -> Result<Config, String> {
        o.check_known(&["monitor", "rule", "min_delta", "patience", "strict", "check_finite", "stopping_threshold"])?;
        let monitor = o.require_str("monitor")?;
        let inferred = if monitor.to_lowercase().contains("loss") { "less" } else { "greater" };
        let rule = match o.get_choice("rule", &["greater", "less"], inferred)?.as_str() {
            "less" => Rule::Less,
            _ => Rule::Greater,
        };
        let min_delta = o.get_f64("min_delta", 0.1)?;
        if min_delta < 0.0 {
            return Err(format!("option `min_delta` must be >= 0, found {min_delta}"));
        }
        Ok(Config {
            monitor,
            rule,
            min_delta: if rule == Rule::Greater { min_delta } else { -min_delta },
            patience: o.get_u64("patience", 5)?,
            strict: o.get_bool("strict", false)?,
            check_finite: o.get_bool("check_finite", true)?,
            stopping_threshold: o.optional_f64("stopping_threshold")?,
        })
    }
}

/// The running decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracker {
    /// Best score so far.
    pub best: f64,
    /// Validations since the last improvement.
    pub wait: u64,
}

impl Tracker {
    /// No score yet.
    pub fn new(rule: Rule) -> Tracker {
        Tracker { best: if rule == Rule::Greater { f64::NEG_INFINITY } else { f64::INFINITY }, wait: 0 }
    }

    /// MMEngine's `_check_stop_condition`: the reason to stop, if any.
    pub fn check(&mut self, c: &Config, score: f64) -> Option<String> {
        if c.check_finite && !score.is_finite() {
            return Some(format!(
                "monitored metric {} = {score} is infinite. Previous best value was {:.3}.",
                c.monitor, self.best
            ));
        }
        if let Some(threshold) = c.stopping_threshold {
            if c.rule.compare(score, threshold) {
                self.best = score;
                return Some(format!(
                    "stopping threshold reached: `{}` = {score} is {} than {threshold}.",
                    c.monitor,
                    c.rule.name()
                ));
            }
        }
        if c.rule.compare(self.best + c.min_delta, score) {
            self.wait += 1;
            if self.wait >= c.patience {
                return Some(format!(
                    "the monitored metric did not improve in the last {} records. best score: {:.3}.",
                    self.wait, self.best
                ));
            }
            None
        } else {
            self.best = score;
            self.wait = 0;
            None
        }
    }
}

/// The hook.
#[derive(Default)]
pub struct EarlyStopping {
    config: Option<Config>,
    tracker: Option<Tracker>,
}

impl Hook for EarlyStopping {
    fn setup(&mut self, options: &Options) -> Result<Vec<Subscription>, String> {
        let config = Config::from_options(options)?;
        self.tracker = Some(Tracker::new(config.rule));
        self.config = Some(config);
        Ok(vec![Phase::AfterValEpoch.into()])
    }

    fn on_phase(&mut self, _info: &StepInfo) -> Result<(), String> {
        let (Some(c), Some(t)) = (self.config.as_ref(), self.tracker.as_mut()) else {
            return Err("early_stopping was called before `setup`".into());
        };
        let name = format!("val/{}", c.monitor);
        let Some(score) = hammer_sdk::scalar(&name) else {
            let message = format!(
                "early stopping is conditioned on `{}`, which the validation did not produce (no scalar `{name}`)",
                c.monitor
            );
            if c.strict {
                return Err(format!("{message}; set `strict = false` to only warn"));
            }
            hammer_sdk::log(Level::Warning, &message);
            return Ok(());
        };
        if let Some(reason) = t.check(c, score) {
            hammer_sdk::request_stop(&format!("early stopping: {reason}"));
        }
        Ok(())
    }

    fn save_state(&self) -> Vec<u8> {
        let Some(t) = &self.tracker else { return Vec::new() };
        let mut w = StateWriter::new(*b"HEES", 1);
        w.write_f64(t.best).write_u64(t.wait);
        w.finish()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        let mut r = StateReader::new(state, *b"HEES", 1)?;
        let tracker = Tracker { best: r.read_f64()?, wait: r.read_u64()? };
        r.finish()?;
        self.tracker = Some(tracker);
        Ok(())
    }
}

export_hook!(EarlyStopping);

#[cfg(test)]
mod tests {
    use super::*;
    use hammer_sdk::OptionValue;

    fn config(pairs: &[(&str, OptionValue)]) -> Result<Config, String> {
        Config::from_options(&Options::new(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()))
    }

    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.into())
    }

    #[test]
    fn rule_inference_and_defaults() {
        let c = config(&[("monitor", text("loss"))]).unwrap();
        assert_eq!((c.rule, c.min_delta, c.patience, c.strict, c.check_finite), (Rule::Less, -0.1, 5, false, true));
        let c = config(&[("monitor", text("accuracy"))]).unwrap();
        assert_eq!((c.rule, c.min_delta), (Rule::Greater, 0.1));
        assert_eq!(config(&[("monitor", text("loss")), ("rule", text("greater"))]).unwrap().rule, Rule::Greater);
        assert_eq!(config(&[]).unwrap_err(), "option `monitor` is required (text)");
        assert!(config(&[("monitor", text("x")), ("rule", text("max"))]).unwrap_err().contains("must be one of"));
    }

    /// Expected values from MMEngine 0.10.7's `EarlyStoppingHook._check_stop_condition`.
    #[test]
    fn stops_after_patience_records_without_min_delta_improvement() {
        let c = config(&[("monitor", text("accuracy")), ("patience", OptionValue::Integer(3))]).unwrap();
        let mut t = Tracker::new(c.rule);
        let seen: Vec<(bool, f64, u64)> =
            [0.5, 0.55, 0.58, 0.59, 0.61].iter().map(|&s| (t.check(&c, s).is_some(), t.best, t.wait)).collect();
        assert_eq!(
            seen,
            vec![(false, 0.5, 0), (false, 0.5, 1), (false, 0.5, 2), (true, 0.5, 3), (false, 0.61, 0)]
        );
    }

    #[test]
    fn improvement_resets_and_less_rule_uses_negative_delta() {
        let c = config(&[("monitor", text("val_loss")), ("patience", OptionValue::Integer(2)), ("min_delta", OptionValue::Float(0.01))]).unwrap();
        let mut t = Tracker::new(c.rule);
        assert!(t.check(&c, 1.0).is_none());
        assert!(t.check(&c, 0.995).is_none()); // not 0.01 better: wait 1
        assert_eq!(t.wait, 1);
        assert!(t.check(&c, 0.9).is_none()); // improvement
        assert_eq!((t.best, t.wait), (0.9, 0));
        assert!(t.check(&c, 0.9).is_none());
        let reason = t.check(&c, 0.95).unwrap();
        assert!(reason.contains("last 2 records") && reason.contains("0.900"), "{reason}");
    }

    #[test]
    fn threshold_and_non_finite() {
        let c = config(&[("monitor", text("accuracy")), ("stopping_threshold", OptionValue::Integer(90))]).unwrap();
        let mut t = Tracker::new(c.rule);
        assert!(t.check(&c, 80.0).is_none());
        assert!(t.check(&c, 95.0).unwrap().contains("stopping threshold reached"));
        assert_eq!(t.best, 95.0);
        assert!(t.check(&c, f64::NAN).unwrap().contains("is infinite"));
        let c = config(&[("monitor", text("loss")), ("check_finite", OptionValue::Boolean(false))]).unwrap();
        assert!(Tracker::new(c.rule).check(&c, f64::NAN).is_none());
    }
}
