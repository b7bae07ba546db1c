//! Checkpoints: one safetensors file holding everything a run needs to
//! continue exactly where it stopped.
//!
//! Layout of `epoch_N.safetensors` / `iter_N.safetensors`:
//! - tensors `model.<name>`: the weights, named as PyTorch names them, so
//!   `safetensors.torch.load_file(path)` yields a usable state dict;
//! - tensors `optimizer.<param>.<state>`: the optimizer's state
//!   (`exp_avg`, `momentum_buffer`, ...);
//! - tensors `grad.<name>`: gradients accumulated so far, only when the
//!   checkpoint falls inside a gradient-accumulation window;
//! - tensor `script`: a TorchScript model's whole module (`torch.jit.save`
//!   bytes), whose buffers tch cannot list one by one;
//! - tensors `plugin.<key>`: the state of each plugin, and `amp.scaler` for fp16;
//! - metadata `format` (`hammer-checkpoint/1`), `runner` (JSON: epoch,
//!   iteration, position in the epoch, seed), `optimizer` (JSON: step counts,
//!   learning rate), `config` (the resolved TOML) and `sha256`, a digest of
//!   all of the above, so a flipped byte is detected before anything is loaded.
//!
//! Every write is atomic ([`atomic::write_atomic`]); [`store`] names, lists,
//! prunes and points `last_checkpoint` at the files.

pub mod atomic;
pub mod store;

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Device, Kind, Tensor};

/// The format tag written into every checkpoint.
pub const FORMAT: &str = "hammer-checkpoint/1";

/// Where the runner was when the checkpoint was taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerState {
    /// Training epochs completed.
    pub epoch: u32,
    /// Training iterations completed.
    pub iter: u64,
    /// Batches of the current (unfinished) epoch already consumed.
    pub inner_iter: u64,
    /// `env.seed` of the run, so shuffling continues identically.
    pub seed: u64,
}

impl RunnerState {
    /// No batch of the current epoch is consumed yet: an epoch just ended
    /// (or none started).
    pub fn at_epoch_start(&self) -> bool {
        self.inner_iter == 0
    }
}

/// The content of one checkpoint file.
#[derive(Debug)]
pub struct Checkpoint {
    /// Named tensors: `model.*`, `optimizer.*`, `grad.*`.
    pub tensors: Vec<(String, Tensor)>,
    /// The runner's position.
    pub runner: RunnerState,
    /// Optimizer scalars (step counts, learning rate, kind).
    pub optimizer: serde_json::Value,
    /// The resolved config of the run, as TOML.
    pub config: String,
}

impl Checkpoint {
    /// The tensors whose names start with `prefix` (e.g. `"model."`), with
    /// the prefix removed.
    pub fn section(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.tensors
            .iter()
            .filter_map(|(n, t)| n.strip_prefix(prefix).map(|rest| (rest.to_string(), t.shallow_clone())))
            .collect()
    }

    /// Same as [`Self::section`], keyed by name.
    pub fn section_map(&self, prefix: &str) -> HashMap<String, Tensor> {
        self.section(prefix).into_iter().collect()
    }

