//! A LeNet-5-style CNN, named as PyTorch's tutorial network: `conv1` (5×5,
//! 6 channels), ReLU, 2×2 max pool, `conv2` (5×5, 16), ReLU, 2×2 max pool,
//! then `fc1` (120), `fc2` (84) and `fc3` (`num_classes`).

use anyhow::{bail, Result};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

use super::layers::{conv2d_default, linear};
use crate::config::ModelConfig;

/// The network; `image_size` fixes the width of `fc1`.
#[derive(Debug)]
pub(crate) struct LeNet {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
    fc3: nn::Linear,
}

/// Builds LeNet for `in_channels` × `image_size` × `image_size` inputs.
pub(crate) fn lenet(root: &nn::Path, cfg: &ModelConfig) -> Result<LeNet> {
    // 5×5 conv, 2×2 pool, 5×5 conv, 2×2 pool: 32 → 28 → 14 → 10 → 5.
    let side = ((cfg.image_size - 4) / 2 - 4) / 2;
    if side < 1 {
        bail!("model.image_size: LeNet needs images of at least 12×12, found {}", cfg.image_size);
    }
    Ok(LeNet {
        conv1: conv2d_default(&(root / "conv1"), cfg.in_channels, 6, 5),
        conv2: conv2d_default(&(root / "conv2"), 6, 16, 5),
        fc1: linear(&(root / "fc1"), 16 * side * side, 120),
        fc2: linear(&(root / "fc2"), 120, 84),
        fc3: linear(&(root / "fc3"), 84, cfg.num_classes),
    })
}

impl ModuleT for LeNet {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let x = self.conv1.forward(xs).relu().max_pool2d_default(2);
        let x = self.conv2.forward(&x).relu().max_pool2d_default(2);
        let x = x.flatten(1, -1);
        let x = self.fc1.forward(&x).relu();
        let x = self.fc2.forward(&x).relu();
        self.fc3.forward(&x)
    }
}
