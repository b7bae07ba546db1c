//! Batching, per-epoch seeded shuffling and background prefetching.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use tch::{Device, Kind, Tensor};

use super::Dataset;
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
    seed: u64,
    device: Device,
}

/// The data set's tensors, handed to loader threads as shallow clones.
#[derive(Debug)]
struct SharedDataset(Dataset);

// SAFETY: the data set's tensors are never written after construction; the
// loader threads only read them through shallow clones (new handles to the
// same immutable storage), which libtorch allows from any thread.
unsafe impl Sync for SharedDataset {}

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
            seed,
            device,
        }
    }

    /// Number of samples in the data set.
    pub fn num_samples(&self) -> usize {
        self.dataset.0.len()
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
    /// MMEngine's `DefaultSampler`), or the identity without shuffling.
    ///
    /// Reseeds libtorch's generator; call it from the training thread only.
    pub fn order(&self, epoch: u64) -> Tensor {
        let n = self.num_samples() as i64;
        if self.shuffle {
            tch::manual_seed(self.seed.wrapping_add(epoch) as i64);
            Tensor::randperm(n, (Kind::Int64, Device::Cpu))
        } else {
            Tensor::arange(n, (Kind::Int64, Device::Cpu))
        }
    }

    /// The batches of epoch `epoch` from batch `start` on (to resume in the
    /// middle of an epoch without touching the batches already consumed),
    /// assembled by a background thread up to `prefetch` batches ahead.
    pub fn epoch(&self, epoch: u64, start: usize) -> EpochBatches {
        let order = self.order(epoch);
        let (tx, rx) = sync_channel(self.prefetch);
        let data = Arc::clone(&self.dataset);
        let (batch_size, len, device) = (self.batch_size, self.len(), self.device);
        let n = self.num_samples();
        let worker = std::thread::Builder::new()
            .name("hammer-loader".into())
            .spawn(move || {
                let (inputs, targets) = (data.0.inputs.shallow_clone(), data.0.targets.shallow_clone());
                for b in start..len {
                    let lo = b * batch_size;
                    let hi = (lo + batch_size).min(n);
                    let idx = order.narrow(0, lo as i64, (hi - lo) as i64);
                    let batch = Batch {
                        inputs: inputs.index_select(0, &idx).to_device(device),
                        targets: targets.index_select(0, &idx).to_device(device),
                    };
                    if tx.send(batch).is_err() {
                        return; // the consumer stopped early
                    }
                }
            })
            .expect("spawning the loader thread");
        EpochBatches { rx: Some(rx), worker: Some(worker) }
    }
}

/// The batches of one epoch, in order; dropping it stops the loader thread.
#[derive(Debug)]
pub struct EpochBatches {
    rx: Option<Receiver<Batch>>,
    worker: Option<JoinHandle<()>>,
}

impl Iterator for EpochBatches {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl Drop for EpochBatches {
    fn drop(&mut self) {
        self.rx.take(); // unblocks a worker waiting to send
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
