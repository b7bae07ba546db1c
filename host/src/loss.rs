//! Loss functions of the model's output against the targets.

use anyhow::{bail, Result};
use tch::{Reduction, Tensor};

/// The label cross-entropy leaves out (PyTorch's `ignore_index` default).
pub const IGNORE_INDEX: i64 = -100;

/// A loss, built by name from the `loss` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy against class indices (`F.cross_entropy`).
    CrossEntropy,
    /// Mean squared error against one-hot encoded class indices.
    Mse,
}

impl Loss {
    /// The loss named `name`.
    ///
    /// # Errors
    /// An unknown name.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "cross_entropy" => Loss::CrossEntropy,
            "mse" => Loss::Mse,
            other => bail!("loss.type: unknown loss `{other}` (cross_entropy, mse)"),
        })
    }

    /// The mean loss of a batch.
    pub fn compute(self, output: &Tensor, targets: &Tensor) -> Tensor {
        match self {
            Loss::CrossEntropy => output.cross_entropy_loss::<Tensor>(targets, None, Reduction::Mean, IGNORE_INDEX, 0.0),
            Loss::Mse => {
                let width = output.size()[1];
                let onehot = targets.onehot(width).to_kind(output.kind());
                output.mse_loss(&onehot, Reduction::Mean)
            }
        }
    }
}

#[test]
fn cross_entropy_of_a_confident_right_answer_is_small() {
    let out = Tensor::from_slice(&[10.0f32, -10.0, -10.0, 10.0]).view([2, 2]);
    let tgt = Tensor::from_slice(&[0i64, 1]);
    assert!(Loss::CrossEntropy.compute(&out, &tgt).double_value(&[]) < 1e-6);
    assert!(Loss::Mse.compute(&out, &tgt).double_value(&[]) > 1.0);
    assert!(Loss::from_name("hinge").is_err());
}
