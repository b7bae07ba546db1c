//! The validation and test loops: one pass over their loader without
//! gradients, feeding every batch to the metrics.

use std::time::Instant;

use anyhow::{Context, Result};

use super::Runner;
use crate::data::Batch;
use crate::extension::{ExtensionFailure, HookContext, Mode, Phase};

impl Runner {
    /// Runs the validation loop once (`hammer val`).
    ///
    /// # Errors
    /// A missing `val_dataloader` or a hook error.
    pub fn val(&mut self) -> Result<Vec<(String, f64)>> {
        self.standalone(Mode::Val)
    }

    /// Runs the test loop once (`hammer test`).
    ///
    /// # Errors
    /// A missing `test_dataloader` or a hook error.
    pub fn test(&mut self) -> Result<Vec<(String, f64)>> {
        self.standalone(Mode::Test)
    }

    fn standalone(&mut self, mode: Mode) -> Result<Vec<(String, f64)>> {
        // `Epoch(val) [5]` for the weights of epoch 5 (MMEngine prints 0, its
        // runner's epoch before training; the checkpoint's says more).
        if let Some(trained) = self.weights_from {
            self.state.epoch = trained.epoch;
            self.state.iter = trained.iter;
        }
        self.fire(Phase::BeforeRun, mode)?;
        if self.loaded_checkpoint {
            self.fire(Phase::AfterLoadCheckpoint, mode)?;
        }
        let results = self.eval_pass(mode)?;
        self.fire(Phase::AfterRun, mode)?;
        Ok(results)
    }

    /// One pass of the validation or test loop; logs
    /// `Epoch(val) [e][n/n]  accuracy: ...` and returns the metrics.
    pub(super) fn eval_pass(&mut self, mode: Mode) -> Result<Vec<(String, f64)>> {
        let (before, before_epoch, before_iter, after_iter, after_epoch, after) = match mode {
            Mode::Test => (
                Phase::BeforeTest,
                Phase::BeforeTestEpoch,
                Phase::BeforeTestIter,
                Phase::AfterTestIter,
                Phase::AfterTestEpoch,
                Phase::AfterTest,
            ),
            _ => (
                Phase::BeforeVal,
                Phase::BeforeValEpoch,
                Phase::BeforeValIter,
                Phase::AfterValIter,
                Phase::AfterValEpoch,
                Phase::AfterVal,
            ),
        };
        let section = format!("{}_dataloader", mode.name());
        let started = Instant::now();
        // In a distributed training run the ranks agree on the plugins'
        // outcome (`Runner::agreed`) at the pass's phases and after each batch.
        let opened = self.open_pass(before, before_epoch, mode);
        self.agreed(opened)?;
        let loader = match mode {
            Mode::Test => self.test_loader.as_ref(),
            _ => self.val_loader.as_ref(),
        };
        let loader = loader.with_context(|| format!("the {} loop needs a `{section}`", mode.name()))?;
        let len = loader.len() as u64;
        let (batch_size, dataset_len) = (loader.batch_size(), loader.dataset_len());
        let mut data_time = 0.0;
        let mut batches = loader.epoch(0, 0);
        let mut done = 0u64;
        self.eval_batch = 0;
        loop {
            let t0 = Instant::now();
            let Some(batch) = batches.next() else { break };
            data_time += t0.elapsed().as_secs_f64();
            let opened = self.fire(before_iter, mode);
            if self.hooks.wants(before_iter) {
                // Agreed on before the gathers below, which every rank must join.
                self.agreed(opened)?;
            } else {
                opened?;
            }
            let processed = self.process_batch(batch, done as usize, batch_size, dataset_len);
            let closed = processed.and_then(|()| self.fire(after_iter, mode));
            self.agreed(closed)?;
            done += 1;
            self.eval_batch = done;
        }
        self.eval_batch = 0;
        if let Some(line) = batches.finish()? {
            self.logger.info(&line);
        }
        let computed = self.compute_metrics();
        if let Ok(results) = &computed {
            let step = if self.schedule.by_epoch { u64::from(self.state.epoch) } else { self.state.iter };
            for (name, v) in results {
                self.scalars.set(&format!("{}/{name}", mode.name()), *v);
                if mode == Mode::Val {
                    self.timings.metric(name, *v, step);
                }
            }
        }
        // Hooks at `after_val_epoch` read the results as `val/<name>`.
        let closed = computed.and_then(|results| self.fire(after_epoch, mode).map(|()| results));
        let results = self.agreed(closed)?;
        let elapsed = started.elapsed().as_secs_f64();
        let n = done.max(1) as f64;
        let position = if self.schedule.by_epoch {
            format!("Epoch({}) [{}][{done}/{len}]", mode.name(), self.state.epoch)
        } else {
            format!("Iter({}) [{done}/{len}]", mode.name())
        };
        let mut line = position;
        let mut record = serde_json::json!({
            "mode": mode.name(),
            "epoch": self.state.epoch,
            "iter": self.state.iter,
            "step": if self.schedule.by_epoch { u64::from(self.state.epoch) } else { self.state.iter },
        });
        for (name, v) in &results {
            line.push_str(&format!("  {name}: {v:.4}"));
            record[name.as_str()] = serde_json::json!(v);
        }
        // And what plugins emitted during the pass (`best/accuracy`); the
        // metrics' own `val/...` twins are left out.
        let prefix = format!("{}/", mode.name());
        for (name, v) in self.scalars.take_fresh() {
            if !name.starts_with(&prefix) && record.get(&name).is_none() {
                record[name.as_str()] = serde_json::json!(v);
            }
        }
        line.push_str(&format!("  data_time: {:.4}  time: {:.4}", data_time / n, elapsed / n));
        self.logger.info(&line);
        self.logger.record(&record);
        let closed = self.fire(after, mode);
        self.agreed(closed)?;
        Ok(results)
    }

