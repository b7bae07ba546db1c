//! Networks built by name from the `model` section of the config.
//!
//! Parameters are named after the module structure, as PyTorch names them
//! (`mlp.0.weight`, `classifier.bias`), so that checkpoints read like a
//! PyTorch `state_dict` and weights can move between the two.

use anyhow::{bail, Result};
use tch::nn::{self, Module};
use tch::{Device, Tensor};

use crate::config::ModelConfig;

/// A network and the store that owns its parameters.
pub struct Model {
    vs: nn::VarStore,
    net: nn::Sequential,
    parameters: Vec<(String, Tensor)>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("parameters", &self.parameters.len()).finish()
    }
}

impl Model {
    /// Builds the network described by `cfg` on `device`, initialised from
    /// libtorch's generator (seed it first for reproducible weights).
    ///
    /// # Errors
    /// An unknown model type or activation.
    pub fn build(cfg: &ModelConfig, device: Device) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let net = match cfg.kind.as_str() {
            "mlp" => mlp(&vs.root(), cfg)?,
            other => bail!("model.type: unknown model `{other}` (available: mlp)"),
        };
        let mut parameters: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        parameters.sort_by(|a, b| natural_order(&a.0).cmp(&natural_order(&b.0)));
        Ok(Self { vs, net, parameters })
    }

    /// The model's output for a batch of inputs.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        self.net.forward(xs)
    }

    /// Named parameters in a stable order (by module path, numbers compared
    /// as numbers), sharing storage with the model.
    pub fn parameters(&self) -> &[(String, Tensor)] {
        &self.parameters
    }

    /// The device the parameters live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Copies `tensors` (a name → tensor state dict) into the parameters.
    ///
    /// # Errors
    /// Lists every missing key, unexpected key and shape mismatch.
    pub fn load_state_dict(&mut self, tensors: &[(String, Tensor)]) -> Result<()> {
        let mut problems = Vec::new();
        for (name, param) in &self.parameters {
            match tensors.iter().find(|(n, _)| n == name) {
                None => problems.push(format!("missing `{name}`")),
                Some((_, t)) if t.size() != param.size() => problems.push(format!(
                    "`{name}` has shape {:?}, the model expects {:?}",
                    t.size(),
                    param.size()
                )),
                Some(_) => {}
            }
        }
        for (name, _) in tensors {
            if !self.parameters.iter().any(|(n, _)| n == name) {
                problems.push(format!("unexpected `{name}`"));
            }
        }
        if !problems.is_empty() {
            bail!("the weights do not fit the model: {}", problems.join(", "));
        }
        tch::no_grad(|| {
            for (name, param) in &mut self.parameters {
                let (_, src) = tensors.iter().find(|(n, _)| n == name).expect("checked above");
                param.copy_(&src.to_device(param.device()).to_kind(param.kind()));
            }
        });
        Ok(())
    }
}

/// MMEngine tutorial's `MyAwesomeModel`: `mlp` = `layers` × (Linear,
/// activation), then a `classifier` Linear.
fn mlp(root: &nn::Path, cfg: &ModelConfig) -> Result<nn::Sequential> {
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

/// A `Linear` layer initialised as PyTorch's `nn.Linear`: weight first, then
/// bias, both uniform in ±1/√fan_in, so the same seed draws the same weights.
fn linear(path: &nn::Path, fan_in: i64, fan_out: i64) -> nn::Linear {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let init = nn::Init::Uniform { lo: -bound, up: bound };
    let ws = path.var("weight", &[fan_out, fan_in], init);
    let bs = path.var("bias", &[fan_out], init);
    nn::Linear { ws, bs: Some(bs) }
}

fn activation(name: &str) -> Result<Option<fn(&Tensor) -> Tensor>> {
    Ok(match name {
        "relu" => Some(Tensor::relu),
        "silu" => Some(Tensor::silu),
        "tanh" => Some(Tensor::tanh),
        "gelu" => Some(|x: &Tensor| x.gelu("none")),
        "none" => None,
        other => bail!("model.activation: unknown activation `{other}` (relu, silu, tanh, gelu, none)"),
    })
}

/// Sort key that compares numeric path segments as numbers (`mlp.10` after `mlp.2`).
fn natural_order(name: &str) -> Vec<(u64, String)> {
    name.split('.')
        .map(|seg| seg.parse::<u64>().map_or((u64::MAX, seg.to_string()), |n| (n, String::new())))
        .collect()
}
