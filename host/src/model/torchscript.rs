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
//! [`named_buffers`] reads them from those bytes (through `csrc/jit.cpp`)
//! for `hammer export`.

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
        if !path.is_file() {
            anyhow::bail!("model.path: the TorchScript module `{shown}` does not exist (relative paths are relative to the current directory)");
        }
        let module = CModule::load_on_device(path, device).map_err(|e| {
            anyhow::anyhow!("model.path: cannot load the TorchScript module `{shown}`: {}", torch_message(&e))
        })?;
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

extern "C" {
    fn hammer_jit_named_buffers(
        data: *const std::ffi::c_char,
        len: usize,
        ctx: *mut std::ffi::c_void,
        each: extern "C" fn(*mut std::ffi::c_void, *const std::ffi::c_char, *mut std::ffi::c_void),
        err: *mut *mut std::ffi::c_char,
    ) -> bool;
    fn hammer_string_free(s: *mut std::ffi::c_char);
}

/// The buffers (BatchNorm's running statistics, `num_batches_tracked`) of
/// the module `torch.jit.save` wrote into `bytes`, by PyTorch's names, on the CPU.
///
/// # Errors
/// Bytes libtorch cannot load as a module.
pub(crate) fn named_buffers(bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    extern "C" fn push(ctx: *mut std::ffi::c_void, name: *const std::ffi::c_char, tensor: *mut std::ffi::c_void) {
        // SAFETY: `ctx` is the Vec below, alive for the call; `name` is a
        // C string for the callback's duration; `tensor` is a new
        // `at::Tensor*` whose ownership passes to tch.
        unsafe {
            let out = &mut *ctx.cast::<Vec<(String, Tensor)>>();
            let name = std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned();
            out.push((name, Tensor::from_ptr(tensor.cast())));
        }
    }
    let mut out: Vec<(String, Tensor)> = Vec::new();
    let mut err: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: `bytes` outlives the call, which copies it; `push` matches the callback type.
    let ok = unsafe {
        hammer_jit_named_buffers(bytes.as_ptr().cast(), bytes.len(), (&raw mut out).cast(), push, &raw mut err)
    };
    if !ok {
        // SAFETY: on failure `err` is a malloc'd C string that we own.
        let message = unsafe {
            let m = std::ffi::CStr::from_ptr(err).to_string_lossy().into_owned();
            hammer_string_free(err);
            m
        };
        anyhow::bail!("cannot read the TorchScript module's buffers: {message}");
    }
    Ok(out)
}

/// libtorch's own message, without tch's `Internal torch error:` and the
/// C++ backtrace libtorch appends (`Exception raised from ...`, `frame #0: ...`).
pub(crate) fn torch_message(e: &tch::TchError) -> String {
    let text = e.to_string();
    let cut = ["\nException raised from", "\nframe #"].iter().filter_map(|m| text.find(m)).min().unwrap_or(text.len());
    let text = text[..cut].trim();
    text.strip_prefix("Internal torch error:").unwrap_or(text).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torch_error_loses_its_backtrace() {
        let e = tch::TchError::Torch("open file failed\nException raised from load at x.cpp:1\nframe #0: f()".into());
        assert_eq!(torch_message(&e), "open file failed");
    }

    #[test]
    fn a_missing_module_is_named_with_its_key() {
        let e = Script::load(Path::new("no/such/module.pt"), Device::Cpu).unwrap_err().to_string();
        assert!(e.starts_with("model.path:") && e.contains("no/such/module.pt") && e.contains("does not exist"), "{e}");
    }
}
