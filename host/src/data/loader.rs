//! Batching, per-epoch seeded shuffling and background prefetching by one or
//! more worker threads.
//!
//! Worker `w` of `n` assembles batches `start + w`, `start + w + n`, ... of an
//! epoch into its own bounded channel; the consumer takes batch `b` from
//! worker `(b - start) mod n`, so batches come in order, and are the same
//! whatever the number of workers.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::{Dataset, Shard};
use crate::config::DataLoaderConfig;

/// One batch of samples, on the loader's device.
#[derive(Debug)]
pub struct Batch {
    /// Inputs, one row per sample.
    pub inputs: Tensor,
    /// Targets, one per sample.
    pub targets: Tensor,
}

/// Batches a [`Dataset`] epoch by epoch.
#[derive(Debug)]
pub struct DataLoader {
    dataset: Arc<SharedDataset>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    prefetch: usize,
    num_workers: usize,
    seed: u64,
    device: Device,
    /// This rank's share of each epoch, in a distributed job.
    shard: Option<Shard>,
}

/// The data set, handed to loader threads.
#[derive(Debug)]
struct SharedDataset(Dataset);

// SAFETY: the data set's tensors are never written after construction; the
// loader threads only read them (index_select makes new tensors), which
// libtorch allows from any thread. Everything else in it is plain data.
unsafe impl Sync for SharedDataset {}

/// What a worker sends: a batch and its count of skipped bad samples.
type Message = Result<(Batch, usize, Option<String>), String>;

impl DataLoader {
    /// A loader over `dataset` with the batching options of `cfg`; `seed` is
    /// `env.seed`, to which the epoch number is added for each permutation.
    pub fn new(dataset: Dataset, cfg: &DataLoaderConfig, seed: u64, device: Device) -> Self {
        Self {
            dataset: Arc::new(SharedDataset(dataset)),
            batch_size: cfg.batch_size.max(1),
            shuffle: cfg.shuffle,
            drop_last: cfg.drop_last,
            prefetch: cfg.prefetch.max(1),
            num_workers: cfg.num_workers.max(1),
            seed,
            device,
            shard: None,
        }
    }

    /// The loader of rank `shard.rank`'s share of every epoch (see [`Shard`]).
    pub fn sharded(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Number of samples in the data set.
    pub fn dataset_len(&self) -> usize {
        self.dataset.0.len()
    }

    /// Number of samples this loader visits in one epoch: the data set, or
    /// this rank's share of it.
    pub fn num_samples(&self) -> usize {
        let n = self.dataset_len();
        self.shard.map_or(n, |s| s.len(n))
    }

    /// Number of batches in one epoch.
    pub fn len(&self) -> usize {
        let n = self.num_samples();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// Whether an epoch has no batch at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The order in which epoch `epoch` visits the samples: a permutation
    /// drawn from libtorch's generator seeded with `seed + epoch` (as
    /// MMEngine's `DefaultSampler`), or the identity without shuffling;
    /// in a distributed job, this rank's share of it.
    ///
    /// Reseeds libtorch's generator; call it from the training thread only.
    pub fn order(&self, epoch: u64) -> Tensor {
        let n = self.dataset_len() as i64;
        let order = if self.shuffle {
            tch::manual_seed(self.seed.wrapping_add(epoch) as i64);
            Tensor::randperm(n, (Kind::Int64, Device::Cpu))
        } else {
            Tensor::arange(n, (Kind::Int64, Device::Cpu))
        };
        match self.shard {
            Some(shard) => shard.select(&order),
            None => order,
        }
    }

    /// The batches of epoch `epoch` from batch `start` on (to resume in the
    /// middle of an epoch without touching the batches already consumed),
    /// assembled by the worker threads up to `prefetch` batches ahead.
    pub fn epoch(&self, epoch: u64, start: usize) -> EpochBatches {
        let order = self.order(epoch);
        let (batch_size, len, device, seed) = (self.batch_size, self.len(), self.device, self.seed);
        let n = self.num_samples();
        let workers = self.num_workers.min(len.saturating_sub(start)).max(1);
        let capacity = self.prefetch.div_ceil(workers).max(1);
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel::<Message>(capacity);
            let data = Arc::clone(&self.dataset);
            let order = order.shallow_clone();
            let handle = std::thread::Builder::new()
                .name(format!("hammer-loader-{w}"))
                .spawn(move || {
                    for b in (start + w..len).step_by(workers) {
                        let lo = b * batch_size;
                        let hi = (lo + batch_size).min(n);
                        let idx = order.narrow(0, lo as i64, (hi - lo) as i64);
                        let message = data.0.get_batch(&idx, seed, epoch).map_err(|e| format!("{e:#}")).map(|l| {
                            (Batch { inputs: l.inputs.to_device(device), targets: l.targets.to_device(device) }, l.skipped, l.first_bad)
                        });
                        let failed = message.is_err();
                        if tx.send(message).is_err() || failed {
                            return; // the consumer stopped early, or this batch failed
                        }
                    }
                })
                .expect("spawning a loader thread");
            receivers.push(rx);
            handles.push(handle);
        }
        let (at_build, first) = self.dataset.0.skipped_at_build();
        EpochBatches {
            receivers,
            handles,
            next: 0,
            skipped: 0,
            skipped_at_build: at_build,
            first_bad: first.map(str::to_string),
            error: None,
        }
    }
}

/// The batches of one epoch, in order; dropping it stops the loader threads.
#[derive(Debug)]
pub struct EpochBatches {
    receivers: Vec<Receiver<Message>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    skipped: usize,
    skipped_at_build: usize,
    first_bad: Option<String>,
    error: Option<String>,
}

impl EpochBatches {
    /// Ends the epoch: the error that stopped it early, if any; otherwise a
    /// line to log when bad samples were skipped (at build time or in this
    /// epoch), else `None`.
    ///
    /// # Errors
    /// The worker's error (a file that could not be decoded).
    pub fn finish(mut self) -> Result<Option<String>> {
        self.stop();
        if let Some(err) = self.error.take() {
            anyhow::bail!("{err}");
        }
        let total = self.skipped + self.skipped_at_build;
        if total == 0 {
            return Ok(None);
        }
        let mut line = format!(
            "Skipped {total} bad sample(s): {} when the data set was built, {} in this epoch",
            self.skipped_at_build, self.skipped
        );
        if let Some(first) = &self.first_bad {
            line.push_str(&format!(" (first: {first})"));
        }
        Ok(Some(line))
    }

    /// Bad samples skipped so far in this epoch (by lazily decoding workers).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    fn stop(&mut self) {
        self.receivers.clear(); // unblocks workers waiting to send
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

impl Iterator for EpochBatches {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        if self.error.is_some() || self.receivers.is_empty() {
            return None;
        }
        let w = self.next % self.receivers.len();
        match self.receivers[w].recv().ok()? {
            Ok((batch, skipped, first_bad)) => {
                self.next += 1;
                self.skipped += skipped;
                if self.first_bad.is_none() {
                    self.first_bad = first_bad;
                }
                Some(batch)
            }
            Err(err) => {
                self.error = Some(err);
                None
            }
        }
    }
}

impl Drop for EpochBatches {
    fn drop(&mut self) {
        self.stop();
    }
}
