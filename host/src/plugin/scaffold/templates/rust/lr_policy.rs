//!
//! Multiplies the learning rate by `gamma` at the start of every epoch.

use hammer_sdk::{export_lr_policy, Cadence, Decision, LrPolicy, Options, StepInfo};

#[derive(Default)]
struct Plugin {
    gamma: f64,
}

impl LrPolicy for Plugin {
    fn setup(&mut self, options: &Options, _base_lr: f64, _base_momentum: Option<f64>) -> Result<Cadence, String> {
        options.check_known(&["gamma"])?;
        self.gamma = options.get_f64("gamma", 0.9)?;
        // Asked before the first iteration of each epoch (and of a resumed run), not at every one.
        Ok(Cadence::Epoch)
    }

    fn step(&mut self, info: &StepInfo, lr: f64, momentum: Option<f64>) -> Result<Decision, String> {
        let new_epoch = info.inner_iter == 0 && info.epoch > 0;
        Ok(Decision { lr: if new_epoch { lr * self.gamma } else { lr }, momentum })
    }
}

export_lr_policy!(Plugin);
