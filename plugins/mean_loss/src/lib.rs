//! `mean_loss`: the pass's mean loss, each batch's mean loss weighted by its
//! size (`targets.shape()[0]`), so a short last batch counts for what it
//! holds. Result: `loss`. No options.

use hammer_sdk::{export_metric, Metric, Options, Tensor};

/// A weighted running mean.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct WeightedMean {
    sum: f64,
    count: f64,
}

impl WeightedMean {
    /// Adds `value` with weight `n`.
    pub fn add(&mut self, value: f64, n: f64) {
        self.sum += value * n;
        self.count += n;
    }

    /// The mean so far, if anything was added.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }
}

/// The metric.
#[derive(Default)]
pub struct MeanLoss {
    mean: WeightedMean,
}

impl Metric for MeanLoss {
    fn setup(&mut self, options: &Options) -> Result<(), String> {
        options.check_known(&[])
    }

    fn reset(&mut self) {
        self.mean = WeightedMean::default();
    }

    fn process(&mut self, _output: &Tensor, targets: &Tensor, loss: f64) -> Result<(), String> {
        let n = targets.shape().first().copied().unwrap_or(1);
        self.mean.add(loss, n as f64);
        Ok(())
    }

    fn compute(&mut self) -> Result<Vec<(String, f64)>, String> {
        let mean = self.mean.mean().ok_or("mean_loss: no batch was processed in this pass")?;
        Ok(vec![("loss".to_string(), mean)])
    }
}

export_metric!(MeanLoss);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_by_batch_size() {
        let mut m = WeightedMean::default();
        assert_eq!(m.mean(), None);
        m.add(1.0, 64.0);
        m.add(4.0, 16.0);
        assert_eq!(m.mean(), Some((64.0 + 64.0) / 80.0));
    }
}
