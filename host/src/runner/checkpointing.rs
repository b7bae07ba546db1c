//! Saving the run into a checkpoint and restoring what the model alone does
//! not hold (gradients accumulated inside an accumulation window).
//!
//! The tensors are copied into the file's bytes on the training thread, at
//! the iteration the checkpoint belongs to; writing, fsyncing, pointing
//! `last_checkpoint` at the file and pruning old ones happen on a writer
//! thread while training goes on. Writes stay in order (a save waits for the
//! previous write), and the run waits for the last one before it ends.

use std::collections::HashMap;

use anyhow::{bail, Result};
use tch::Tensor;

use super::Runner;
use crate::checkpoint::store::{self, Unit};
use crate::checkpoint::atomic::write_atomic;
use crate::checkpoint::Checkpoint;
use crate::extension::{Mode, Phase, Stateful};
use crate::model::Model;

impl Runner {
    /// Saves checkpoint `n` of `unit` into the work dir (atomically), points
    /// `last_checkpoint` at it and prunes old ones. Without a work dir, does
    /// nothing.
    pub(super) fn save_checkpoint(&mut self, unit: Unit, n: u64) -> Result<()> {
        let what = match unit {
            Unit::Epoch => "epochs",
            Unit::Iter => "iterations",
        };
        self.write_checkpoint(&store::file_name(unit, n), Some(unit), &format!("at {n} {what}"))
    }

    /// Saves the checkpoint a hook requested (`checkpoint_best`'s
    /// `best_accuracy`) as `<tag>.safetensors`, replacing the previous one of
    /// that tag; periodic checkpoints and `last_checkpoint` are left alone.
    pub(super) fn save_requested_checkpoint(&mut self, tag: &str) -> Result<()> {
        let safe: String = tag.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        self.write_checkpoint(&format!("{safe}.safetensors"), None, &format!("`{tag}` (requested by a hook)"))
    }

    /// Writes the run into `file` in the work dir; a periodic checkpoint
    /// (`unit`) also moves `last_checkpoint` and prunes old ones.
    fn write_checkpoint(&mut self, file: &str, unit: Option<Unit>, what: &str) -> Result<()> {
        let Some(dir) = self.work_dir.clone() else { return Ok(()) };
        // Every rank takes part in gathering the gradients; rank 0 writes.
        let grads = self.gradients_by_rank()?;
        if !self.writes() {
            return Ok(());
        }
        self.fire(Phase::BeforeSaveCheckpoint, Mode::Train)?;
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (name, t) in self.model.state() {
            tensors.push((format!("model.{name}"), t.detach()));
        }
        tensors.extend(grads);
        for (name, t) in self.optimizer.state_tensors() {
            tensors.push((format!("optimizer.{name}"), t));
        }
        if let Some(bytes) = self.model.script_bytes() {
            tensors.push(("script".into(), Tensor::from_slice(&bytes?)));
        }
        if let Some(s) = &self.scaler {
            tensors.push(("amp.scaler".to_string(), Tensor::from_slice(&[s.scale, s.growth_tracker as f64])));
        }
        for (key, state) in self.plugin_states()? {
            tensors.push((format!("plugin.{key}"), Tensor::from_slice(&state)));
        }
        let ckpt = Checkpoint {
            tensors,
            runner: self.state,
            optimizer: self.optimizer.state_scalars(),
            config: self.cfg.to_toml(),
        };
        let bytes = ckpt.to_bytes()?;
        self.finish_checkpoint_write()?;
        let path = dir.join(file);
        let keep = self.cfg.checkpoint.max_keep_ckpts;
        self.pending_write = Some(std::thread::spawn(move || -> Result<()> {
            write_atomic(&path, &bytes)?;
            match unit {
                Some(unit) => {
                    store::set_last(&dir, &path)?;
                    store::prune(&dir, unit, keep)
                }
                None => Ok(()),
            }
        }));
        self.logger.info(&format!("Saving checkpoint {what}"));
        self.fire(Phase::AfterSaveCheckpoint, Mode::Train)
    }
}

