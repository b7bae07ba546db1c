//! The phases of the loop at which hooks are called, and what they are told.
//!
//! The order is fixed. One training iteration fires
//! `before_train_iter → before_forward → after_forward → before_backward →
//! after_backward → [before_optimizer_step → after_optimizer_step] →
//! after_train_iter` (the optimizer phases only on iterations that step, see
//! gradient accumulation). A whole epoch-based run fires:
//!
//! ```text
//! before_run
//!   [after_load_checkpoint]                    (when resuming or loading)
//!   before_train
//!     before_train_epoch
//!       (one training iteration, as above) × iterations
//!     after_train_epoch
//!     [before_save_checkpoint → after_save_checkpoint]
//!     [before_val → before_val_epoch →
//!        (before_val_iter → after_val_iter) × iterations →
//!      after_val_epoch → after_val]
//!     ... for each epoch
//!   after_train
//! after_run
//! ```
//!
//! An iteration-based run has the same phases; checkpoints and validation
//! follow the iteration that reaches their interval. `hammer test` fires
//! `before_test → before_test_epoch → (before_test_iter → after_test_iter)* →
//! after_test_epoch → after_test` inside `before_run`/`after_run`.

use serde::Serialize;

/// A named point of the loop. The names are MMEngine's hook methods, plus
/// HAT's finer points inside a training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs, reason = "each variant is its own name")]
pub enum Phase {
    BeforeRun,
    AfterRun,
    BeforeTrain,
    AfterTrain,
    BeforeTrainEpoch,
    AfterTrainEpoch,
    BeforeTrainIter,
    AfterTrainIter,
    BeforeForward,
    AfterForward,
    BeforeBackward,
    AfterBackward,
    BeforeOptimizerStep,
    AfterOptimizerStep,
    BeforeVal,
    AfterVal,
    BeforeValEpoch,
    AfterValEpoch,
    BeforeValIter,
    AfterValIter,
    BeforeTest,
    AfterTest,
    BeforeTestEpoch,
    AfterTestEpoch,
    BeforeTestIter,
    AfterTestIter,
    BeforeSaveCheckpoint,
    AfterSaveCheckpoint,
    AfterLoadCheckpoint,
}

impl Phase {
    /// Whether the phase fires more than once per run, pass or checkpoint, so
    /// that a hook may ask for it only every so often ([`StepInfo::occurrence`]).
    pub fn repeats(self) -> bool {
        StepInfo { phase: self, ..StepInfo::before_run(0, 1) }.occurrence().is_some()
    }

    /// Every phase, in declaration order.
    pub const ALL: [Phase; 29] = [
        Phase::BeforeRun,
        Phase::AfterRun,
        Phase::BeforeTrain,
        Phase::AfterTrain,
        Phase::BeforeTrainEpoch,
        Phase::AfterTrainEpoch,
        Phase::BeforeTrainIter,
        Phase::AfterTrainIter,
        Phase::BeforeForward,
        Phase::AfterForward,
        Phase::BeforeBackward,
        Phase::AfterBackward,
        Phase::BeforeOptimizerStep,
        Phase::AfterOptimizerStep,
        Phase::BeforeVal,
        Phase::AfterVal,
        Phase::BeforeValEpoch,
        Phase::AfterValEpoch,
        Phase::BeforeValIter,
        Phase::AfterValIter,
        Phase::BeforeTest,
        Phase::AfterTest,
        Phase::BeforeTestEpoch,
        Phase::AfterTestEpoch,
        Phase::BeforeTestIter,
        Phase::AfterTestIter,
        Phase::BeforeSaveCheckpoint,
        Phase::AfterSaveCheckpoint,
        Phase::AfterLoadCheckpoint,
    ];

    /// The phase's name as written in configs and logs (`before_train_iter`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::BeforeRun => "before_run",
            Phase::AfterRun => "after_run",
            Phase::BeforeTrain => "before_train",
            Phase::AfterTrain => "after_train",
            Phase::BeforeTrainEpoch => "before_train_epoch",
            Phase::AfterTrainEpoch => "after_train_epoch",
            Phase::BeforeTrainIter => "before_train_iter",
            Phase::AfterTrainIter => "after_train_iter",
            Phase::BeforeForward => "before_forward",
            Phase::AfterForward => "after_forward",
            Phase::BeforeBackward => "before_backward",
            Phase::AfterBackward => "after_backward",
            Phase::BeforeOptimizerStep => "before_optimizer_step",
            Phase::AfterOptimizerStep => "after_optimizer_step",
            Phase::BeforeVal => "before_val",
            Phase::AfterVal => "after_val",
            Phase::BeforeValEpoch => "before_val_epoch",
            Phase::AfterValEpoch => "after_val_epoch",
            Phase::BeforeValIter => "before_val_iter",
            Phase::AfterValIter => "after_val_iter",
            Phase::BeforeTest => "before_test",
            Phase::AfterTest => "after_test",
            Phase::BeforeTestEpoch => "before_test_epoch",
            Phase::AfterTestEpoch => "after_test_epoch",
            Phase::BeforeTestIter => "before_test_iter",
            Phase::AfterTestIter => "after_test_iter",
            Phase::BeforeSaveCheckpoint => "before_save_checkpoint",
            Phase::AfterSaveCheckpoint => "after_save_checkpoint",
            Phase::AfterLoadCheckpoint => "after_load_checkpoint",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which loop is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The training loop.
    Train,
    /// The validation loop.
    Val,
    /// The test loop.
    Test,
}

