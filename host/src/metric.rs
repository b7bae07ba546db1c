//! The built-in metrics of the validation and test loops (`val_evaluator`):
//! accuracy and mean loss, behind the [`Metric`] trait every metric shares.

use anyhow::{bail, Result};
use tch::{Kind, Tensor};

use crate::config::MetricConfig;
use crate::extension::{HookContext, Metric, Stateful};

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

impl Stateful for Accuracy {}

impl Metric for Accuracy {
    fn name(&self) -> &str {
        "accuracy (built-in)"
    }
    fn reset(&mut self, _: &mut HookContext<'_>) -> Result<()> {
        *self = Self::default();
        Ok(())
    }
    fn process(&mut self, output: &Tensor, targets: &Tensor, _loss: &Tensor, _: &mut HookContext<'_>) -> Result<()> {
        let pred = output.argmax(1, false);
        self.correct += pred.eq_tensor(targets).sum(Kind::Int64).int64_value(&[]);
        self.total += targets.size()[0];
        Ok(())
    }
    fn compute(&mut self, _: &mut HookContext<'_>) -> Result<Vec<(String, f64)>> {
        let acc = if self.total == 0 { 0.0 } else { 100.0 * self.correct as f64 / self.total as f64 };
        Ok(vec![("accuracy".into(), acc)])
    }
}

/// Mean loss over all samples of the pass.
#[derive(Debug, Default)]
pub struct MeanLoss {
    sum: f64,
    count: i64,
}

impl Stateful for MeanLoss {}

impl Metric for MeanLoss {
    fn name(&self) -> &str {
        "loss (built-in)"
    }
    fn reset(&mut self, _: &mut HookContext<'_>) -> Result<()> {
        *self = Self::default();
        Ok(())
    }
    fn process(&mut self, _output: &Tensor, targets: &Tensor, loss: &Tensor, _: &mut HookContext<'_>) -> Result<()> {
        let n = targets.size()[0];
        self.sum += loss.double_value(&[]) * n as f64;
        self.count += n;
        Ok(())
    }
    fn compute(&mut self, _: &mut HookContext<'_>) -> Result<Vec<(String, f64)>> {
        let mean = if self.count == 0 { f64::NAN } else { self.sum / self.count as f64 };
        Ok(vec![("loss".into(), mean)])
    }
}
