//! Metrics of the validation and test loops (MMEngine's evaluator): each is
//! reset at the start of a loop, fed every batch, and computed at its end.

use anyhow::{bail, Result};
use tch::{Kind, Tensor};

use crate::config::MetricConfig;

/// A metric over one pass of a validation or test loop.
pub trait Metric {
    /// Forgets what the previous pass accumulated.
    fn reset(&mut self);
    /// Accumulates one batch: model `output`, `targets`, and the batch's mean `loss`.
    fn process(&mut self, output: &Tensor, targets: &Tensor, loss: &Tensor);
    /// The metric's values for the pass, by name.
    fn compute(&mut self) -> Vec<(String, f64)>;
}

/// Builds the metrics listed in `val_evaluator`.
///
/// # Errors
/// An unknown metric type.
pub fn build(cfgs: &[MetricConfig]) -> Result<Vec<Box<dyn Metric>>> {
    cfgs.iter()
        .enumerate()
        .map(|(i, cfg)| -> Result<Box<dyn Metric>> {
            Ok(match cfg.kind.as_str() {
                "accuracy" => Box::new(Accuracy::default()),
                "loss" => Box::new(MeanLoss::default()),
                other => bail!("val_evaluator.{i}.type: unknown metric `{other}` (accuracy, loss)"),
            })
        })
        .collect()
}

/// Percentage of samples whose highest-scoring class is the target
/// (MMEngine tutorial's `Accuracy`).
#[derive(Debug, Default)]
pub struct Accuracy {
    correct: i64,
    total: i64,
}

impl Metric for Accuracy {
    fn reset(&mut self) {
        *self = Self::default();
    }
    fn process(&mut self, output: &Tensor, targets: &Tensor, _loss: &Tensor) {
        let pred = output.argmax(1, false);
        self.correct += pred.eq_tensor(targets).sum(Kind::Int64).int64_value(&[]);
        self.total += targets.size()[0];
    }
    fn compute(&mut self) -> Vec<(String, f64)> {
        let acc = if self.total == 0 { 0.0 } else { 100.0 * self.correct as f64 / self.total as f64 };
        vec![("accuracy".into(), acc)]
    }
}

/// Mean loss over all samples of the pass.
#[derive(Debug, Default)]
pub struct MeanLoss {
    sum: f64,
    count: i64,
}

impl Metric for MeanLoss {
    fn reset(&mut self) {
        *self = Self::default();
    }
    fn process(&mut self, _output: &Tensor, targets: &Tensor, loss: &Tensor) {
        let n = targets.size()[0];
        self.sum += loss.double_value(&[]) * n as f64;
        self.count += n;
    }
    fn compute(&mut self) -> Vec<(String, f64)> {
        let mean = if self.count == 0 { f64::NAN } else { self.sum / self.count as f64 };
        vec![("loss".into(), mean)]
    }
}
