//! `lr`: MMEngine's parameter schedulers as one hammer lr-policy component.
//!
//! The option `type` selects the scheduler by its MMEngine name
//! (`ConstantLR`, `StepLR`, `MultiStepLR`, `ExponentialLR`,
//! `CosineAnnealingLR`, `CosineRestartLR`, `LinearLR`, `PolyLR`,
//! `OneCycleLR`, `ReduceOnPlateauLR`); every type also takes `by_epoch`
//! (default true), `begin` (default 0) and `end` (default infinite), counted in
//! epochs or iterations. The host calls [`LrPolicy::step`] before every
//! training iteration, or only before the first of each epoch for a
//! schedule `by_epoch` (its cadence); the schedule steps at each new epoch
//! (or iteration) and keeps the learning rate between steps, so several `lr`
//! plugins in a row compose like MMEngine's scheduler lists (a `LinearLR`
//! warm-up followed by a `MultiStepLR`, say). See [`schedule`] for the exact
//! semantics.

pub mod schedule;

use hammer_sdk::{export_lr_policy, Cadence, Decision, LrPolicy, Options, StepInfo};
use schedule::{Position, Schedule};

/// The exported policy: one configured [`Schedule`].
#[derive(Default)]
pub struct Lr {
    schedule: Option<Schedule>,
}

impl Lr {
    fn schedule(&mut self) -> Result<&mut Schedule, String> {
        self.schedule.as_mut().ok_or_else(|| "the lr policy was called before `setup`".to_string())
    }
}

impl LrPolicy for Lr {
    fn setup(&mut self, options: &Options, base_lr: f64, base_momentum: Option<f64>) -> Result<Cadence, String> {
        let schedule = Schedule::from_options(options, base_lr, base_momentum)?;
        let cadence = if schedule.by_epoch() { Cadence::Epoch } else { Cadence::Iteration };
        self.schedule = Some(schedule);
        Ok(cadence)
    }

    fn step(&mut self, info: &StepInfo, lr: f64, _momentum: Option<f64>) -> Result<Decision, String> {
        let pos = Position { epoch: u64::from(info.epoch), iter: info.iter };
        let (lr, momentum) = self.schedule()?.step(pos, lr, &mut |name| hammer_sdk::scalar(name))?;
        Ok(Decision { lr, momentum })
    }

    fn save_state(&self) -> Vec<u8> {
        self.schedule.as_ref().map(Schedule::save_state).unwrap_or_default()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        self.schedule()?.load_state(state)
    }
}

export_lr_policy!(Lr);

#[cfg(test)]
mod tests;
