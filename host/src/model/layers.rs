//! Building blocks shared by the zoo: `Linear`, `Conv2d` and `BatchNorm2d`
//! initialised and named as PyTorch's modules are.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

/// A `Linear` layer initialised as PyTorch's `nn.Linear`: weight first, then
/// bias, both uniform in ±1/√fan_in, so the same seed draws the same weights.
pub(crate) fn linear(path: &nn::Path, fan_in: i64, fan_out: i64) -> nn::Linear {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let init = nn::Init::Uniform { lo: -bound, up: bound };
    let ws = path.var("weight", &[fan_out, fan_in], init);
    let bs = path.var("bias", &[fan_out], init);
    nn::Linear { ws, bs: Some(bs) }
}

/// A `Conv2d` with bias, initialised as PyTorch's default (weight and bias
/// uniform in ±1/√fan_in).
pub(crate) fn conv2d_default(path: &nn::Path, c_in: i64, c_out: i64, k: i64) -> nn::Conv2D {
    let bound = 1.0 / ((c_in * k * k) as f64).sqrt();
    let init = nn::Init::Uniform { lo: -bound, up: bound };
    let cfg = nn::ConvConfig { ws_init: init, bs_init: init, ..Default::default() };
    nn::conv2d(path, c_in, c_out, k, cfg)
}

/// A bias-free `Conv2d` initialised as torchvision's ResNet does
/// (`kaiming_normal_`, `mode="fan_out"`, `nonlinearity="relu"`).
pub(crate) fn conv2d_no_bias(path: &nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, padding: i64) -> nn::Conv2D {
    let init = nn::Init::Kaiming {
        dist: nn::init::NormalOrUniform::Normal,
        fan: nn::init::FanInOut::FanOut,
        non_linearity: nn::init::NonLinearity::ReLU,
    };
    let cfg = nn::ConvConfig { stride, padding, bias: false, ws_init: init, ..Default::default() };
    nn::conv2d(path, c_in, c_out, k, cfg)
}

/// PyTorch's `BatchNorm2d`: `weight` (1) and `bias` (0) trained,
/// `running_mean`, `running_var` and the `int64` `num_batches_tracked`
/// buffers not (they are variables of the store without gradients, so they
/// are checkpointed with the weights but never optimized).
#[derive(Debug)]
pub(crate) struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    num_batches_tracked: Tensor,
}

/// Momentum and epsilon of PyTorch's defaults.
const BN_MOMENTUM: f64 = 0.1;
const BN_EPS: f64 = 1e-5;

pub(crate) fn batch_norm2d(path: &nn::Path, channels: i64) -> BatchNorm {
    BatchNorm {
        weight: path.var("weight", &[channels], nn::Init::Const(1.0)),
        bias: path.var("bias", &[channels], nn::Init::Const(0.0)),
        running_mean: path.zeros_no_train("running_mean", &[channels]),
        running_var: path.ones_no_train("running_var", &[channels]),
        num_batches_tracked: path.add(
            "num_batches_tracked",
            Tensor::zeros([], (Kind::Int64, path.device())),
            false,
        ),
    }
}

impl ModuleT for BatchNorm {
    /// Training mode normalizes with the batch's statistics and updates the
    /// running ones (and counts the batch); eval mode uses the running ones.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if train {
            tch::no_grad(|| {
                let _ = self.num_batches_tracked.shallow_clone().g_add_scalar_(1);
            });
        }
        Tensor::batch_norm(
            xs,
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )
    }
}
