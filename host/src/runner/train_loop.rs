//! The training loop: epochs of batches, one optimizer step per
//! `accumulative_counts` iterations, with validation and checkpoints as the
//! [`super::Schedule`] decides.

use std::time::Instant;

use anyhow::{Context, Result};
use tch::{Kind, Tensor};

use super::{Position, Runner};
use crate::checkpoint::store::Unit;
use crate::data::Batch;
use crate::extension::{ExtensionFailure, Mode, Phase};
use crate::logging::{format_eta, format_sci};

/// Running averages between two log lines. The loss sum stays on the
/// model's device: reading it back (a device synchronisation on CUDA) waits
/// for a log line.
#[derive(Debug)]
struct Window {
    loss_sum: Tensor,
    iters: u64,
    time: f64,
    data_time: f64,
}

impl Window {
    fn new(device: tch::Device) -> Self {
        Self { loss_sum: Tensor::zeros([], (Kind::Double, device)), iters: 0, time: 0.0, data_time: 0.0 }
    }
}

impl Runner {
    /// Runs the training loop to `max_epochs` / `max_iters`, or until a hook
    /// requests a stop.
    ///
    /// When an extension fails (a native one, or a plugin with `on_error =
    /// "abort"`) between two iterations (where model and optimizer agree), a
    /// checkpoint is saved first, so the run can be resumed once it is fixed. In a distributed job the
    /// ranks first agree that one failed, after the iteration or the
    /// training-epoch phase it failed at, and save it together.
    ///
    /// # Errors
    /// A missing `train_dataloader`, a hook error, or a failed checkpoint write.
    pub fn train(&mut self) -> Result<()> {
        self.position = Position::BetweenIterations;
        let result = self.train_loop();
        let at = std::mem::replace(&mut self.position, Position::Idle);
        // A distributed job saved in the loop, with every rank (`agree_on_stop`),
        // if the failure came after an iteration or at an epoch's phases;
        // elsewhere the other ranks may be anywhere (their last good
        // checkpoint stays).
        let failure = result.as_ref().err().and_then(|e| e.downcast_ref::<ExtensionFailure>());
        if let (Some(failure), None) = (failure, &self.dist) {
            let kind = failure.kind;
            match at {
                Position::InIteration | Position::Idle => {}
                Position::BetweenIterations => self.save_after_failure(kind),
                Position::IterationDone => {
                    // The failure came at `after_train_iter`: the iteration itself is complete.
                    self.advance_position();
                    self.save_after_failure(kind);
                }
            }
        }
        result
    }

    /// Saves the run at the current iteration after an extension (a `kind`)
    /// failed, so that it can be resumed once the extension is fixed; says
    /// so in the log.
    pub(super) fn save_after_failure(&mut self, kind: &str) {
        let iter = self.state.iter;
        match self.save_checkpoint(Unit::Iter, iter).and_then(|()| self.finish_checkpoint_write()) {
            // In a distributed job, said once, by the rank that wrote it.
            Ok(()) if !self.writes() => {}
            Ok(()) => self.logger.warn(&format!(
                "A {kind} failed; saved iter_{iter}.safetensors before stopping \
                 (once it is fixed: `--resume --relock` continues the job with it)"
            )),
            Err(e) => self.logger.warn(&format!("A {kind} failed, and saving a checkpoint failed too: {e:#}")),
        }
    }

