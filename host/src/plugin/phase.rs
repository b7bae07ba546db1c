//! The runner's phases and their WIT twins (`hammer:plugin/types.phase`).

use super::bindings::types::Phase as WitPhase;
use crate::runner::Phase;

/// The WIT phase of a runner phase.
pub fn to_wit(phase: Phase) -> WitPhase {
    match phase {
        Phase::BeforeRun => WitPhase::BeforeRun,
        Phase::AfterRun => WitPhase::AfterRun,
        Phase::BeforeTrain => WitPhase::BeforeTrain,
        Phase::AfterTrain => WitPhase::AfterTrain,
        Phase::BeforeTrainEpoch => WitPhase::BeforeTrainEpoch,
        Phase::AfterTrainEpoch => WitPhase::AfterTrainEpoch,
        Phase::BeforeTrainIter => WitPhase::BeforeTrainIter,
        Phase::AfterTrainIter => WitPhase::AfterTrainIter,
        Phase::BeforeForward => WitPhase::BeforeForward,
        Phase::AfterForward => WitPhase::AfterForward,
        Phase::BeforeBackward => WitPhase::BeforeBackward,
        Phase::AfterBackward => WitPhase::AfterBackward,
        Phase::BeforeOptimizerStep => WitPhase::BeforeOptimizerStep,
        Phase::AfterOptimizerStep => WitPhase::AfterOptimizerStep,
        Phase::BeforeVal => WitPhase::BeforeVal,
        Phase::AfterVal => WitPhase::AfterVal,
        Phase::BeforeValEpoch => WitPhase::BeforeValEpoch,
        Phase::AfterValEpoch => WitPhase::AfterValEpoch,
        Phase::BeforeValIter => WitPhase::BeforeValIter,
        Phase::AfterValIter => WitPhase::AfterValIter,
        Phase::BeforeTest => WitPhase::BeforeTest,
        Phase::AfterTest => WitPhase::AfterTest,
        Phase::BeforeTestEpoch => WitPhase::BeforeTestEpoch,
        Phase::AfterTestEpoch => WitPhase::AfterTestEpoch,
        Phase::BeforeTestIter => WitPhase::BeforeTestIter,
        Phase::AfterTestIter => WitPhase::AfterTestIter,
        Phase::BeforeSaveCheckpoint => WitPhase::BeforeSaveCheckpoint,
        Phase::AfterSaveCheckpoint => WitPhase::AfterSaveCheckpoint,
        Phase::AfterLoadCheckpoint => WitPhase::AfterLoadCheckpoint,
    }
}

/// The runner phase of a WIT phase.
pub fn from_wit(phase: WitPhase) -> Phase {
    match phase {
        WitPhase::BeforeRun => Phase::BeforeRun,
        WitPhase::AfterRun => Phase::AfterRun,
        WitPhase::BeforeTrain => Phase::BeforeTrain,
        WitPhase::AfterTrain => Phase::AfterTrain,
        WitPhase::BeforeTrainEpoch => Phase::BeforeTrainEpoch,
        WitPhase::AfterTrainEpoch => Phase::AfterTrainEpoch,
        WitPhase::BeforeTrainIter => Phase::BeforeTrainIter,
        WitPhase::AfterTrainIter => Phase::AfterTrainIter,
        WitPhase::BeforeForward => Phase::BeforeForward,
        WitPhase::AfterForward => Phase::AfterForward,
        WitPhase::BeforeBackward => Phase::BeforeBackward,
        WitPhase::AfterBackward => Phase::AfterBackward,
        WitPhase::BeforeOptimizerStep => Phase::BeforeOptimizerStep,
        WitPhase::AfterOptimizerStep => Phase::AfterOptimizerStep,
        WitPhase::BeforeVal => Phase::BeforeVal,
        WitPhase::AfterVal => Phase::AfterVal,
        WitPhase::BeforeValEpoch => Phase::BeforeValEpoch,
        WitPhase::AfterValEpoch => Phase::AfterValEpoch,
        WitPhase::BeforeValIter => Phase::BeforeValIter,
        WitPhase::AfterValIter => Phase::AfterValIter,
        WitPhase::BeforeTest => Phase::BeforeTest,
        WitPhase::AfterTest => Phase::AfterTest,
        WitPhase::BeforeTestEpoch => Phase::BeforeTestEpoch,
        WitPhase::AfterTestEpoch => Phase::AfterTestEpoch,
        WitPhase::BeforeTestIter => Phase::BeforeTestIter,
        WitPhase::AfterTestIter => Phase::AfterTestIter,
        WitPhase::BeforeSaveCheckpoint => Phase::BeforeSaveCheckpoint,
        WitPhase::AfterSaveCheckpoint => Phase::AfterSaveCheckpoint,
        WitPhase::AfterLoadCheckpoint => Phase::AfterLoadCheckpoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_round_trips() {
        for phase in Phase::ALL {
            assert_eq!(from_wit(to_wit(phase)), phase);
        }
    }
}
