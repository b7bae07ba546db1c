//! When the loop validates, checkpoints and stops: pure decisions from the
//! config, taken after each training epoch or iteration and carried out by
//! the runner.
//!
//! Training is counted in *units*: epochs for an epoch-based run, iterations
//! for an iteration-based one. Validation follows either MMEngine's
//! `val_begin`/`val_interval` (validate after unit `k` when `k >= val_begin`
//! and `k % val_interval == 0`, and after the last unit) or an MMCV workflow
//! such as `[["train", 2], ["val", 1]]`, repeated until training ends; when
//! training ends inside a cycle, the cycle's remaining `val` entries still run,
//! as MMCV's runner does.

use anyhow::{bail, Result};

use crate::checkpoint::store::Unit;
use crate::config::{CheckpointConfig, TrainConfig};

/// The decisions of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Units are epochs (`true`) or iterations.
    pub by_epoch: bool,
    /// Length of training in units.
    pub max_units: u64,
    validation: Validation,
    checkpoint: CheckpointRule,
}

#[derive(Debug, Clone, PartialEq)]
enum Validation {
    Never,
    Interval { begin: u64, interval: u64 },
    Workflow(Workflow),
}

/// A workflow cycle seen from its training units.
#[derive(Debug, Clone, PartialEq)]
struct Workflow {
    /// Validation passes before the first training unit of a cycle.
    prefix: u64,
    /// `between[p]`: passes after training unit `p + 1` of the cycle and
    /// before the next one (for the last unit: to the end of the cycle).
    between: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq)]
struct CheckpointRule {
    by_epoch: bool,
    interval: u64,
    save_last: bool,
}

impl Schedule {
    /// The schedule of `train_cfg` and `checkpoint`; `has_val` tells whether a
    /// validation loader exists.
    ///
    /// # Errors
    /// A workflow or interval that cannot be followed (e.g. validation
    /// without a `val_dataloader`).
    pub fn new(train: &TrainConfig, checkpoint: &CheckpointConfig, has_val: bool) -> Result<Self> {
        let max_units = if train.by_epoch {
            u64::from(train.max_epochs.unwrap_or(0))
        } else {
            train.max_iters.unwrap_or(0)
        };
        let validation = match &train.workflow {
            Some(flow) => {
                let wf = Workflow::new(flow)?;
                if !has_val && (wf.prefix > 0 || wf.between.iter().any(|&n| n > 0)) {
                    bail!("train_cfg.workflow has `val` entries but there is no `val_dataloader`");
                }
                Validation::Workflow(wf)
            }
            None if !has_val => Validation::Never,
            None => Validation::Interval {
                begin: train.val_begin.unwrap_or(1),
                interval: train.val_interval.unwrap_or(1).max(1),
            },
        };
        let checkpoint = CheckpointRule {
            by_epoch: checkpoint.by_epoch.unwrap_or(train.by_epoch),
            interval: checkpoint.interval,
            save_last: checkpoint.save_last,
        };
        Ok(Self { by_epoch: train.by_epoch, max_units, validation, checkpoint })
    }

    /// Validation passes before any training (a workflow that starts with `val`).
    pub fn val_passes_before_training(&self) -> u64 {
        match &self.validation {
            Validation::Workflow(wf) if self.max_units > 0 => wf.prefix,
            _ => 0,
        }
    }

    /// Validation passes after training unit `k` (1-based) completes.
    pub fn val_passes_after(&self, k: u64) -> u64 {
        let last = k >= self.max_units;
        match &self.validation {
            Validation::Never => 0,
            Validation::Interval { begin, interval } => u64::from(k >= *begin && (k.is_multiple_of(*interval) || last)),
            Validation::Workflow(wf) => {
                let cycle = wf.between.len() as u64;
                let p = ((k - 1) % cycle) as usize;
                if last {
                    wf.between[p..].iter().sum()
                } else if p + 1 == wf.between.len() {
                    wf.between[p] + wf.prefix
                } else {
                    wf.between[p]
                }
            }
        }
    }

    /// What checkpoints count: epochs or iterations.
    pub fn checkpoint_unit(&self) -> Unit {
        if self.checkpoint.by_epoch { Unit::Epoch } else { Unit::Iter }
    }

    /// What the run counts (`train_cfg.by_epoch`): epochs or iterations.
    pub fn unit(&self) -> Unit {
        if self.by_epoch { Unit::Epoch } else { Unit::Iter }
    }

    /// A warning when the checkpoint settings, read in this run's unit, save
    /// far more checkpoints than a user would mean: `checkpoint.interval = 1`
    /// (an epoch config's) in an iteration-based run saves every iteration.
    pub fn checkpoint_warning(&self, cfg: &CheckpointConfig) -> Option<String> {
        const MANY: u64 = 100;
        let interval = self.checkpoint.interval;
        if cfg.by_epoch.is_some() || self.by_epoch || interval == 0 || self.max_units / interval <= MANY {
            return None;
        }
        Some(format!(
            "checkpoint.interval = {interval} counts iterations in this iteration-based run (train_cfg.by_epoch = false): \
             {} checkpoints will be saved. Set checkpoint.interval to the iterations between two checkpoints, \
             or checkpoint.by_epoch = true to save one per epoch",
            self.max_units / interval
        ))
    }