    fn train_loop(&mut self) -> Result<()> {
        self.hooks_see_loss = [
            Phase::AfterForward,
            Phase::BeforeBackward,
            Phase::AfterBackward,
            Phase::BeforeOptimizerStep,
            Phase::AfterOptimizerStep,
            Phase::AfterTrainIter,
        ]
        .into_iter()
        .any(|p| self.hooks.wants(p));
        let len = self.train_loader.as_ref().context("training needs a `train_dataloader`")?.len() as u64;
        anyhow::ensure!(len > 0, "train_dataloader: an epoch has no batch (batch_size larger than the data set with drop_last?)");
        let max_iters = self.max_iters(len);
        if self.loaded_checkpoint && self.state.iter >= max_iters && max_iters > 0 {
            let longer = if self.schedule.by_epoch {
                format!("train_cfg.max_epochs={}", self.schedule.max_units + 1)
            } else {
                format!("train_cfg.max_iters={}", self.schedule.max_units * 2)
            };
            self.logger.warn(&format!(
                "The job is complete: it trained {} of {} {} already. To train it longer, resume with a longer schedule \
                 (`--resume --cfg-options {longer}`)",
                if self.schedule.by_epoch { u64::from(self.state.epoch) } else { self.state.iter },
                self.schedule.max_units,
                if self.schedule.by_epoch { "epochs" } else { "iterations" },
            ));
            return Ok(());
        }
        if let Some(dir) = &self.work_dir {
            let shown = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
            self.logger.info(&format!("Work dir: {}", shown.display()));
        }
        let started = Instant::now();
        let start_iter = self.state.iter;
        self.fire(Phase::BeforeRun, Mode::Train)?;
        if self.loaded_checkpoint {
            self.fire(Phase::AfterLoadCheckpoint, Mode::Train)?;
        }
        self.logger.info(&format!(
            "Training {} for {} {} ({} iterations of {} per epoch) on {:?}",
            self.cfg.model.kind,
            self.schedule.max_units,
            if self.schedule.by_epoch { "epochs" } else { "iterations" },
            max_iters,
            len,
            self.model.device(),
        ));
        self.fire(Phase::BeforeTrain, Mode::Train)?;
        if self.state.iter == 0 {
            for _ in 0..self.schedule.val_passes_before_training() {
                self.eval_pass(Mode::Val)?;
            }
        }
        let mut window = Window::new(self.model.device());
        while self.state.iter < max_iters && self.requests.stop.is_none() {
            self.fire_agreed(Phase::BeforeTrainEpoch)?;
            let loader = self.train_loader.as_ref().expect("checked above");
            let mut batches = loader.epoch(u64::from(self.state.epoch), self.state.inner_iter as usize);
            loop {
                let t0 = Instant::now();
                let Some(batch) = batches.next() else { break };
                let waited = t0.elapsed();
                window.data_time += waited.as_secs_f64();
                self.timings.data_wait += waited;
                self.position = Position::InIteration;
                let failure = match self.train_iter(batch, &mut window, max_iters) {
                    Ok(()) => None,
                    // After a complete iteration, a distributed job tells the
                    // other ranks first, so that they all save it.
                    Err(e) if self.dist.is_some() && self.position == Position::IterationDone && ExtensionFailure::is(&e) => Some(e),
                    Err(e) => return Err(e),
                };
                window.time += t0.elapsed().as_secs_f64();
                self.advance_position();
                self.agree_on_stop(failure)?;
                let done = self.state.iter - start_iter;
                if self.logger.shows_progress() {
                    self.logger.progress(&self.progress_label(len), self.state.iter, max_iters);
                }
                if self.log_due() {
                    let eta = started.elapsed().as_secs_f64() / done as f64 * (max_iters - self.state.iter) as f64;
                    self.log_train(&mut window, len, max_iters, eta);
                }
                self.after_unit(Unit::Iter, max_iters)?;
                // A stop request ends an iteration-based run after this
                // iteration, an epoch-based one after this epoch (as MMEngine).
                let stop_now = self.requests.stop.is_some() && !self.schedule.by_epoch;
                if self.state.at_epoch_start() || self.state.iter >= max_iters || stop_now {
                    break;
                }
            }
            if let Some(line) = batches.finish()? {
                self.logger.info(&line);
            }
            self.fire_agreed(Phase::AfterTrainEpoch)?;
            if self.state.at_epoch_start() {
                self.after_unit(Unit::Epoch, max_iters)?;
            }
        }
        self.logger.end_progress();
        if let Some(reason) = self.requests.stop.clone() {
            self.logger.info(&format!("Training stopped early: {reason}"));
        }
        self.fire_agreed(Phase::AfterTrain)?;
        self.finish_checkpoint_write()?;
        self.report_all_reduce();
        if let Some(dist) = &self.dist {
            // No rank leaves while another may still need it.
            dist.barrier()?;
        }
        self.fire(Phase::AfterRun, Mode::Train)?;
        self.logger.info(&format!("Training finished in {:.3} s", started.elapsed().as_secs_f64()));
        let unit = if self.schedule.by_epoch { "epoch" } else { "iteration" };
        for line in self.timings.table(unit) {
            self.logger.info(&line);
        }
        Ok(())
    }

