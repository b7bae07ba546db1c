//! Learning-rate policies: asked, before every training iteration, for the
//! learning rate (and momentum) to use. Several are applied in order, each
//! given what the previous one decided, as MMEngine chains its schedulers.

use anyhow::Result;

use super::phase::StepInfo;

/// A policy for the learning rate and, optionally, the momentum.
pub trait LrPolicy {
    /// Name used in logs and error messages.
    fn name(&self) -> &str;
    /// The learning rate and momentum for the iteration `info` describes,
    /// given the current ones; `None` leaves them as they are.
    ///
    /// # Errors
    /// Whatever the policy reports; the runner names it.
    fn step(&mut self, info: &StepInfo, lr: f64, momentum: Option<f64>) -> Result<Option<(f64, Option<f64>)>>;
    /// The key the policy's state is saved under in checkpoints, if it has state.
    fn state_key(&self) -> Option<&str> {
        None
    }
    /// The policy's state for a checkpoint.
    ///
    /// # Errors
    /// The state cannot be produced.
    fn save_state(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
    /// Restores a state [`Self::save_state`] produced.
    ///
    /// # Errors
    /// The state is not one this policy understands.
    fn load_state(&mut self, _state: &[u8]) -> Result<()> {
        Ok(())
    }
}
