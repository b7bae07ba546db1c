//! Hooks: extensions called at the phases of the loop they subscribe to.
//!
//! Hooks are ordered by priority, 0 first and 100 last (MMEngine's `NORMAL`
//! is 50), ties in registration order; the order is the same at every phase.
//! A hook acts on the run only through its [`HookContext`]: it reads scalars,
//! emits new ones and requests a stop or a checkpoint, which the runner
//! carries out at the next safe point (the learning rate is a learning-rate
//! policy's to decide).

use anyhow::Result;

use super::phase::{Phase, StepInfo};
use super::scalars::Scalars;
use super::stateful::Stateful;

/// Priority of a hook that does not say otherwise (MMEngine's `NORMAL`).
pub const NORMAL_PRIORITY: u32 = 50;

/// An extension called at the phases it subscribes to.
pub trait Hook: Stateful {
    /// Name used in logs and error messages.
    fn name(&self) -> &str;
    /// 0 (first) to 100 (last).
    fn priority(&self) -> u32 {
        NORMAL_PRIORITY
    }
    /// Whether the hook wants to be called at `phase`; asked once, at
    /// registration.
    fn subscribes(&self, phase: Phase) -> bool;
    /// Whether the hook wants this call of a phase it subscribes to (a hook
    /// called only every so often says no in between); by default, yes.
    fn due(&self, info: &StepInfo) -> bool {
        let _ = info;
        true
    }
    /// Called at each subscribed phase.
    ///
    /// # Errors
    /// Whatever the hook reports; the runner names the hook and the phase
    /// (an [`super::ExtensionFailure`] already does).
    fn call(&mut self, info: &StepInfo, ctx: &mut HookContext<'_>) -> Result<()>;
}

/// What a hook may see and ask of the runner during one call.
#[derive(Debug)]
pub struct HookContext<'a> {
    /// Current scalars (loss, lr, timings, metrics) and those hooks emit.
    pub scalars: &'a mut Scalars,
    /// Requests carried out by the runner after the phase.
    pub requests: &'a mut Requests,
}

/// Requests hooks make of the runner.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Requests {
    /// Stop training after the current iteration, with a reason.
    pub stop: Option<String>,
    /// Save a checkpoint after the current iteration or epoch, with a tag.
    pub checkpoint: Option<String>,
}