    /// Whether to save a checkpoint after checkpoint unit `n` (1-based, in
    /// the checkpoint's own unit); `last` marks the end of training.
    pub fn checkpoint_after(&self, n: u64, last: bool) -> bool {
        let rule = &self.checkpoint;
        (rule.interval > 0 && n.is_multiple_of(rule.interval)) || (last && rule.save_last)
    }
}

impl Workflow {
    fn new(flow: &[(String, u64)]) -> Result<Self> {
        let mut prefix = 0;
        let mut between: Vec<u64> = Vec::new();
        for (i, (mode, n)) in flow.iter().enumerate() {
            match mode.as_str() {
                "train" => between.extend(std::iter::repeat_n(0, *n as usize)),
                "val" => match between.last_mut() {
                    Some(after) => *after += n,
                    None => prefix += n,
                },
                other => bail!("train_cfg.workflow[{i}]: unknown mode `{other}` (train, val)"),
            }
        }
        if between.is_empty() {
            bail!("train_cfg.workflow: needs at least one `train` entry with a count of 1 or more");
        }
        Ok(Self { prefix, between })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train(max_epochs: u32) -> TrainConfig {
        TrainConfig { max_epochs: Some(max_epochs), ..TrainConfig::default() }
    }

    fn vals(s: &Schedule) -> Vec<u64> {
        (1..=s.max_units).map(|k| s.val_passes_after(k)).collect()
    }

    #[test]
    fn mmengine_interval_validates_from_val_begin_and_at_the_end() {
        let cfg = TrainConfig { val_begin: Some(2), val_interval: Some(3), ..train(10) };
        let s = Schedule::new(&cfg, &CheckpointConfig::default(), true).unwrap();
        assert_eq!(vals(&s), vec![0, 0, 1, 0, 0, 1, 0, 0, 1, 1]);
        let s = Schedule::new(&cfg, &CheckpointConfig::default(), false).unwrap();
        assert_eq!(vals(&s), vec![0; 10]);
    }

    #[test]
    fn mmcv_workflow_repeats_and_finishes_its_last_cycle() {
        let flow = |f: &[(&str, u64)]| f.iter().map(|(m, n)| (m.to_string(), *n)).collect();
        let cfg = TrainConfig { workflow: Some(flow(&[("train", 2), ("val", 1)])), ..train(5) };
        let s = Schedule::new(&cfg, &CheckpointConfig::default(), true).unwrap();
        assert_eq!(vals(&s), vec![0, 1, 0, 1, 1]);
        assert_eq!(s.val_passes_before_training(), 0);

        let cfg = TrainConfig { workflow: Some(flow(&[("val", 1), ("train", 1)])), ..train(3) };
        let s = Schedule::new(&cfg, &CheckpointConfig::default(), true).unwrap();
        assert_eq!(s.val_passes_before_training(), 1);
        assert_eq!(vals(&s), vec![1, 1, 0]);

        let cfg = TrainConfig { workflow: Some(flow(&[("train", 3), ("val", 2)])), ..train(4) };
        let s = Schedule::new(&cfg, &CheckpointConfig::default(), true).unwrap();
        assert_eq!(vals(&s), vec![0, 0, 2, 2]);

        let cfg = TrainConfig { workflow: Some(flow(&[("val", 1)])), ..train(4) };
        assert!(Schedule::new(&cfg, &CheckpointConfig::default(), true).is_err());
        let cfg = TrainConfig { workflow: Some(flow(&[("train", 1), ("val", 1)])), ..train(4) };
        assert!(Schedule::new(&cfg, &CheckpointConfig::default(), false).is_err());
    }

    #[test]
    fn an_epoch_interval_read_as_iterations_is_warned_about() {
        let iters = TrainConfig { by_epoch: false, max_epochs: None, max_iters: Some(500), ..TrainConfig::default() };
        let ckpt = CheckpointConfig { interval: 1, ..CheckpointConfig::default() };
        let s = Schedule::new(&iters, &ckpt, false).unwrap();
        let warning = s.checkpoint_warning(&ckpt).expect("500 saves");
        assert!(warning.contains("500 checkpoints") && warning.contains("checkpoint.by_epoch"), "{warning}");
        let chosen = CheckpointConfig { by_epoch: Some(false), ..ckpt.clone() };
        assert_eq!(Schedule::new(&iters, &chosen, false).unwrap().checkpoint_warning(&chosen), None, "asked for");
        let sparse = CheckpointConfig { interval: 50, ..ckpt.clone() };
        assert_eq!(Schedule::new(&iters, &sparse, false).unwrap().checkpoint_warning(&sparse), None);
        assert_eq!(Schedule::new(&train(500), &ckpt, false).unwrap().checkpoint_warning(&ckpt), None, "epochs");
    }

    #[test]
    fn checkpoints_every_interval_and_at_the_end() {
        let ckpt = CheckpointConfig { interval: 3, ..CheckpointConfig::default() };
        let s = Schedule::new(&train(7), &ckpt, false).unwrap();
        let saved: Vec<u64> = (1..=7).filter(|&n| s.checkpoint_after(n, n == 7)).collect();
        assert_eq!(saved, vec![3, 6, 7]);
        let ckpt = CheckpointConfig { interval: 0, save_last: false, ..CheckpointConfig::default() };
        let s = Schedule::new(&train(7), &ckpt, false).unwrap();
        assert!((1..=7).all(|n| !s.checkpoint_after(n, n == 7)));
    }
}