impl Mode {
    /// `train`, `val` or `test`, as in log lines (`Epoch(val)`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Train => "train",
            Mode::Val => "val",
            Mode::Test => "test",
        }
    }
}

/// Where the loop is when a phase fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StepInfo {
    /// The phase being fired.
    pub phase: Phase,
    /// The loop running.
    pub mode: Mode,
    /// Training epochs completed before the current one (0-based, as MMEngine's
    /// `runner.epoch`).
    pub epoch: u32,
    /// Training iterations completed before the current one (0-based, as
    /// MMEngine's `runner.iter`).
    pub iter: u64,
    /// Index of the current batch within its epoch (0-based).
    pub inner_iter: u64,
    /// Length of training in epochs (epoch-based runs; else derived from iterations).
    pub max_epochs: u32,
    /// Length of training in iterations.
    pub max_iters: u64,
    /// This process's rank in a distributed job (0 alone).
    pub rank: u32,
    /// Number of processes in the job (1 alone).
    pub world_size: u32,
}

impl StepInfo {
    /// Which occurrence of its phase this is, as an interval (a hook's
    /// `every`) counts them: the training iteration (1-based) at the phases
    /// of a training iteration, the epoch (1-based) at `before_train_epoch`
    /// and `after_train_epoch`, the batch of the pass (1-based) at the phases
    /// of a validation or test iteration (MMEngine's `every_n_train_iters`,
    /// `every_n_epochs`, `every_n_inner_iters`); `None` at the phases that
    /// happen once per run, pass or checkpoint.
    pub fn occurrence(&self) -> Option<u64> {
        match self.phase {
            Phase::BeforeTrainIter
            | Phase::AfterTrainIter
            | Phase::BeforeForward
            | Phase::AfterForward
            | Phase::BeforeBackward
            | Phase::AfterBackward
            | Phase::BeforeOptimizerStep
            | Phase::AfterOptimizerStep => Some(self.iter + 1),
            Phase::BeforeTrainEpoch => Some(u64::from(self.epoch) + 1),
            // A complete epoch has been counted by then; an iteration-based
            // run can end inside one.
            Phase::AfterTrainEpoch => Some(u64::from(self.epoch) + u64::from(self.inner_iter > 0)),
            Phase::BeforeValIter | Phase::AfterValIter | Phase::BeforeTestIter | Phase::AfterTestIter => {
                Some(self.inner_iter + 1)
            }
            _ => None,
        }
    }

    /// Where the loop is before a run starts, on `rank` of `world_size`
    /// processes: what plugins see while they set up.
    pub fn before_run(rank: u32, world_size: u32) -> Self {
        Self {
            phase: Phase::BeforeRun,
            mode: Mode::Train,
            epoch: 0,
            iter: 0,
            inner_iter: 0,
            max_epochs: 0,
            max_iters: 0,
            rank,
            world_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(phase: Phase, epoch: u32, iter: u64, inner_iter: u64) -> StepInfo {
        StepInfo { phase, epoch, iter, inner_iter, ..StepInfo::before_run(0, 1) }
    }

    #[test]
    fn occurrences_count_iterations_epochs_and_batches_from_one() {
        // The 100th training iteration (0-based index 99), in epoch 3 of 40 iterations.
        assert_eq!(at(Phase::AfterTrainIter, 2, 99, 19).occurrence(), Some(100));
        assert_eq!(at(Phase::BeforeForward, 2, 99, 19).occurrence(), Some(100));
        // Epoch 3 starts with 2 completed, and has been counted when it ends.
        assert_eq!(at(Phase::BeforeTrainEpoch, 2, 80, 0).occurrence(), Some(3));
        assert_eq!(at(Phase::AfterTrainEpoch, 3, 120, 0).occurrence(), Some(3));
        // An iteration-based run ending inside epoch 4.
        assert_eq!(at(Phase::AfterTrainEpoch, 3, 130, 10).occurrence(), Some(4));
        // The 5th validation batch.
        assert_eq!(at(Phase::AfterValIter, 3, 120, 4).occurrence(), Some(5));
        assert_eq!(at(Phase::BeforeRun, 0, 0, 0).occurrence(), None);
        assert_eq!(at(Phase::AfterValEpoch, 3, 120, 0).occurrence(), None);
    }

    #[test]
    fn only_iteration_and_epoch_phases_repeat() {
        let repeating: Vec<&str> = Phase::ALL.iter().filter(|p| p.repeats()).map(|p| p.name()).collect();
        assert_eq!(
            repeating,
            [
                "before_train_epoch",
                "after_train_epoch",
                "before_train_iter",
                "after_train_iter",
                "before_forward",
                "after_forward",
                "before_backward",
                "after_backward",
                "before_optimizer_step",
                "after_optimizer_step",
                "before_val_iter",
                "after_val_iter",
                "before_test_iter",
                "after_test_iter",
            ]
        );
    }
}
