//! The hooks of a run, ordered by priority (0 first, 100 last, ties in
//! registration order, the same order at every phase), and the dispatch of
//! a phase to those subscribed to it. A hook's error leaves as an
//! [`ExtensionFailure`] naming the hook and the phase.

use std::time::Instant;

use anyhow::Result;

use super::timings::Timings;
use crate::extension::{ExtensionFailure, Hook, HookContext, Phase, StepInfo};

/// The registered hooks, and for each phase the ones subscribed to it.
#[derive(Default)]
pub struct HookSet {
    hooks: Vec<Box<dyn Hook>>,
    subscribed: Vec<Vec<usize>>,
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

    /// Whether any hook subscribes to `phase`.
    pub fn wants(&self, phase: Phase) -> bool {
        self.subscribed.get(phase as usize).is_some_and(|s| !s.is_empty())
    }

    /// Calls every hook subscribed to `info.phase`, in order, adding each
    /// call's time to the hook's line of `timings`.
    ///
    /// # Errors
    /// The first hook error, as an [`ExtensionFailure`] naming the hook and the phase.
    pub fn fire(&mut self, info: &StepInfo, ctx: &mut HookContext<'_>, timings: &mut Timings) -> Result<()> {
        let Some(list) = self.subscribed.get(info.phase as usize) else { return Ok(()) };
        for &i in list {
            let hook = &mut self.hooks[i];
            if !hook.due(info) {
                continue;
            }
            let started = Instant::now();
            let result = hook.call(info, ctx);
            timings.extension(hook.name(), "hook", started.elapsed());
            result.map_err(|e| ExtensionFailure::wrap(e, "hook", hook.name(), info.phase.name()))?;
        }
        Ok(())
    }
}
