//! A TorchScript module (`torch.jit.script` / `torch.jit.trace`, saved with
//! `torch.jit.save`) trained through libtorch's `CModule`: its parameters
//! are optimized by hammer's optimizers, its `forward` runs in train mode in
//! the training loop and in eval mode in the validation and test loops.
//!
//! Parameters are the module's `named_parameters()` (PyTorch's names). The
//! module's buffers (BatchNorm running statistics) are not reachable through
//! `tch`'s `CModule` (it has no `named_buffers`), so checkpoints carry the
//! whole module as `torch.jit.save` writes it (tensor `script`), and a
//! resumed run rebuilds the model from it: buffers continue exactly.

use std::cell::{Cell, RefCell};
use std::path::Path;

use anyhow::{Context, Result};
use tch::{CModule, Device, Tensor};

/// The loaded module and the mode it was last put in.
#[derive(Debug)]
pub(crate) struct Script {
    module: RefCell<CModule>,
    train: Cell<Option<bool>>,
}

impl Script {
    /// Loads `path` onto `device`; returns the module and its parameters,
    /// which require gradients.
    pub(crate) fn load(path: &Path, device: Device) -> Result<(Self, Vec<(String, Tensor)>)> {
        let shown = path.display();
        let module = CModule::load_on_device(path, device)
            .with_context(|| format!("model.path: cannot load the TorchScript module `{shown}`"))?;
        Self::with_module(module, &shown.to_string())
    }

    /// Loads a module from the bytes [`Self::to_bytes`] wrote (a checkpoint's `script`).
    pub(crate) fn from_bytes(bytes: &[u8], device: Device) -> Result<(Self, Vec<(String, Tensor)>)> {
        let module = CModule::load_data_on_device(&mut std::io::Cursor::new(bytes), device)
            .context("cannot load the TorchScript module saved in the checkpoint")?;
        Self::with_module(module, "the checkpoint's module")
    }

    /// The module as `torch.jit.save` writes it, parameters and buffers included.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        // libtorch names the archive after the file: give it a plain name.
        let dir = tempfile::tempdir().context("a temporary directory for the TorchScript module")?;
        let file = dir.path().join("module.pt");
        self.module.borrow().save(&file).context("saving the TorchScript module")?;
        std::fs::read(&file).context("reading the saved TorchScript module")
    }

    fn with_module(module: CModule, shown: &str) -> Result<(Self, Vec<(String, Tensor)>)> {
        let params = module
            .named_parameters()
            .with_context(|| format!("model.path: cannot list the parameters of `{shown}`"))?
            .into_iter()
            .map(|(name, t)| {
                let t = if t.requires_grad() { t } else { t.set_requires_grad(true) };
                (name, t)
            })
            .collect();
        Ok((Self { module: RefCell::new(module), train: Cell::new(None) }, params))
    }

    /// `forward(xs)`, in train or eval mode.
    pub(crate) fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if self.train.get() != Some(train) {
            let mut module = self.module.borrow_mut();
            if train {
                module.f_set_train()?;
            } else {
                module.f_set_eval()?;
            }
            self.train.set(Some(train));
        }
        self.module.borrow().forward_ts(&[xs]).context("the TorchScript module's forward failed")
    }
}
