//! Data sets and the loader that batches them on a background thread.
//!
//! A [`Dataset`] holds its samples as two tensors (inputs and targets); the
//! [`DataLoader`] draws one seeded permutation per epoch (MMEngine's
//! `DefaultSampler`: seed + epoch) and assembles batches ahead of the training
//! step, so the step never waits on the data it could have had.

mod loader;
mod rings;

pub use loader::{Batch, DataLoader, EpochBatches};
pub use rings::two_rings;

use anyhow::{bail, Result};
use tch::Tensor;

use crate::config::DatasetConfig;

/// Samples held in memory: `inputs[i]` goes with `targets[i]`.
#[derive(Debug)]
pub struct Dataset {
    /// One row per sample.
    pub inputs: Tensor,
    /// One label (class index) per sample.
    pub targets: Tensor,
}

impl Dataset {
    /// Builds the data set described by `cfg` (key path `section` for errors).
    ///
    /// Generating a synthetic data set reseeds libtorch's generator; seed it
    /// again afterwards for anything that must not depend on the data.
    ///
    /// # Errors
    /// An unknown data set type.
    pub fn build(cfg: &DatasetConfig, section: &str) -> Result<Self> {
        match cfg.kind.as_str() {
            "two_rings" => Ok(two_rings(cfg.size, cfg.seed)),
            other => bail!("{section}.dataset.type: unknown data set `{other}` (available: two_rings)"),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.inputs.size()[0] as usize
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
