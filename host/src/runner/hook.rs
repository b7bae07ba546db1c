//! Hooks: extensions called at the phases of the loop they subscribe to.
//!
//! Hooks are ordered by priority, 0 first and 100 last (MMEngine's `NORMAL`
//! is 50), ties in registration order; the order is the same at every phase.
//! A hook acts on the run only through its [`HookContext`]: it reads scalars,
//! emits new ones and requests a stop or a checkpoint, which the runner
//! carries out at the next safe point (the learning rate is a learning-rate
//! policy's to decide).

use std::time::Instant;

use anyhow::Result;

use super::phase::{Phase, StepInfo};
use super::scalars::Scalars;
use super::stateful::Stateful;
use super::timings::Tally;

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
    /// Whatever the hook reports; the runner names the hook and the phase.
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

/// The registered hooks, and for each phase the ones subscribed to it.
#[derive(Default)]
pub struct HookSet {
    hooks: Vec<Box<dyn Hook>>,
    subscribed: Vec<Vec<usize>>,
    /// Calls and time of each hook, parallel to `hooks`.
    tallies: Vec<Tally>,
}

impl std::fmt::Debug for HookSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.hooks.iter().map(|h| (h.name(), h.priority()))).finish()
    }
}

impl HookSet {
    /// Adds `hook`, keeping the set ordered by priority (stable for ties).
    pub fn register(&mut self, hook: Box<dyn Hook>) {
        let at = self.hooks.partition_point(|h| h.priority() <= hook.priority());
        self.hooks.insert(at, hook);
        self.tallies.insert(at, Tally::default());
        self.subscribed = Phase::ALL
            .iter()
            .map(|&p| (0..self.hooks.len()).filter(|&i| self.hooks[i].subscribes(p)).collect())
            .collect();
    }

    /// Names of the hooks in calling order.
    pub fn names(&self) -> Vec<&str> {
        self.hooks.iter().map(|h| h.name()).collect()
    }

    /// The hooks, in calling order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn Hook>> {
        self.hooks.iter_mut()
    }

    /// Each hook's name with its calls and time, in calling order.
    pub fn tallies(&self) -> impl Iterator<Item = (&str, Tally)> {
        self.hooks.iter().map(|h| h.name()).zip(self.tallies.iter().copied())
    }

    /// Whether any hook subscribes to `phase`.
    pub fn wants(&self, phase: Phase) -> bool {
        self.subscribed.get(phase as usize).is_some_and(|s| !s.is_empty())
    }

    /// Calls every hook subscribed to `info.phase`, in order.
    ///
    /// # Errors
    /// The first hook error, naming the hook and the phase.
    pub fn fire(&mut self, info: &StepInfo, ctx: &mut HookContext<'_>) -> Result<()> {
        let Some(list) = self.subscribed.get(info.phase as usize) else { return Ok(()) };
        for &i in list {
            let hook = &mut self.hooks[i];
            if !hook.due(info) {
                continue;
            }
            let started = Instant::now();
            let result = hook.call(info, ctx);
            self.tallies[i].add(started.elapsed());
            result.map_err(|e| {
                // A plugin's failure already names the plugin and the phase.
                if crate::plugin::PluginFailure::is(&e) {
                    e
                } else {
                    e.context(format!("hook `{}` failed at phase `{}`", hook.name(), info.phase))
                }
            })?;
        }
        Ok(())
    }
}
