//! What the ranks of a distributed training run agree on between
//! iterations: whether a hook asked to stop, and whether an extension failed
//! on any of them. Every rank must leave the loop at the same point, or the
//! others would wait for it at the next collective; after a failure they
//! save that point together (`Runner::save_after_failure`).

use anyhow::Result;
use tch::Tensor;

use super::{Position, Runner};
use crate::extension::{ExtensionFailure, Mode, Phase};

impl Runner {
    /// Fires a training phase between iterations (an epoch's, or the end of
    /// training), then [`Self::agreed`] on what its plugins did.
    pub(super) fn fire_agreed(&mut self, phase: Phase) -> Result<()> {
        let fired = self.fire(phase, Mode::Train);
        self.agreed(fired)
    }

    /// Between two iterations of a distributed training run, the ranks
    /// agree, as after an iteration, on whether an extension failed on any of
    /// them since the last agreement (`done`, this rank's outcome; all then
    /// save this point) or asked to stop: a rank failing alone would leave
    /// the others waiting for it in the next collective. Elsewhere, `done`.
    pub(super) fn agreed<T>(&mut self, done: Result<T>) -> Result<T> {
        if self.dist.is_none() || self.position == Position::Idle {
            return done;
        }
        match done {
            Ok(value) => self.agree_on_stop(None).map(|()| value),
            // Always an error: the failure, once every rank saved this point.
            Err(e) if ExtensionFailure::is(&e) => self.agree_on_stop(Some(e)).and_then(|()| anyhow::bail!("an extension failed")),
            Err(e) => Err(e),
        }
    }

    /// In a distributed job, whether any rank's hooks asked to stop, or an
    /// extension failed on any rank after this iteration (`failure`, this rank's):
    /// every rank must leave the loop at the same iteration, or the others
    /// would wait for it at the next all-reduce. After a failure, all save
    /// the iteration together and return an error.
    pub(super) fn agree_on_stop(&mut self, failure: Option<anyhow::Error>) -> Result<()> {
        let Some(dist) = &self.dist else { return failure.map_or(Ok(()), Err) };
        // The same decision on every rank (rank-0-only hooks are configured
        // on all of them): a job without hooks has nothing to agree on.
        if self.cfg.plugins.is_empty() && self.hooks.names().is_empty() {
            return failure.map_or(Ok(()), Err);
        }
        let rank = dist.rank();
        let flags = Tensor::from_slice(&[f32::from(u8::from(self.requests.stop.is_some())), f32::from(u8::from(failure.is_some()))]);
        if let Err(e) = dist.group().all_reduce_sum(&[&flags]) {
            // Another rank is gone: this rank's own failure, if any, is the news.
            return Err(failure.unwrap_or_else(|| dist.explain(e)));
        }
        if flags.double_value(&[1]) > 0.0 {
            // Every rank learns what failed where: a launcher shows the
            // error of the first rank to exit and stops the others.
            let own = failure.as_ref().map(|e| format!("{e:#}")).unwrap_or_default();
            let failures = match dist.all_gather_text(&own) {
                Ok(failures) => failures,
                Err(e) => return Err(failure.unwrap_or(e)),
            };
            let first = failures.iter().enumerate().find(|(_, text)| !text.is_empty());
            let reason = first.map_or_else(|| "an extension failed".to_string(), |(r, text)| format!("rank {r}: {text}"));
            self.save_after_failure(first.map_or("extension", |(_, text)| ExtensionFailure::kind_in(text)));
            // Rank 0 has written the checkpoint before any rank leaves.
            if let Some(dist) = &self.dist {
                dist.barrier()?;
            }
            return Err(failure.unwrap_or_else(|| anyhow::anyhow!("{reason}\n(rank {rank} stopped with it)")));
        }
        if self.requests.stop.is_none() && flags.double_value(&[0]) > 0.0 {
            self.requests.stop = Some("another rank's hook asked to stop".into());
        }
        Ok(())
    }
}
