//! The runner's phases and their WIT twins (`hammer:plugin/types.phase`),
//! and a hook's subscriptions to them.

use anyhow::{bail, Result};

use super::bindings::types::{Phase as WitPhase, Subscription};
use crate::extension::Phase;

/// A hook's subscriptions as the runner keeps them, each phase once with
/// its interval (0 read as 1).
///
/// # Errors
/// A phase twice, or an interval at a phase that happens once per run,
/// pass or checkpoint.
pub fn subscriptions(wit: Vec<Subscription>) -> Result<Vec<(Phase, u32)>> {
    let mut out: Vec<(Phase, u32)> = Vec::with_capacity(wit.len());
    for s in wit {
        let (phase, every) = (from_wit(s.phase), s.every.max(1));
        if out.iter().any(|(p, _)| *p == phase) {
            bail!("it subscribed to `{phase}` twice");
        }
        if every > 1 && !phase.repeats() {
            bail!(
                "it asked for `{phase}` every {every} times, and `{phase}` happens once per run, pass or checkpoint \
                 (an interval applies to the phases of iterations and epochs)"
            );
        }
        out.push((phase, every));
    }
    Ok(out)
}

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
    fn subscriptions_keep_intervals_and_refuse_what_cannot_repeat() {
        let sub = |phase, every| Subscription { phase, every };
        let got = subscriptions(vec![sub(WitPhase::AfterTrainIter, 100), sub(WitPhase::BeforeRun, 0)]).unwrap();
        assert_eq!(got, vec![(Phase::AfterTrainIter, 100), (Phase::BeforeRun, 1)]);
        let e = subscriptions(vec![sub(WitPhase::AfterValEpoch, 2)]).unwrap_err().to_string();
        assert!(e.contains("`after_val_epoch` every 2 times") && e.contains("happens once per run"), "{e}");
        let e = subscriptions(vec![sub(WitPhase::AfterTrainIter, 1), sub(WitPhase::AfterTrainIter, 5)]).unwrap_err().to_string();
        assert!(e.contains("subscribed to `after_train_iter` twice"), "{e}");
    }

    #[test]
    fn every_phase_round_trips() {
        for phase in Phase::ALL {
            assert_eq!(from_wit(to_wit(phase)), phase);
        }
    }
}
