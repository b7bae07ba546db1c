//! Distributed data-parallel training on PyTorch's own engine, c10d.
//!
//! A job of N processes (ranks) is started by `hammer launch`, torchrun or
//! Slurm's `srun`; each process reads its [`Placement`] from the
//! environment its launcher set, and [`Dist::join`] meets the others: rank 0
//! serves a `TCPStore`, and a `ProcessGroupGloo` (CPU) or `ProcessGroupNCCL`
//! (CUDA) is built over it ([`Group`], the C++ bridge in
//! `host/csrc/dist.cpp`). The runner then
//! - broadcasts parameters and buffers from rank 0 at start (after resume);
//! - shards each epoch's order by rank ([`crate::data::Shard`]);
//! - averages gradients in buckets after backward, skipping the iterations
//!   inside an accumulation window (DDP's `no_sync`) ([`GradReducer`]);
//! - gathers the validation outputs of all ranks before the metrics see
//!   them, so metrics are those of the whole data set;
//! - writes logs, scalars and checkpoints on rank 0 only.
//!
//! A rank that dies or hangs makes the others fail within
//! `env.dist_cfg.timeout`; the [`Watchdog`]'s heartbeats in the store then
//! tell which rank stopped.

mod env;
mod grads;
mod group;
pub mod launch;
mod watchdog;

pub use env::{first_host, Launcher, Placement, DEFAULT_PORT};
pub use grads::{GradReducer, ReduceStats};
pub use group::{nccl_library, Backend, Group};
pub use watchdog::Watchdog;

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tch::{Device, Tensor};

use crate::config::DistConfig;

/// How much of each rank's text [`Dist::all_gather_text`] carries.
pub const GATHERED_TEXT_BYTES: usize = 8192;

/// This process's membership of a distributed job.
#[derive(Debug)]
pub struct Dist {
    group: Arc<Group>,
    placement: Placement,
    watchdog: Watchdog,
}

impl Dist {
    /// Joins the job `placement` describes, with the backend and timeout of
    /// `cfg` (`auto`: NCCL when the model is on CUDA, else Gloo).
    ///
    /// # Errors
    /// The master address does not resolve, the rendezvous fails or times
    /// out, or the backend cannot be created.
    pub fn join(placement: Placement, cfg: &DistConfig, device: Device) -> Result<Self> {
        let backend = Backend::choose(&cfg.backend, device)?;
        let Placement { rank, world_size, ref master_addr, master_port, agent_store, .. } = placement;
        // A wrong address fails here, at once, rather than after the timeout.
        (master_addr.as_str(), master_port)
            .to_socket_addrs()
            .with_context(|| format!("MASTER_ADDR `{master_addr}` does not resolve"))?;
        if backend == Backend::Nccl {
            // The CUDA half of libtorch before NCCL's bridge, which needs it.
            crate::cuda::load()?;
        }
        let timeout = Duration::from_secs_f64(cfg.timeout);
        let group = Group::join(master_addr, master_port, (rank, world_size), agent_store, timeout, backend).with_context(|| {
            format!(
                "rank {rank} of {world_size} cannot join the job at {master_addr}:{master_port} \
                 ({} backend, timeout {} s)",
                backend.name(),
                cfg.timeout
            )
        })?;
        let group = Arc::new(group);
        let watchdog = Watchdog::start(Arc::clone(&group));
        Ok(Self { group, placement, watchdog })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.placement.rank
    }

    /// The number of processes.
    pub fn world_size(&self) -> usize {
        self.placement.world_size
    }

    /// Where this process stands.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The process group.
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// Whether this is rank 0, the one that writes.
    pub fn is_main(&self) -> bool {
        self.rank() == 0
    }

    /// `err` (a failed collective) with the rank that failed and, when the
    /// heartbeats tell, which rank stopped.
    pub fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        let diagnosis = self.watchdog.diagnose();
        err.context(format!("rank {} of {}: {diagnosis}", self.rank(), self.world_size()))
    }

    /// Overwrites `tensors` with rank 0's.
    ///
    /// # Errors
    /// A peer failed or did not answer in time.
    pub fn broadcast(&self, tensors: &[Tensor]) -> Result<()> {
        let refs: Vec<&Tensor> = tensors.iter().collect();
        self.group.broadcast(&refs, 0).map_err(|e| self.explain(e))
    }

    /// The rows of every rank's `local` batch in the order of the data set
    /// they came from: batch `batch` of `batch_size` rows per rank, of an
    /// unshuffled order sharded by [`crate::data::Shard`], over a data set
    /// of `n` samples (the padding rows past `n` are dropped).
    ///
    /// # Errors
    /// As [`Self::broadcast`].
    pub fn gather_rows(&self, local: &Tensor, batch: usize, batch_size: usize, n: usize) -> Result<Tensor> {
        let parts = self.group.all_gather(&local.contiguous()).map_err(|e| self.explain(e))?;
        // [world, rows, ...] -> [rows, world, ...]: sample j of rank r is
        // position (batch * batch_size + j) * world + r of the order.
        let stacked = Tensor::stack(&parts, 0).transpose(0, 1);
        let mut shape = stacked.size();
        let rows = shape.remove(0) * shape[0];
        shape[0] = rows;
        let flat = stacked.contiguous().view(shape.as_slice());
        let first = (batch * batch_size * self.world_size()) as i64;
        let keep = (n as i64 - first).clamp(0, rows);
        Ok(flat.narrow(0, 0, keep))
    }

    /// Every rank's `text`, in rank order (at most [`GATHERED_TEXT_BYTES`]
    /// bytes of each, cut at a character boundary).
    ///
    /// # Errors
    /// As [`Self::broadcast`].
    pub fn all_gather_text(&self, text: &str) -> Result<Vec<String>> {
        let text = cut(text, GATHERED_TEXT_BYTES);
        let mut bytes = vec![0u8; GATHERED_TEXT_BYTES + 8];
        bytes[..8].copy_from_slice(&(text.len() as u64).to_le_bytes());
        bytes[8..8 + text.len()].copy_from_slice(text.as_bytes());
        let parts = self.group.all_gather(&Tensor::from_slice(&bytes)).map_err(|e| self.explain(e))?;
        Ok(parts
            .iter()
            .map(|part| {
                let bytes = Vec::<u8>::try_from(part).unwrap_or_default();
                let len = bytes.get(..8).map_or(0, |n| u64::from_le_bytes(n.try_into().expect("8 bytes")) as usize);
                String::from_utf8_lossy(bytes.get(8..8 + len).unwrap_or_default()).into_owned()
            })
            .collect())
    }

    /// Waits until every rank has reached the end of the run.
    ///
    /// # Errors
    /// As [`Self::broadcast`].
    pub fn barrier(&self) -> Result<()> {
        self.group.barrier().map_err(|e| self.explain(e))
    }
}

/// The longest start of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn gathered_text_is_cut_on_a_character_boundary() {
        assert_eq!(super::cut("plugin `x` failed", 100), "plugin `x` failed");
        assert_eq!(super::cut("abc", 2), "ab");
        // "é" is two bytes: a cut inside it drops it whole.
        assert_eq!(super::cut("aé", 2), "a");
    }
}
