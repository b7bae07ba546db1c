//! `checkpoint_best`: asks for a checkpoint whenever a validation metric
//! reaches a new best (MMEngine's `CheckpointHook(save_best=...)`).
//!
//! Options:
//! * `monitor` (required): a metric name, read as the host scalar `val/<monitor>`;
//! * `rule`: `greater` or `less`; default `less` when the name contains
//!   "loss", else `greater`.
//!
//! Phase: after-val-epoch. On a strictly better value it calls
//! `request_checkpoint("best_<monitor>")`; after every validation with a best
//! value it emits the scalar `best/<monitor>`.
//! State (`HECB` version 1): the best value so far (optional f64).

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

/// The options, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The metric's name.
    pub monitor: String,
    /// Which direction is better.
    pub rule: Rule,
}

impl Config {
    /// Parses and checks the options.
    pub fn from_options(o: &Options) -> Result<Config, String> {
        o.check_known(&["monitor", "rule"])?;
        let monitor = o.require_str("monitor")?;
        let inferred = if monitor.to_lowercase().contains("loss") { "less" } else { "greater" };
        let rule = match o.get_choice("rule", &["greater", "less"], inferred)?.as_str() {
            "less" => Rule::Less,
            _ => Rule::Greater,
        };
        Ok(Config { monitor, rule })
    }

    /// The checkpoint tag: `best_<monitor>`, with characters other than
    /// letters, digits, `_`, `-` and `.` replaced by `_`.
    pub fn tag(&self) -> String {
        let clean: String = self
            .monitor
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' })
            .collect();
        format!("best_{clean}")
    }
}

/// Whether `score` beats `best` (strictly; NaN never does).
pub fn improves(rule: Rule, score: f64, best: Option<f64>) -> bool {
    if score.is_nan() {
        return false;
    }
    match (rule, best) {
        (_, None) => true,
        (Rule::Greater, Some(b)) => score > b,
        (Rule::Less, Some(b)) => score < b,
    }
}

/// The hook.
#[derive(Default)]
pub struct CheckpointBest {
    config: Option<Config>,
    best: Option<f64>,
}

impl Hook for CheckpointBest {
    fn setup(&mut self, options: &Options) -> Result<Vec<Subscription>, String> {
        self.config = Some(Config::from_options(options)?);
        Ok(vec![Phase::AfterValEpoch.into()])
    }

    fn on_phase(&mut self, _info: &StepInfo) -> Result<(), String> {
        let c = self.config.as_ref().ok_or("checkpoint_best was called before `setup`")?;
        let name = format!("val/{}", c.monitor);
        let Some(score) = hammer_sdk::scalar(&name) else {
            hammer_sdk::log(
                Level::Warning,
                &format!("cannot keep the best checkpoint by `{}`: the validation did not produce it (no scalar `{name}`)", c.monitor),
            );
            return Ok(());
        };
        if improves(c.rule, score, self.best) {
            self.best = Some(score);
            hammer_sdk::request_checkpoint(&c.tag());
        }
        if let Some(best) = self.best {
            hammer_sdk::emit_scalar(&format!("best/{}", c.monitor), best);
        }
        Ok(())
    }

    fn save_state(&self) -> Vec<u8> {
        let mut w = StateWriter::new(*b"HECB", 1);
        w.write_opt_f64(self.best);
        w.finish()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        let mut r = StateReader::new(state, *b"HECB", 1)?;
        let best = r.read_opt_f64()?;
        r.finish()?;
        self.best = best;
        Ok(())
    }
}

export_hook!(CheckpointBest);

#[cfg(test)]
mod tests {
    use super::*;
    use hammer_sdk::OptionValue;

    fn config(pairs: &[(&str, OptionValue)]) -> Result<Config, String> {
        Config::from_options(&Options::new(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()))
    }

    #[test]
    fn options_rule_and_tag() {
        let c = config(&[("monitor", OptionValue::Text("accuracy/top1".into()))]).unwrap();
        assert_eq!(c.rule, Rule::Greater);
        assert_eq!(c.tag(), "best_accuracy_top1");
        assert_eq!(config(&[("monitor", OptionValue::Text("loss".into()))]).unwrap().rule, Rule::Less);
        assert!(config(&[("monitor", OptionValue::Text("loss".into())), ("mode", OptionValue::Text("min".into()))]).is_err());
    }

    #[test]
    fn strictly_better_only() {
        assert!(improves(Rule::Greater, 1.0, None));
        assert!(!improves(Rule::Greater, 1.0, Some(1.0)));
        assert!(improves(Rule::Greater, 1.5, Some(1.0)));
        assert!(improves(Rule::Less, 0.5, Some(1.0)));
        assert!(!improves(Rule::Less, f64::NAN, None));
    }

    #[test]
    fn state_round_trip() {
        let mut h = CheckpointBest { config: None, best: Some(93.5) };
        let bytes = h.save_state();
        h.best = None;
        h.load_state(&bytes).unwrap();
        assert_eq!(h.best, Some(93.5));
        assert!(h.load_state(b"HEES\x01\0\0\0").is_err());
    }
}