    /// Writes the checkpoint to `path` atomically.
    ///
    /// # Errors
    /// A tensor of a type safetensors cannot hold, or an I/O error.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        atomic::write_atomic(path, &bytes)
    }

    /// The serialized file content, as [`Self::save`] writes it.
    ///
    /// # Errors
    /// A tensor of a type safetensors cannot hold.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut raw = Vec::with_capacity(self.tensors.len());
        for (name, t) in &self.tensors {
            let t = t.to_device(Device::Cpu).contiguous();
            let dtype = dtype_of(t.kind()).with_context(|| format!("checkpoint tensor `{name}`"))?;
            let mut data = vec![0u8; t.numel() * t.kind().elt_size_in_bytes()];
            t.f_copy_data_u8(&mut data, t.numel())?;
            let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
            raw.push((name.clone(), dtype, shape, data));
        }
        raw.sort_by(|a, b| a.0.cmp(&b.0));
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("runner".to_string(), serde_json::to_string(&self.runner)?);
        meta.insert("optimizer".to_string(), self.optimizer.to_string());
        meta.insert("config".to_string(), self.config.clone());
        let digest = digest(&meta, raw.iter().map(|(n, d, s, b)| (n.as_str(), *d, s.as_slice(), b.as_slice())));
        meta.insert("sha256".to_string(), digest);
        let views = raw
            .iter()
            .map(|(n, d, s, b)| Ok((n.clone(), TensorView::new(*d, s.clone(), b)?)))
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
        Ok(safetensors::serialize(views, &Some(meta))?)
    }

    /// Reads and verifies the checkpoint at `path`.
    ///
    /// # Errors
    /// A missing file, a file that is not a safetensors file (truncated,
    /// overwritten), not a hammer checkpoint, or whose digest does not match
    /// its content (corrupted): each named, nothing loaded.
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display();
        let bytes = std::fs::read(path).with_context(|| format!("cannot read checkpoint `{shown}`"))?;
        let corrupt = |why: String| anyhow::anyhow!("checkpoint `{shown}` is corrupted or truncated: {why}");
        let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let mut meta = header.metadata().clone().unwrap_or_default();
        match meta.get("format").map(String::as_str) {
            Some(FORMAT) => {}
            Some(other) => bail!("checkpoint `{shown}` has format `{other}`; this hammer reads `{FORMAT}`"),
            None => bail!("`{shown}` is a safetensors file but not a hammer checkpoint (no `format` metadata)"),
        }
        let expected = meta.remove("sha256").ok_or_else(|| corrupt("no sha256 digest".into()))?;
        let mut views = st.tensors();
        views.sort_by(|a, b| a.0.cmp(&b.0));
        let actual = digest(&meta, views.iter().map(|(n, v)| (n.as_str(), v.dtype(), v.shape(), v.data())));
        if actual != expected {
            return Err(corrupt(format!("its content hashes to {actual}, its header says {expected}")));
        }
        let mut tensors = Vec::with_capacity(views.len());
        for (name, v) in &views {
            let kind = kind_of(v.dtype()).with_context(|| format!("checkpoint `{shown}`, tensor `{name}`"))?;
            let shape: Vec<i64> = v.shape().iter().map(|&d| d as i64).collect();
            tensors.push((name.clone(), Tensor::f_from_data_size(v.data(), &shape, kind)?));
        }
        let field = |key: &str| meta.get(key).ok_or_else(|| corrupt(format!("no `{key}` metadata")));
        Ok(Self {
            tensors,
            runner: serde_json::from_str(field("runner")?).map_err(|e| corrupt(e.to_string()))?,
            optimizer: serde_json::from_str(field("optimizer")?).map_err(|e| corrupt(e.to_string()))?,
            config: field("config")?.clone(),
        })
    }
}

/// sha256 over the metadata (sorted by key) and every tensor (sorted by name):
/// names, types, shapes and bytes.
fn digest<'a>(
    meta: &HashMap<String, String>,
    tensors: impl Iterator<Item = (&'a str, Dtype, &'a [usize], &'a [u8])>,
) -> String {
    let mut h = Sha256::new();
    let mut keys: Vec<_> = meta.keys().collect();
    keys.sort();
    for k in keys {
        for part in [k.as_bytes(), &[0], meta[k].as_bytes(), &[0]] {
            h.update(part);
        }
    }
    for (name, dtype, shape, data) in tensors {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(format!("{dtype:?}{shape:?}").as_bytes());
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    }
    format!("{:x}", h.finalize())
}

fn dtype_of(kind: Kind) -> Result<Dtype> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Int8 => Dtype::I8,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        other => bail!("tensors of type {other:?} cannot be stored"),
    })
}

fn kind_of(dtype: Dtype) -> Result<Kind> {
    Ok(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::I8 => Kind::Int8,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        other => bail!("tensors of type {other:?} are not supported"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            tensors: vec![
                ("model.w".into(), Tensor::from_slice(&[1.0f32, 2.0, 3.0]).view([3, 1])),
                ("optimizer.w.exp_avg".into(), Tensor::from_slice(&[0.5f64])),
            ],
            runner: RunnerState { epoch: 2, iter: 314, inner_iter: 0, seed: 7 },
            optimizer: serde_json::json!({"step": 314}),
            config: "[model]\ntype = \"mlp\"\n".into(),
        }
    }

    #[test]
    fn round_trips_tensors_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("epoch_2.safetensors");
        sample().save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back.runner, sample().runner);
        assert_eq!(back.optimizer, sample().optimizer);
        assert_eq!(back.config, sample().config);
        let w = &back.section_map("model.")["w"];
        assert_eq!(w.size(), vec![3, 1]);
        assert_eq!(Vec::<f32>::try_from(w.flatten(0, -1)).unwrap(), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn a_flipped_byte_anywhere_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        sample().save(&path).unwrap();
        let good = std::fs::read(&path).unwrap();
        // Flip one bit in the last tensor byte and in the middle of the header.
        for at in [good.len() - 1, 20] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            std::fs::write(&path, &bad).unwrap();
            let err = Checkpoint::load(&path).unwrap_err().to_string();
            assert!(err.contains("corrupted") || err.contains("not a hammer"), "{err}");
        }
    }

    #[test]
    fn a_truncated_file_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        sample().save(&path).unwrap();
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, &good[..good.len() - 5]).unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("corrupted or truncated"), "{err}");
    }
}
