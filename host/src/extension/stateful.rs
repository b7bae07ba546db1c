//! State that extensions keep across a checkpoint: hooks, metrics and
//! learning-rate policies that have some give it to the runner, which stores
//! it in checkpoints under the extension's key (`plugin.<key>`).

use anyhow::Result;

/// An extension whose state checkpoints carry.
pub trait Stateful {
    /// The key the state is saved under, if there is state to save.
    fn state_key(&self) -> Option<&str> {
        None
    }
    /// The state for a checkpoint.
    ///
    /// # Errors
    /// The state cannot be produced.
    fn save_state(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
    /// Restores a state [`Self::save_state`] produced.
    ///
    /// # Errors
    /// The state is not one this extension understands.
    fn load_state(&mut self, _state: &[u8]) -> Result<()> {
        Ok(())
    }
}