    /// One training iteration: forward, loss, backward, and on the last
    /// iteration of an accumulation window, clipping and the optimizer step.
    fn train_iter(&mut self, batch: Batch, window: &mut Window, max_iters: u64) -> Result<()> {
        self.apply_lr_policies()?;
        self.fire(Phase::BeforeTrainIter, Mode::Train)?;
        // Anything random in the step (dropout) depends on the seed and the
        // iteration only, so a resumed run draws the same numbers.
        tch::manual_seed(iteration_seed(self.state.seed, self.state.iter));
        self.fire(Phase::BeforeForward, Mode::Train)?;
        let (precision, device) = (self.precision, self.model.device());
        let loss = crate::model::autocast(precision, device, || -> Result<Tensor> {
            let output = self.model.forward_t(&batch.inputs, true)?;
            Ok(self.loss.compute(&output, &batch.targets))
        })?;
        if self.hooks_see_loss {
            // Hooks read this iteration's loss; log lines show the window's mean.
            self.scalars.set("loss", loss.double_value(&[]));
            self.scalars.set("lr", self.optimizer.lr());
        }
        self.fire(Phase::AfterForward, Mode::Train)?;
        let (factor, update) = accumulation(self.state.iter, self.cfg.optim.accumulative_counts.into(), max_iters);
        self.fire(Phase::BeforeBackward, Mode::Train)?;
        match (&self.scaler, factor) {
            (Some(scaler), _) => scaler.scale(&(&loss / factor as f64)).backward(),
            (None, 1) => loss.backward(),
            (None, _) => (&loss / factor as f64).backward(),
        }
        self.fire(Phase::AfterBackward, Mode::Train)?;
        // DDP: gradients are averaged over the ranks once per optimizer
        // step; inside an accumulation window they only accumulate (`no_sync`).
        if update {
            self.average_gradients()?;
        }
        // fp16: gradients back to their true scale; a step with an overflow is skipped.
        let finite = match (&mut self.scaler, update) {
            (Some(scaler), true) => {
                let finite = scaler.unscale(self.optimizer.params());
                scaler.update(finite);
                finite
            }
            _ => true,
        };
        if update && !finite {
            self.optimizer.zero_grad();
        }
        if update && finite {
            self.clipper.clip(self.optimizer.params());
            self.fire(Phase::BeforeOptimizerStep, Mode::Train)?;
            self.optimizer.step()?;
            self.optimizer.zero_grad();
            self.fire(Phase::AfterOptimizerStep, Mode::Train)?;
        }
        let _ = window.loss_sum.g_add_(&loss.detach().to_kind(Kind::Double));
        window.iters += 1;
        // Model and optimizer agree again: a checkpoint taken now is consistent.
        self.position = Position::IterationDone;
        self.fire(Phase::AfterTrainIter, Mode::Train)
    }

    /// Averages the gradients over the ranks of a distributed job.
    fn average_gradients(&mut self) -> Result<()> {
        let (Some(dist), Some(reducer)) = (&self.dist, &mut self.reducer) else { return Ok(()) };
        // Its time and bytes are the reducer's own; reported at the end.
        reducer.average(dist.group()).map_err(|e| dist.explain(e))
    }

