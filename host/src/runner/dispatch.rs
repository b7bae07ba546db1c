//! Calling extensions: the hooks subscribed to a phase, the learning-rate
//! policies before a training iteration, and the [`StepInfo`] they are told.
//! Every loop (training, validation, test), checkpointing and the
//! distributed agreement dispatch through here.

use std::time::Instant;

use anyhow::Result;

use super::Runner;
use crate::extension::{ExtensionFailure, HookContext, Mode, Phase, StepInfo};

impl Runner {
    /// Asks the learning-rate policies due at this iteration, in order, for
    /// its learning rate and momentum, each given what the previous decided.
    pub(super) fn apply_lr_policies(&mut self) -> Result<()> {
        if self.lr_policies.is_empty() {
            return Ok(());
        }
        let info = self.step_info(Phase::BeforeTrainIter, Mode::Train);
        let (mut lr, mut momentum) = (self.optimizer.lr(), self.optimizer.momentum());
        let mut decided = false;
        for policy in &mut self.lr_policies {
            if !policy.due(&info) {
                continue;
            }
            let started = Instant::now();
            let mut ctx = HookContext { scalars: &mut self.scalars, requests: &mut self.requests };
            let decision = policy
                .step(&info, lr, momentum, &mut ctx)
                .map_err(|e| ExtensionFailure::wrap(e, "learning-rate policy", policy.name(), info.phase.name()))?;
            self.timings.extension(policy.name(), "lr-policy", started.elapsed());
            if let Some((new_lr, new_momentum)) = decision {
                lr = new_lr;
                momentum = new_momentum.or(momentum);
                decided = true;
            }
        }
        // Between the asks of policies by epoch, nothing changes.
        if !decided {
            return Ok(());
        }
        self.optimizer.set_lr(lr);
        if let Some(m) = momentum {
            self.optimizer.set_momentum(m);
        }
        Ok(())
    }

    /// Calls the hooks subscribed to `phase`.
    pub(super) fn fire(&mut self, phase: Phase, mode: Mode) -> Result<()> {
        if !self.hooks.wants(phase) {
            return Ok(());
        }
        let info = self.step_info(phase, mode);
        let mut ctx = HookContext { scalars: &mut self.scalars, requests: &mut self.requests };
        let started = Instant::now();
        let fired = self.hooks.fire(&info, &mut ctx, &mut self.timings);
        self.timings.phase(phase.name(), started.elapsed());
        fired
    }

    /// Where the loop is, for hooks and policies.
    pub(super) fn step_info(&self, phase: Phase, mode: Mode) -> StepInfo {
        let len = self.train_loader.as_ref().map_or(1, |l| l.len().max(1) as u64);
        let max_iters = self.max_iters(len);
        StepInfo {
            phase,
            mode,
            epoch: self.state.epoch,
            iter: self.state.iter,
            inner_iter: if mode == Mode::Train { self.state.inner_iter } else { self.eval_batch },
            max_epochs: if self.schedule.by_epoch {
                self.schedule.max_units as u32
            } else {
                max_iters.div_ceil(len) as u32
            },
            max_iters,
            rank: self.dist.as_ref().map_or(0, |d| d.rank() as u32),
            world_size: self.dist.as_ref().map_or(1, |d| d.world_size() as u32),
        }
    }
}
