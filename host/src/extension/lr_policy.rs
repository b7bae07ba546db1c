//! Learning-rate policies: asked before training iterations for the learning
//! rate (and momentum) to use, at every iteration or, for a policy `by_epoch`,
//! at the first iteration of each epoch. Several are applied in order, each
//! given what the previous one decided, as MMEngine chains its schedulers.

use anyhow::Result;

use super::hook::HookContext;
use super::phase::StepInfo;
use super::stateful::Stateful;

/// How often a policy is asked: what MMEngine's `by_epoch` tells a scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Before every training iteration.
    Iteration,
    /// Before the first training iteration of each epoch, and before the
    /// first one a run trains (a resume may start inside an epoch).
    Epoch,
}

impl Cadence {
    /// Whether a policy last asked at epoch `last_asked` (`None`: not yet in
    /// this run) is due before the iteration `info` describes.
    pub fn due(self, last_asked: Option<u32>, info: &StepInfo) -> bool {
        match self {
            Cadence::Iteration => true,
            Cadence::Epoch => last_asked != Some(info.epoch),
        }
    }
}

/// A policy for the learning rate and, optionally, the momentum.
pub trait LrPolicy: Stateful {
    /// Name used in logs and error messages.
    fn name(&self) -> &str;
    /// Whether to ask the policy before the iteration `info` describes
    /// (default: always); when it is not due, the learning rate and momentum
    /// stay as they are.
    fn due(&self, info: &StepInfo) -> bool {
        let _ = info;
        true
    }
    /// The learning rate and momentum from the iteration `info` describes
    /// on, given the current ones; `None` leaves them as they are. `ctx`
    /// holds the run's scalars (a plateau policy reads `val/<metric>` there)
    /// and takes the policy's requests, as a hook's does.
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

#[cfg(test)]
mod tests {
    use super::Cadence;
    use crate::extension::{Mode, Phase, StepInfo};

    fn at(epoch: u32, inner_iter: u64) -> StepInfo {
        StepInfo {
            phase: Phase::BeforeTrainIter,
            mode: Mode::Train,
            epoch,
            iter: u64::from(epoch) * 100 + inner_iter,
            inner_iter,
            max_epochs: 10,
            max_iters: 1000,
            rank: 0,
            world_size: 1,
        }
    }

    #[test]
    fn an_epoch_policy_is_due_once_per_epoch_and_first_in_a_run() {
        let epoch = Cadence::Epoch;
        // The first iteration a run trains, even inside an epoch (a resume).
        assert!(epoch.due(None, &at(3, 40)));
        assert!(!epoch.due(Some(3), &at(3, 41)));
        assert!(epoch.due(Some(3), &at(4, 0)));
        assert!(!epoch.due(Some(4), &at(4, 1)));
    }

    #[test]
    fn an_iteration_policy_is_always_due() {
        assert!(Cadence::Iteration.due(Some(3), &at(3, 41)));
        assert!(Cadence::Iteration.due(None, &at(0, 0)));
    }
}