    /// Logs what averaging gradients cost per optimizer step.
    fn report_all_reduce(&self) {
        let Some(reducer) = &self.reducer else { return };
        let stats = reducer.stats();
        if stats.steps == 0 {
            return;
        }
        let steps = stats.steps as f64;
        self.logger.info(&format!(
            "All-reduce: {} steps, {:.3} ms and {:.2} MB per step (model parameters: {:.2} MB)",
            stats.steps,
            stats.time.as_secs_f64() * 1e3 / steps,
            stats.bytes as f64 / 1e6 / steps,
            reducer.param_bytes() as f64 / 1e6
        ));
    }

    /// Counts the iteration just completed (and the epoch, at its last batch).
    fn advance_position(&mut self) {
        self.position = Position::BetweenIterations;
        self.state.iter += 1;
        self.state.inner_iter += 1;
        let len = self.train_loader.as_ref().map_or(0, |l| l.len() as u64);
        if self.state.inner_iter == len {
            self.state.epoch += 1;
            self.state.inner_iter = 0;
        }
    }

    /// Checkpoints and validation due after the `unit` (an iteration or
    /// an epoch) just completed: a periodic checkpoint if the checkpoints
    /// count in `unit`, validation if the run does, then the checkpoint a
    /// hook asked for (after the units the run or its checkpoints count in,
    /// and at every epoch's end).
    fn after_unit(&mut self, unit: Unit, max_iters: u64) -> Result<()> {
        let n = match unit {
            Unit::Iter => self.state.iter,
            Unit::Epoch => u64::from(self.state.epoch),
        };
        let last = self.state.iter >= max_iters || self.requests.stop.is_some();
        let checkpoints_count = self.schedule.checkpoint_unit() == unit;
        let training_counts = self.schedule.unit() == unit;
        if checkpoints_count && self.schedule.checkpoint_after(n, last) {
            self.save_checkpoint(unit, n)?;
        }
        if training_counts {
            for _ in 0..self.schedule.val_passes_after(n.min(self.schedule.max_units)) {
                self.eval_pass(Mode::Val)?;
            }
        }
        if checkpoints_count || training_counts || unit == Unit::Epoch {
            self.save_requested()?;
        }
        Ok(())
    }

    /// Saves the checkpoint a hook asked for, if one did.
    fn save_requested(&mut self) -> Result<()> {
        match self.requests.checkpoint.take() {
            Some(tag) => self.save_requested_checkpoint(&tag),
            None => Ok(()),
        }
    }

    pub(super) fn max_iters(&self, len: u64) -> u64 {
        if self.schedule.by_epoch {
            self.schedule.max_units * len
        } else {
            self.schedule.max_units
        }
    }

    fn log_due(&self) -> bool {
        let interval = self.cfg.log.interval.max(1);
        if self.schedule.by_epoch {
            // The epoch counter has already moved on at the last batch.
            self.state.at_epoch_start() || self.state.inner_iter.is_multiple_of(interval)
        } else {
            self.state.iter.is_multiple_of(interval)
        }
    }

    /// The iteration just counted, as (epoch, batch of that epoch), both
    /// 1-based: at an epoch's last batch the state already points at the
    /// next epoch's start.
    fn finished_at(&self, len: u64) -> (u32, u64) {
        if self.state.at_epoch_start() {
            (self.state.epoch, len)
        } else {
            (self.state.epoch + 1, self.state.inner_iter)
        }
    }

    fn progress_label(&self, len: u64) -> String {
        if self.schedule.by_epoch {
            let (epoch, done) = self.finished_at(len);
            format!("Epoch(train) [{epoch}] {done}/{len}")
        } else {
            "Iter(train)".to_string()
        }
    }

