//! Networks built by name from the `model` section of the config.
//!
//! The zoo: `mlp` (MMEngine tutorial's model, [`mlp`]), `lenet` (a
//! LeNet-5-style CNN, [`lenet`]), `resnet18` / `resnet34` / `resnet50`
//! (torchvision's layout, [`resnet`]) and `torchscript` (a module scripted
//! or traced in PyTorch, [`torchscript`]).
//!
//! Parameters and buffers are named after the module structure, as PyTorch
//! names them (`mlp.0.weight`, `layer1.0.bn1.running_mean`), so that
//! checkpoints read like a PyTorch `state_dict` and weights move between the
//! two. [`Model::parameters`] are the trained tensors (what optimizers and
//! plugins see); [`Model::state`] adds the buffers (BatchNorm's running
//! statistics and `num_batches_tracked`), which checkpoints hold too.

mod amp;
mod layers;
mod lenet;
mod mlp;
mod resnet;
mod torchscript;

pub use amp::{autocast, GradScaler, Precision};

use anyhow::{bail, Context, Result};
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Tensor};

use crate::config::ModelConfig;

/// The buffers of the TorchScript module saved as `bytes` (a checkpoint's
/// `script`), by PyTorch's names: what a state dict holds besides the
/// parameters.
///
/// # Errors
/// Bytes that are not a TorchScript module.
pub fn script_buffers(bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    torchscript::named_buffers(bytes)
}

/// The model types `model.type` accepts.
pub const MODEL_TYPES: &[&str] = &["mlp", "lenet", "resnet18", "resnet34", "resnet50", "torchscript"];

/// The network itself.
enum Net {
    /// The MLP, called directly (the benchmark's path).
    Mlp(nn::Sequential),
    /// A network with train/eval behaviour (BatchNorm).
    Zoo(Box<dyn ModuleT>),
    /// A TorchScript module.
    Script(torchscript::Script),
}

/// A network, and the store that owns its parameters and buffers.
pub struct Model {
    /// Owns the variables of built-in networks (none for TorchScript).
    _vs: Option<nn::VarStore>,
    device: Device,
    net: Net,
    parameters: Vec<(String, Tensor)>,
    state: Vec<(String, Tensor)>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("parameters", &self.parameters.len())
            .field("state", &self.state.len())
            .finish()
    }
}

impl Model {
    /// Builds the network described by `cfg` on `device`, initialised from
    /// libtorch's generator (seed it first for reproducible weights).
    ///
    /// # Errors
    /// An unknown model type or activation, or a TorchScript file that
    /// cannot be loaded.
    pub fn build(cfg: &ModelConfig, device: Device) -> Result<Self> {
        Self::build_from(cfg, device, None)
    }

    /// [`Self::build`]; a TorchScript model comes from `script` (the module a
    /// checkpoint saved) instead of `model.path` when given.
    ///
    /// # Errors
    /// As [`Self::build`].
    pub fn build_from(cfg: &ModelConfig, device: Device, script: Option<&[u8]>) -> Result<Self> {
        if cfg.kind == "torchscript" {
            let (script, mut parameters) = match script {
                Some(bytes) => torchscript::Script::from_bytes(bytes, device)?,
                None => {
                    let path = cfg
                        .path
                        .as_ref()
                        .context("model.path: a torchscript model needs `path` (the file torch.jit.save wrote)")?;
                    torchscript::Script::load(path, device)?
                }
            };
            parameters.sort_by_key(|(name, _)| natural_order(name));
            let state = shallow(&parameters);
            return Ok(Self { _vs: None, device, net: Net::Script(script), parameters, state });
        }
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let net = match cfg.kind.as_str() {
            "mlp" => Net::Mlp(mlp::mlp(&root, cfg)?),
            "lenet" => Net::Zoo(Box::new(lenet::lenet(&root, cfg)?)),
            "resnet18" => Net::Zoo(Box::new(resnet::resnet(&root, cfg, 18)?)),
            "resnet34" => Net::Zoo(Box::new(resnet::resnet(&root, cfg, 34)?)),
            "resnet50" => Net::Zoo(Box::new(resnet::resnet(&root, cfg, 50)?)),
            other => bail!("model.type: unknown model `{other}` (available: {})", MODEL_TYPES.join(", ")),
        };
        let mut state: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        state.sort_by_key(|(name, _)| natural_order(name));
        let parameters = state
            .iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect();
        Ok(Self { _vs: Some(vs), device, net, parameters, state })
    }

    /// The model's output for a batch of inputs, in training mode (`train`:
    /// BatchNorm normalizes with the batch and updates its running
    /// statistics; dropout drops) or in eval mode.
    ///
    /// # Errors
    /// A TorchScript module's forward failing (wrong input shape, ...).
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        match &self.net {
            Net::Mlp(net) => Ok(net.forward(xs)),
            Net::Zoo(net) => Ok(net.forward_t(xs, train)),
            Net::Script(script) => script.forward_t(xs, train),
        }
    }

    /// Trained parameters in a stable order (by module path, numbers
    /// compared as numbers), sharing storage with the model: what the
    /// optimizer steps and plugins are granted.
    pub fn parameters(&self) -> &[(String, Tensor)] {
        &self.parameters
    }

    /// Everything a `state_dict` holds: the parameters and the buffers
    /// (running statistics, `num_batches_tracked`), in the same stable order.
    pub fn state(&self) -> &[(String, Tensor)] {
        &self.state
    }

    /// A TorchScript model's module as `torch.jit.save` writes it (with its
    /// buffers), for checkpoints; `None` for the built-in networks.
    ///
    /// # Errors
    /// The module cannot be saved.
    pub fn script_bytes(&self) -> Option<Result<Vec<u8>>> {
        match &self.net {
            Net::Script(script) => Some(script.to_bytes()),
            _ => None,
        }
    }

    /// The device the parameters live on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Copies `tensors` (a name → tensor state dict) into the parameters
    /// and buffers. A `num_batches_tracked` the weights lack is left as is
    /// (some exporters drop it); everything else must match.
    ///
    /// # Errors
    /// Lists every missing key, unexpected key and shape mismatch.
    pub fn load_state_dict(&mut self, tensors: &[(String, Tensor)]) -> Result<()> {
        let mut problems = Vec::new();
        for (name, param) in &self.state {
            match tensors.iter().find(|(n, _)| n == name) {
                None if name.ends_with(".num_batches_tracked") => {}
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
            if !self.state.iter().any(|(n, _)| n == name) {
                problems.push(format!("unexpected `{name}`"));
            }
        }
        if !problems.is_empty() {
            bail!("the weights do not fit the model: {}", problems.join(", "));
        }
        tch::no_grad(|| {
            for (name, param) in &mut self.state {
                if let Some((_, src)) = tensors.iter().find(|(n, _)| n == name) {
                    param.copy_(&src.to_device(param.device()).to_kind(param.kind()));
                }
            }
        });
        Ok(())
    }
}

fn shallow(tensors: &[(String, Tensor)]) -> Vec<(String, Tensor)> {
    tensors.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect()
}

/// Sort key that compares numeric path segments as numbers (`mlp.10` after `mlp.2`).
fn natural_order(name: &str) -> Vec<(u64, String)> {
    name.split('.')
        .map(|seg| seg.parse::<u64>().map_or((u64::MAX, seg.to_string()), |n| (n, String::new())))
        .collect()
}

#[cfg(test)]
mod tests;