    /// The model's output for `batch` (the `index`-th of the pass), fed to
    /// every metric. In a distributed job the metrics see every rank's rows,
    /// in the data set's order (`batch_size` per rank, `dataset_len` rows in
    /// all): the results are those of the whole data set, on every rank.
    fn process_batch(&mut self, batch: Batch, index: usize, batch_size: usize, dataset_len: usize) -> Result<()> {
        tch::no_grad(|| {
            let output = self.model.forward_t(&batch.inputs, false)?;
            let (output, targets) = match &self.dist {
                Some(d) => (
                    d.gather_rows(&output, index, batch_size, dataset_len)?,
                    d.gather_rows(&batch.targets, index, batch_size, dataset_len)?,
                ),
                None => (output, batch.targets),
            };
            let loss = self.loss.compute(&output, &targets);
            for m in &mut self.metrics {
                let started = std::time::Instant::now();
                let mut ctx = HookContext { scalars: &mut self.scalars, requests: &mut self.requests };
                m.process(&output, &targets, &loss, &mut ctx).map_err(|e| ExtensionFailure::wrap(e, "metric", m.name(), "process"))?;
                self.timings.extension(m.name(), "metric", started.elapsed());
            }
            Ok(())
        })
    }

    /// The phases that open a pass, then every metric's `reset`.
    fn open_pass(&mut self, before: Phase, before_epoch: Phase, mode: Mode) -> Result<()> {
        self.fire(before, mode)?;
        self.fire(before_epoch, mode)?;
        for m in &mut self.metrics {
            m.reset(&mut HookContext { scalars: &mut self.scalars, requests: &mut self.requests })
                .map_err(|e| ExtensionFailure::wrap(e, "metric", m.name(), "reset"))?;
        }
        Ok(())
    }

    /// Every metric's results, in order.
    fn compute_metrics(&mut self) -> Result<Vec<(String, f64)>> {
        let mut results = Vec::new();
        for m in &mut self.metrics {
            let computed = m.compute(&mut HookContext { scalars: &mut self.scalars, requests: &mut self.requests });
            results.extend(computed.map_err(|e| ExtensionFailure::wrap(e, "metric", m.name(), "compute"))?);
        }
        Ok(results)
    }
}
