//! ResNet-18/34/50 in torchvision's layout: every parameter and buffer has
//! torchvision's name and shape (`conv1.weight`, `bn1.running_mean`,
//! `layer2.0.downsample.0.weight`, `fc.bias`, ...), so a torchvision
//! `state_dict` saved as safetensors loads by name, and hammer's weights
//! load strict into `torchvision.models.resnet18()`.
//!
//! `BasicBlock` (two 3×3 convs) for 18 and 34, `Bottleneck` (1×1, 3×3, 1×1
//! with the stride on the 3×3, torchvision's "v1.5") for 50. With
//! `cifar_stem = true`, `conv1` is a 3×3 stride-1 conv and there is no max
//! pool, for 32×32 inputs (torchvision: `model.conv1 = nn.Conv2d(3, 64, 3,
//! 1, 1, bias=False); model.maxpool = nn.Identity()`).

use anyhow::{bail, Result};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

use super::layers::{batch_norm2d, conv2d_no_bias, linear, BatchNorm};
use crate::config::ModelConfig;

/// One residual block: `BasicBlock` (no `conv3`) or `Bottleneck`.
#[derive(Debug)]
struct Block {
    conv1: nn::Conv2D,
    bn1: BatchNorm,
    conv2: nn::Conv2D,
    bn2: BatchNorm,
    conv3: Option<(nn::Conv2D, BatchNorm)>,
    downsample: Option<(nn::Conv2D, BatchNorm)>,
}

impl Block {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let identity = match &self.downsample {
            Some((conv, bn)) => bn.forward_t(&conv.forward(x), train),
            None => x.shallow_clone(),
        };
        let mut out = self.bn1.forward_t(&self.conv1.forward(x), train).relu();
        out = self.bn2.forward_t(&self.conv2.forward(&out), train);
        if let Some((conv3, bn3)) = &self.conv3 {
            out = bn3.forward_t(&conv3.forward(&out.relu()), train);
        }
        (out + identity).relu()
    }
}

/// The whole network.
#[derive(Debug)]
pub(crate) struct ResNet {
    conv1: nn::Conv2D,
    bn1: BatchNorm,
    maxpool: bool,
    layers: Vec<Vec<Block>>,
    fc: nn::Linear,
}

/// Blocks per stage and whether they are bottlenecks, by depth.
fn plan(depth: u32) -> Result<([usize; 4], bool)> {
    Ok(match depth {
        18 => ([2, 2, 2, 2], false),
        34 => ([3, 4, 6, 3], false),
        50 => ([3, 4, 6, 3], true),
        other => bail!("model.type: no ResNet of depth {other} (resnet18, resnet34, resnet50)"),
    })
}

/// Builds ResNet-`depth` for `in_channels`-channel images and `num_classes` outputs.
pub(crate) fn resnet(root: &nn::Path, cfg: &ModelConfig, depth: u32) -> Result<ResNet> {
    let (blocks, bottleneck) = plan(depth)?;
    let expansion = if bottleneck { 4 } else { 1 };
    let (k, stride, pad) = if cfg.cifar_stem { (3, 1, 1) } else { (7, 2, 3) };
    let conv1 = conv2d_no_bias(&(root / "conv1"), cfg.in_channels, 64, k, stride, pad);
    let bn1 = batch_norm2d(&(root / "bn1"), 64);
    let mut inplanes = 64;
    let mut layers = Vec::new();
    for (stage, (&n, planes)) in blocks.iter().zip([64, 128, 256, 512]).enumerate() {
        let layer = root / format!("layer{}", stage + 1);
        let mut stage_blocks = Vec::new();
        for i in 0..n {
            let p = &layer / i;
            let stride = if i == 0 && stage > 0 { 2 } else { 1 };
            let out = planes * expansion;
            let downsample = (stride != 1 || inplanes != out).then(|| {
                let d = &p / "downsample";
                (conv2d_no_bias(&(&d / 0), inplanes, out, 1, stride, 0), batch_norm2d(&(&d / 1), out))
            });
            let block = if bottleneck {
                Block {
                    conv1: conv2d_no_bias(&(&p / "conv1"), inplanes, planes, 1, 1, 0),
                    bn1: batch_norm2d(&(&p / "bn1"), planes),
                    conv2: conv2d_no_bias(&(&p / "conv2"), planes, planes, 3, stride, 1),
                    bn2: batch_norm2d(&(&p / "bn2"), planes),
                    conv3: Some((conv2d_no_bias(&(&p / "conv3"), planes, out, 1, 1, 0), batch_norm2d(&(&p / "bn3"), out))),
                    downsample,
                }
            } else {
                Block {
                    conv1: conv2d_no_bias(&(&p / "conv1"), inplanes, planes, 3, stride, 1),
                    bn1: batch_norm2d(&(&p / "bn1"), planes),
                    conv2: conv2d_no_bias(&(&p / "conv2"), planes, planes, 3, 1, 1),
                    bn2: batch_norm2d(&(&p / "bn2"), planes),
                    conv3: None,
                    downsample,
                }
            };
            stage_blocks.push(block);
            inplanes = out;
        }
        layers.push(stage_blocks);
    }
    let fc = linear(&(root / "fc"), 512 * expansion, cfg.num_classes);
    Ok(ResNet { conv1, bn1, maxpool: !cfg.cifar_stem, layers, fc })
}

impl ModuleT for ResNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = self.bn1.forward_t(&self.conv1.forward(xs), train).relu();
        if self.maxpool {
            x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        }
        for layer in &self.layers {
            for block in layer {
                x = block.forward_t(&x, train);
            }
        }
        self.fc.forward(&x.adaptive_avg_pool2d([1, 1]).flatten(1, -1))
    }
}
