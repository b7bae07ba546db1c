//! MMEngine tutorial's `MyAwesomeModel`: `mlp` = `layers` × (Linear,
//! activation), then a `classifier` Linear.

use anyhow::{bail, Result};
use tch::nn;
use tch::Tensor;

use super::layers::linear;
use crate::config::ModelConfig;

/// Builds the MLP under `root`: `mlp.0`, `mlp.2`, ... and `classifier`.
pub(crate) fn mlp(root: &nn::Path, cfg: &ModelConfig) -> Result<nn::Sequential> {
    if cfg.layers == 0 {
        bail!("model.layers: an mlp needs at least one hidden layer");
    }
    let act = activation(&cfg.activation)?;
    let body = root / "mlp";
    let mut net = nn::seq();
    let mut width = cfg.in_features;
    for i in 0..cfg.layers {
        net = net.add(linear(&(&body / (2 * i)), width, cfg.hidden));
        if let Some(f) = act {
            net = net.add_fn(f);
        }
        width = cfg.hidden;
    }
    Ok(net.add(linear(&(root / "classifier"), width, cfg.num_classes)))
}

/// An element-wise activation function.
type Activation = fn(&Tensor) -> Tensor;

fn activation(name: &str) -> Result<Option<Activation>> {
    Ok(match name {
        "relu" => Some(Tensor::relu),
        "silu" => Some(Tensor::silu),
        "tanh" => Some(Tensor::tanh),
        "gelu" => Some(|x: &Tensor| x.gelu("none")),
        "none" => None,
        other => bail!("model.activation: unknown activation `{other}` (relu, silu, tanh, gelu, none)"),
    })
}