impl Runner {
    /// Every hook, metric and learning-rate policy, as keepers of state.
    fn stateful(&mut self) -> impl Iterator<Item = &mut dyn Stateful> {
        let hooks = self.hooks.iter_mut().map(|h| &mut **h as &mut dyn Stateful);
        let metrics = self.metrics.iter_mut().map(|m| &mut **m as &mut dyn Stateful);
        let policies = self.lr_policies.iter_mut().map(|p| &mut **p as &mut dyn Stateful);
        hooks.chain(metrics).chain(policies)
    }

    /// The state of every extension that has one, by its key.
    fn plugin_states(&mut self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut states = Vec::new();
        for ext in self.stateful() {
            if let Some(key) = ext.state_key().map(str::to_string) {
                states.push((key, ext.save_state()?));
            }
        }
        Ok(states)
    }

    /// Gives every extension the state the checkpoint holds for it (`states`
    /// by key); one the checkpoint knows nothing of starts fresh, with a warning.
    pub(super) fn restore_plugin_states(&mut self, states: &HashMap<String, Tensor>) -> Result<()> {
        let logger = self.logger.clone();
        for ext in self.stateful() {
            let Some(key) = ext.state_key().map(str::to_string) else { continue };
            match states.get(&key) {
                Some(t) => ext.load_state(&Vec::<u8>::try_from(t.flatten(0, -1))?)?,
                None => logger.warn(&format!("the checkpoint holds no state for plugin `{key}`; it starts fresh")),
            }
        }
        Ok(())
    }

    /// The gradients accumulated so far (inside an accumulation window):
    /// `grad.<name>`, and in a distributed job every rank's own, rank r's as
    /// `grad_rank<r>.<name>` (r ≥ 1) — each rank resumes with its own, so
    /// the averaged step is exactly the one an uninterrupted run takes.
    fn gradients_by_rank(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for (name, p) in self.model.parameters() {
            let grad = p.grad();
            if !grad.defined() {
                continue;
            }
            let Some(dist) = &self.dist else {
                out.push((format!("grad.{name}"), grad.detach()));
                continue;
            };
            let parts = dist.group().all_gather(&grad.detach()).map_err(|e| dist.explain(e))?;
            for (rank, t) in parts.into_iter().enumerate() {
                out.push((format!("{}{name}", grad_prefix(rank)), t));
            }
        }
        Ok(out)
    }

    /// Waits for the checkpoint being written, if any.
    ///
    /// # Errors
    /// The write's I/O error.
    pub(super) fn finish_checkpoint_write(&mut self) -> Result<()> {
        match self.pending_write.take() {
            Some(handle) => handle.join().map_err(|_| anyhow::anyhow!("the checkpoint writer panicked"))?,
            None => Ok(()),
        }
    }
}

/// Where rank `rank`'s accumulated gradients are in a checkpoint.
pub(super) fn grad_prefix(rank: usize) -> String {
    if rank == 0 {
        "grad.".into()
    } else {
        format!("grad_rank{rank}.")
    }
}

/// Gives each parameter the gradient saved for it (`grads` by parameter
/// name), so a run resumed inside an accumulation window steps on exactly
/// the gradients it would have had.
pub(super) fn restore_grads(model: &Model, grads: &HashMap<String, Tensor>) -> Result<()> {
    for (name, g) in grads {
        let Some((_, p)) = model.parameters().iter().find(|(n, _)| n == name) else {
            bail!("the checkpoint holds a gradient for `{name}`, which the model does not have");
        };
        if g.size() != p.size() {
            bail!("the checkpoint's gradient for `{name}` has shape {:?}, the parameter {:?}", g.size(), p.size());
        }
        // d/dp sum(p * g) = g exactly: backward leaves `g` itself in `p.grad`.
        (p * g.to_device(p.device()).detach()).sum(p.kind()).backward();
    }
    Ok(())
}

impl Drop for Runner {
    /// A run that ends in an error still completes the checkpoint it started
    /// writing, so the last good checkpoint is on disk.
    fn drop(&mut self) {
        let _ = self.finish_checkpoint_write();
    }
}
