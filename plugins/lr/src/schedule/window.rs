//! The window a schedule is active in, and [`Schedule::step`]: the steps
//! taken as the loop moves on, caught up when the host skipped some.

use hammer_sdk::Options;

use super::config::{at_least_one, to_i64};
use super::{Kind, Position, Schedule};

/// When a schedule is active, and what it counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Window {
    /// Counts epochs (else iterations).
    pub(super) by_epoch: bool,
    /// The first global step inside.
    pub(super) begin: u64,
    /// The first global step after (none: no end).
    pub(super) end: Option<u64>,
}

impl Window {
    /// Reads `by_epoch`, `begin` and `end`.
    pub(super) fn from_options(o: &Options) -> Result<Window, String> {
        let by_epoch = o.get_bool("by_epoch", true)?;
        let begin = o.get_u64("begin", 0)?;
        let end = match o.optional_f64("end")? {
            None => None,
            Some(e) if e == f64::INFINITY => None,
            Some(_) => Some(o.require_u64("end")?),
        };
        if let Some(end) = end {
            if end <= begin {
                return Err(format!("`end` ({end}) must be larger than `begin` ({begin})"));
            }
        }
        Ok(Window { by_epoch, begin, end })
    }

    /// Whether the global step `global` is inside.
    pub(super) fn contains(&self, global: u64) -> bool {
        global >= self.begin && self.end.is_none_or(|e| global < e)
    }

    /// What a step is, for messages.
    pub(super) fn unit(&self) -> &'static str {
        if self.by_epoch {
            "epochs"
        } else {
            "iterations"
        }
    }

    /// The length of a warm-up-like schedule: option `key` if given, else
    /// `end - begin - 1` as MMEngine derives it, else torch's default of 5 steps.
    pub(super) fn total_iters(&self, o: &Options, key: &str) -> Result<i64, String> {
        match o.optional_u64(key)? {
            Some(t) => to_i64(key, t),
            None => Ok(match self.end {
                Some(e) => (e - self.begin - 1) as i64,
                None => 5,
            }),
        }
    }

    /// The length of a cycle (at least 1): option `key` if given, else the
    /// window's, which must then be finite.
    pub(super) fn cycle_length(&self, o: &Options, key: &str) -> Result<i64, String> {
        let length = match o.optional_u64(key)? {
            Some(t) => to_i64(key, t)?,
            None => match self.end {
                Some(e) => (e - self.begin) as i64,
                None => return Err(format!("give `{key}` (in {}) or a finite `end`", self.unit())),
            },
        };
        at_least_one(key, length)
    }
}

impl Schedule {
    /// The learning rate (and momentum, if the schedule sets it) for the
    /// training iteration at `pos`, given the current learning rate. `scalar` reads a
    /// host scalar (only ReduceOnPlateauLR uses it).
    ///
    /// # Errors
    ///
    /// A OneCycleLR stepped past its `total_steps`.
    pub fn step(
        &mut self,
        pos: Position,
        mut lr: f64,
        scalar: &mut dyn FnMut(&str) -> Option<f64>,
    ) -> Result<(f64, Option<f64>), String> {
        let global = if self.window.by_epoch { pos.epoch } else { pos.iter };
        let mut new_momentum = None;
        if global < self.next_global {
            // Already stepped for this epoch (or the host went back): unchanged.
            return Ok((lr, None));
        }
        if matches!(self.kind, Kind::Plateau(_)) {
            // Steps of a plateau schedule happen at validation results only;
            // intermediate epochs have nothing to catch up on.
            self.next_global = global + 1;
            lr = self.plateau_step(global, lr, scalar);
            self.resumed = false;
            return Ok((lr, None));
        }
        while self.next_global <= global {
            let g = self.next_global;
            self.next_global += 1;
            if self.window.contains(g) {
                self.last_step += 1;
                let (l, m) = self.value(lr)?;
                lr = l;
                if m.is_some() {
                    new_momentum = m;
                }
            }
        }
        self.resumed = false;
        Ok((lr, new_momentum))
    }

    /// The chainable formula at `self.last_step`, from the current lr.
    fn value(&self, lr: f64) -> Result<(f64, Option<f64>), String> {
        let t = self.last_step;
        match &self.kind {
            Kind::StepLike(k) => Ok((k.value(t, lr), None)),
            Kind::Cosine(k) => Ok((k.value(t, lr, self.base_lr), None)),
            Kind::OneCycle(k) => k.value(t),
            Kind::Plateau(_) => unreachable!("plateau schedules step in plateau_step"),
        }
    }
}

#[cfg(test)]
mod tests {
    use hammer_sdk::OptionValue;

    use crate::schedule::Position;
    use crate::tests::{build, text};

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
}