    /// Logs `Epoch(train) [e][ i/n]  lr: ...  eta: ...  time: ...  data_time: ...  loss: ...`
    /// and records the same scalars in `scalars.jsonl`.
    fn log_train(&mut self, window: &mut Window, len: u64, max_iters: u64, eta: f64) {
        let n = window.iters.max(1) as f64;
        let loss = window.loss_sum.double_value(&[]) / n;
        let (time, data_time, lr) = (window.time / n, window.data_time / n, self.optimizer.lr());
        for (name, v) in [("lr", lr), ("time", time), ("data_time", data_time), ("loss", loss)] {
            self.scalars.set(name, v);
        }
        let position = if self.schedule.by_epoch {
            let (epoch, inner) = self.finished_at(len);
            let w = len.to_string().len();
            format!("Epoch(train) [{epoch}][{inner:>w$}/{len}]")
        } else {
            let w = max_iters.to_string().len();
            format!("Iter(train) [{:>w$}/{max_iters}]", self.state.iter)
        };
        let mut line = format!(
            "{position}  lr: {}  eta: {}  time: {time:.4}  data_time: {data_time:.4}",
            format_sci(lr),
            format_eta(eta)
        );
        let mut record = serde_json::json!({
            "mode": "train",
            "epoch": self.finished_at(len).0,
            "iter": self.state.iter,
            "step": self.state.iter,
        });
        // What was set since the last record: the window's averages, and what
        // plugins emitted; the line leaves out names with a `/` (metrics of a
        // validation, plugin namespaces), which the record keeps.
        for (name, v) in self.scalars.take_fresh() {
            if !name.contains('/') && !matches!(name.as_str(), "lr" | "time" | "data_time") {
                line.push_str(&format!("  {name}: {v:.4}"));
            }
            record[name.as_str()] = serde_json::json!(v);
        }
        self.logger.info(&line);
        self.logger.record(&record);
        *window = Window::new(self.model.device());
    }
}

/// MMEngine's gradient accumulation over the whole run: the loss of
/// iteration `iter` (0-based) is divided by the window size — the last,
/// shorter window by its own size — and the optimizer steps at the end of
/// each window. Returns `(divisor, step_now)`.
fn accumulation(iter: u64, counts: u64, max_iters: u64) -> (u64, bool) {
    let counts = counts.max(1);
    let divisible = max_iters / counts * counts;
    let factor = if iter < divisible { counts } else { max_iters - divisible };
    let update = (iter + 1).is_multiple_of(counts) || iter + 1 == max_iters;
    (factor.max(1), update)
}

/// A seed for libtorch's generator that depends on the run's seed and the
/// iteration only (SplitMix64 of both).
fn iteration_seed(seed: u64, iter: u64) -> i64 {
    let mut z = seed ^ iter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulation_follows_mmengine() {
        // 10 iterations in windows of 4: steps after 4, 8 and 10; the last
        // window of 2 divides its losses by 2.
        let plan: Vec<(u64, bool)> = (0..10).map(|i| accumulation(i, 4, 10)).collect();
        let steps: Vec<u64> = (0..10).filter(|&i| plan[i as usize].1).map(|i| i + 1).collect();
        assert_eq!(steps, vec![4, 8, 10]);
        assert_eq!(plan[0].0, 4);
        assert_eq!(plan[8].0, 2);
        assert_eq!(accumulation(5, 1, 10), (1, true));
    }

    #[test]
    fn iteration_seeds_differ_and_repeat() {
        assert_eq!(iteration_seed(0, 5), iteration_seed(0, 5));
        assert_ne!(iteration_seed(0, 5), iteration_seed(0, 6));
        assert_ne!(iteration_seed(1, 5), iteration_seed(0, 5));
        // libtorch takes the seed as i64: every draw is distinct, none collide.
        let seeds: std::collections::HashSet<i64> = (0..10_000).map(|i| iteration_seed(7, i)).collect();
        assert_eq!(seeds.len(), 10_000);
    }
}
