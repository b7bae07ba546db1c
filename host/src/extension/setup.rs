//! Bringing a run's extensions in. The runner builds the model and the
//! optimizer, then hands an [`ExtensionLoader`] what extensions may be set
//! up with (a [`Setup`]); the loader — the plugin host, for `[[plugins]]` —
//! returns the hooks, metrics and learning-rate policies it built. The
//! runner never knows how they were made.

use std::path::Path;

use anyhow::Result;
use tch::Tensor;

use super::{Hook, LrPolicy, Metric};
use crate::data::Shard;
use crate::logging::Logger;

/// The extensions of a run, by kind, in config order.
#[derive(Default)]
pub struct Extensions {
    /// Hooks (the runner orders them by priority).
    pub hooks: Vec<Box<dyn Hook>>,
    /// Metrics, after the built-in ones of `val_evaluator`.
    pub metrics: Vec<Box<dyn Metric>>,
    /// Learning-rate policies, applied in order.
    pub lr_policies: Vec<Box<dyn LrPolicy>>,
}

/// What the optimizer tells learning-rate policies at setup.
#[derive(Debug, Clone, Copy)]
pub struct OptimizerView {
    /// The optimizer's base learning rate.
    pub base_lr: f64,
    /// Its momentum (SGD's, or Adam's beta1), if it has one.
    pub momentum: Option<f64>,
}

/// What extensions are set up with.
#[derive(Debug)]
pub struct Setup<'a> {
    /// The model's parameters, by name (for extensions granted them).
    pub parameters: &'a [(String, Tensor)],
    /// The optimizer's settings.
    pub optimizer: OptimizerView,
    /// The run's logger.
    pub logger: &'a Logger,
    /// The job's work dir, if it has one.
    pub work_dir: Option<&'a Path>,
    /// This process's rank and the job's world size, in a distributed job.
    pub shard: Option<Shard>,
}

/// Builds a run's extensions once its model and optimizer exist.
pub trait ExtensionLoader {
    /// The extensions for the run `setup` describes.
    ///
    /// # Errors
    /// An extension that cannot be found or set up (the error names it).
    fn load(&mut self, setup: &Setup<'_>) -> Result<Extensions>;
}

/// A run with no extensions but those registered on the runner afterwards.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoExtensions;

impl ExtensionLoader for NoExtensions {
    fn load(&mut self, _: &Setup<'_>) -> Result<Extensions> {
        Ok(Extensions::default())
    }
}
