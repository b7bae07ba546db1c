//! Where a run's time went: per phase, per extension (hook, metric,
//! learning-rate policy), and waiting for data; printed as a table when
//! training ends, with the best value of every validation metric.

use std::time::Duration;

/// Calls and total time of one thing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Number of calls.
    pub calls: u64,
    /// Total time.
    pub total: Duration,
}

impl Tally {
    /// Counts one call that took `d`.
    pub fn add(&mut self, d: Duration) {
        self.calls += 1;
        self.total += d;
    }
}

/// The run's timings and best metrics.
#[derive(Debug, Default)]
pub struct Timings {
    /// Time in each phase's hooks, by phase name.
    pub phases: Vec<(&'static str, Tally)>,
    /// Time in each extension, by name and kind.
    pub extensions: Vec<(String, &'static str, Tally)>,
    /// Time the training loop waited for batches.
    pub data_wait: Duration,
    /// Best value of each validation metric and the epoch (or iteration) it came at.
    pub best: Vec<(String, f64, u64)>,
}

impl Timings {
    /// Adds `d` to the phase `name`.
    pub fn phase(&mut self, name: &'static str, d: Duration) {
        match self.phases.iter_mut().find(|(n, _)| *n == name) {
            Some((_, t)) => t.add(d),
            None => {
                let mut t = Tally::default();
                t.add(d);
                self.phases.push((name, t));
            }
        }
    }

    /// Adds `d` to the extension `name` of `kind`.
    pub fn extension(&mut self, name: &str, kind: &'static str, d: Duration) {
        match self.extensions.iter_mut().find(|(n, k, _)| n == name && *k == kind) {
            Some((_, _, t)) => t.add(d),
            None => {
                let mut t = Tally::default();
                t.add(d);
                self.extensions.push((name.to_string(), kind, t));
            }
        }
    }

    /// Keeps `value` of metric `name` at `step` if it is the best so far
    /// (lowest for names with "loss", else highest).
    pub fn metric(&mut self, name: &str, value: f64, step: u64) {
        let better = |old: f64| if name.contains("loss") { value < old } else { value > old };
        match self.best.iter_mut().find(|(n, ..)| n == name) {
            Some(entry) if better(entry.1) => *entry = (name.to_string(), value, step),
            Some(_) => {}
            None => self.best.push((name.to_string(), value, step)),
        }
    }

    /// The summary table, one line each.
    pub fn table(&self, unit: &str) -> Vec<String> {
        let mut lines = vec![format!("Waited {:.3} s for data", self.data_wait.as_secs_f64())];
        let row = |name: &str, t: &Tally| {
            let mean_us = if t.calls == 0 { 0.0 } else { t.total.as_secs_f64() * 1e6 / t.calls as f64 };
            format!("{name:<32} {:>8} {:>10.4} {:>10.2}", t.calls, t.total.as_secs_f64(), mean_us)
        };
        if !self.phases.is_empty() {
            lines.push(format!("{:<32} {:>8} {:>10} {:>10}", "phase (hooks)", "calls", "total (s)", "mean (µs)"));
            lines.extend(self.phases.iter().map(|(n, t)| row(n, t)));
        }
        if !self.extensions.is_empty() {
            lines.push(format!("{:<32} {:>8} {:>10} {:>10}", "extension", "calls", "total (s)", "mean (µs)"));
            lines.extend(self.extensions.iter().map(|(n, k, t)| row(&format!("{n} ({k})"), t)));
        }
        for (name, value, step) in &self.best {
            lines.push(format!("Best {name}: {value:.4} ({unit} {step})"));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_by_the_metric_s_direction() {
        let mut t = Timings::default();
        for (step, (acc, loss)) in [(90.0, 0.5), (93.0, 0.3), (92.0, 0.4)].into_iter().enumerate() {
            t.metric("accuracy", acc, step as u64 + 1);
            t.metric("loss", loss, step as u64 + 1);
        }
        assert_eq!(t.best, vec![("accuracy".to_string(), 93.0, 2), ("loss".to_string(), 0.3, 2)]);
        t.phase("after_train_iter", Duration::from_micros(3));
        t.phase("after_train_iter", Duration::from_micros(5));
        let table = t.table("epoch").join("\n");
        assert!(table.contains("after_train_iter") && table.contains("       2 "), "{table}");
        assert!(table.contains("Best accuracy: 93.0000 (epoch 2)"), "{table}");
    }
}
