//!
//! Percentage of samples whose top-scoring class is the target, computed on
//! the host through tensor handles.

use hammer_sdk::{export_metric, Metric, Options, Tensor};

#[derive(Default)]
struct Plugin {
    correct: f64,
    total: f64,
}

impl Metric for Plugin {
    fn setup(&mut self, options: &Options) -> Result<(), String> {
        options.check_known(&[])
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    fn process(&mut self, output: &Tensor, targets: &Tensor, _loss: f64) -> Result<(), String> {
        self.correct += output.argmax(1)?.eq(targets)?.sum();
        self.total += targets.numel() as f64;
        Ok(())
    }

    fn compute(&mut self) -> Result<Vec<(String, f64)>, String> {
        let value = if self.total == 0.0 { 0.0 } else { 100.0 * self.correct / self.total };
        Ok(vec![("my_accuracy".into(), value)])
    }
}

export_metric!(Plugin);
