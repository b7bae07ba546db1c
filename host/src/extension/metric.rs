//! Metrics of the validation and test loops (MMEngine's evaluator): each is
//! reset at the start of a loop, fed every batch, and computed at its end.

use anyhow::Result;
use tch::Tensor;

use super::hook::HookContext;
use super::stateful::Stateful;

/// A metric over one pass of a validation or test loop.
///
/// Methods are fallible because a metric may be a plugin; a built-in never fails.
pub trait Metric: Stateful {
    /// Name used in logs and the end-of-run summary.
    fn name(&self) -> &str;
    /// Forgets what the previous pass accumulated. `ctx`, here and below,
    /// holds the run's scalars and takes the metric's requests, as a hook's.
    ///
    /// # Errors
    /// The metric failed (a plugin's error, named).
    fn reset(&mut self, ctx: &mut HookContext<'_>) -> Result<()>;
    /// Accumulates one batch: model `output`, `targets`, and the batch's mean `loss`.
    ///
    /// # Errors
    /// As [`Self::reset`].
    fn process(&mut self, output: &Tensor, targets: &Tensor, loss: &Tensor, ctx: &mut HookContext<'_>) -> Result<()>;
    /// The metric's values for the pass, by name.
    ///
    /// # Errors
    /// As [`Self::reset`].
    fn compute(&mut self, ctx: &mut HookContext<'_>) -> Result<Vec<(String, f64)>>;
}
