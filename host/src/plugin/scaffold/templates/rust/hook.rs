//!
//! Logs the loss every `every` training iterations (default 100).

use hammer_sdk::{export_hook, Hook, Options, Phase, StepInfo, Subscription};

#[derive(Default)]
struct Plugin;

impl Hook for Plugin {
    fn setup(&mut self, options: &Options) -> Result<Vec<Subscription>, String> {
        options.check_known(&["every"])?;
        let every = u32::try_from(options.get_u64("every", 100)?).map_err(|_| "option `every` is too large")?;
        // Called after iterations every, 2 × every, ... only (MMEngine's every_n_train_iters).
        Ok(vec![Subscription::every(Phase::AfterTrainIter, every)])
    }

    fn on_phase(&mut self, info: &StepInfo) -> Result<(), String> {
        if let Some(loss) = hammer_sdk::scalar("loss") {
            hammer_sdk::info(&format!("iteration {}: loss {loss:.4}", info.iter + 1));
        }
        Ok(())
    }
}

export_hook!(Plugin);
