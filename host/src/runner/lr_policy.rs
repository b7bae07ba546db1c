//! Learning-rate policies: asked, before every training iteration, for the
//! learning rate (and momentum) to use. Several are applied in order, each
//! given what the previous one decided, as MMEngine chains its schedulers.

use anyhow::Result;

use super::hook::HookContext;
use super::phase::StepInfo;
use super::stateful::Stateful;

/// A policy for the learning rate and, optionally, the momentum.
pub trait LrPolicy: Stateful {
    /// Name used in logs and error messages.
    fn name(&self) -> &str;
    /// The learning rate and momentum for the iteration `info` describes,
    /// given the current ones; `None` leaves them as they are. `ctx` holds
    /// the run's scalars (a plateau policy reads `val/<metric>` there) and
    /// takes the policy's requests, as a hook's does.
    ///
    /// # Errors
    /// Whatever the policy reports; the runner names it.
    fn step(
        &mut self,
        info: &StepInfo,
        lr: f64,
        momentum: Option<f64>,
        ctx: &mut HookContext<'_>,
    ) -> Result<Option<(f64, Option<f64>)>>;
}
