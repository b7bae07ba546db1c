//! The runner: builds everything a job needs from its config, then runs the
//! training, validation or test loop, firing [`Phase`]s at which hooks
//! are called.
//!
//! Building follows Hammer's order: work dir and logs, data loaders, model,
//! optimizer, loss, metrics, the extensions an [`ExtensionLoader`] brings
//! (the plugin host, for `[[plugins]]`), then resume (exact: weights, optimizer
//! state, position in the epoch, accumulated gradients) or load weights.
//! The loops live in [`train_loop`] and [`eval_loop`]; when to validate and
//! checkpoint is decided by [`schedule`].

mod agreement;
mod checkpointing;
mod dispatch;
mod eval_loop;
pub mod hook_set;
pub mod schedule;
pub mod timings;
mod train_loop;

#[cfg(test)]
mod tests;

pub use hook_set::HookSet;
pub use schedule::Schedule;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tch::Device;

use crate::checkpoint::{store, Checkpoint, RunnerState};
use crate::config::{Config, DataLoaderConfig};
use crate::data::{DataLoader, Dataset, Shard};
use crate::dist::{Dist, GradReducer};
use crate::extension::{ExtensionLoader, LrPolicy, Metric, NoExtensions, OptimizerView, Requests, Scalars, Setup};
#[cfg(doc)]
use crate::extension::Phase;
use crate::logging::Logger;
use crate::loss::Loss;
use crate::metric;
use crate::model::{GradScaler, Model, Precision};
use crate::optim::{self, GradClipper, Optimizer};

/// How a run starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Start {
    /// From freshly initialised weights.
    #[default]
    Fresh,
    /// Continue the job from the newest checkpoint of its work dir.
    ResumeLatest,
    /// Continue from this checkpoint.
    ResumeFrom(PathBuf),
    /// Load weights only (a hammer checkpoint or a safetensors state dict),
    /// then train from the start.
    LoadFrom(PathBuf),
}

/// Where the training loop is, which decides what a failure there may save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Not in `train`: building, `val`, `test`, or after training.
    Idle,
    /// In `train`, between iterations (an epoch's phases, a validation
    /// pass): model and optimizer agree, a checkpoint is consistent.
    BetweenIterations,
    /// Inside a training iteration, where model and optimizer may disagree.
    InIteration,
    /// The iteration finished (its `after_train_iter`); only its counting is left.
    IterationDone,
}

/// A job ready to run.
pub struct Runner {
    cfg: Config,
    work_dir: Option<PathBuf>,
    model: Model,
    optimizer: Optimizer,
    clipper: GradClipper,
    loss: Loss,
    train_loader: Option<DataLoader>,
    val_loader: Option<DataLoader>,
    test_loader: Option<DataLoader>,
    metrics: Vec<Box<dyn Metric>>,
    hooks: HookSet,
    lr_policies: Vec<Box<dyn LrPolicy>>,
    logger: Logger,
    schedule: Schedule,
    state: RunnerState,
    scalars: Scalars,
    requests: Requests,
    loaded_checkpoint: bool,
    pending_write: Option<std::thread::JoinHandle<Result<()>>>,
    /// Where the training loop is: what a failure may save.
    position: Position,
    /// Some hook is called after the forward pass: keep `loss` current for it.
    hooks_see_loss: bool,
    /// `env.amp`: the training forward pass's autocast precision.
    precision: Precision,
    /// fp16's dynamic loss scaler.
    scaler: Option<GradScaler>,
    /// Where the time went, for the summary at the end.
    timings: timings::Timings,
    /// The batch of the validation or test pass running (its `inner_iter`).
    eval_batch: u64,
    /// Where the run whose weights were loaded (`Start::LoadFrom` a hammer
    /// checkpoint) had got to: what `hammer val` / `test` report as their epoch.
    weights_from: Option<RunnerState>,
    /// This process's part in a distributed job.
    dist: Option<Dist>,
    /// Averages gradients over the ranks of `dist`.
    reducer: Option<GradReducer>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("work_dir", &self.work_dir).field("state", &self.state).finish()
    }
}

impl Runner {
    /// Builds the job described by `cfg`, whose extensions are those
    /// registered afterwards ([`Self::hooks_mut`]). With a `work_dir`, logs,
    /// scalars and checkpoints are written there (it must be prepared
    /// already, see [`crate::workdir::prepare`]); without one, the run logs
    /// to the console only.
    ///
    /// # Errors
    /// A config that lists `[[plugins]]` (they need a loader, see
    /// [`Self::build_with`]), a device that is not available, a config the
    /// model, data or optimizer cannot be built from, or a checkpoint that is
    /// missing, corrupted or does not fit this config.
    pub fn build(cfg: Config, work_dir: Option<PathBuf>, start: Start) -> Result<Self> {
        if !cfg.plugins.is_empty() {
            bail!(
                "the config lists {} plugin(s): build the runner with `Runner::build_with` and a plugin loader \
                 (`hammer::plugin::Loader`)",
                cfg.plugins.len()
            );
        }
        Self::build_with(cfg, work_dir, start, None, &mut NoExtensions)
    }

    /// [`Self::build`], with the extensions `extensions` loads once the
    /// model and the optimizer exist; with `dist`, as one rank of that
    /// distributed job: each epoch is sharded by rank, parameters and
    /// buffers are rank 0's once the run has started (or resumed),
    /// gradients are averaged over the ranks, and only rank 0 writes into
    /// `work_dir` (every rank reads it to resume).
    ///
    /// # Errors
    /// As [`Self::build`], an extension that cannot be loaded, and a
    /// broadcast that fails.
    pub fn build_with(
        cfg: Config,
        work_dir: Option<PathBuf>,
        start: Start,
        dist: Option<Dist>,
        extensions: &mut dyn ExtensionLoader,
    ) -> Result<Self> {
        tch::set_num_threads(cfg.env.num_threads as i32);
        if cfg.env.deterministic {
            // cuDNN's fastest convolutions are not deterministic; CPU kernels are.
            tch::Cuda::set_user_enabled_cudnn(false);
            tch::Cuda::cudnn_set_benchmark(false);
        }
        let device = device(&cfg.env.device)?;
        let rank = dist.as_ref().map_or(0, Dist::rank);
        let logger = if rank == 0 {
            Logger::with_tensorboard(work_dir.as_deref(), cfg.log.progress_bar, cfg.log.tensorboard)?
        } else {
            Logger::warnings_only()
        };
        let seed = cfg.env.seed;
        let shard = dist.as_ref().map(|d| Shard { rank: d.rank(), world_size: d.world_size() });
        let loader = |section: &str, c: &Option<DataLoaderConfig>| -> Result<Option<DataLoader>> {
            let Some(c) = c else { return Ok(None) };
            let data = Dataset::build(&c.dataset, section)?;
            // A label the model has no output for would fail deep inside the loss.
            if cfg.model.kind != "torchscript" {
                let ignore = (cfg.loss.kind == "cross_entropy").then_some(crate::loss::IGNORE_INDEX);
                data.check_labels(&format!("{section}.dataset"), cfg.model.num_classes, ignore)?;
            }
            let loader = DataLoader::new(data, c, seed, device);
            Ok(Some(match shard {
                Some(shard) => loader.sharded(shard),
                None => loader,
            }))
        };
        let train_loader = loader("train_dataloader", &cfg.train_dataloader)?;
        let val_loader = loader("val_dataloader", &cfg.val_dataloader)?;
        let test_loader = loader("test_dataloader", &cfg.test_dataloader)?;
        // Data generation reseeds libtorch; the model's weights depend on env.seed only.
        tch::manual_seed(seed as i64);
        // A resumed TorchScript model is rebuilt from the module its checkpoint
        // saved, so its buffers (which tch cannot list) continue exactly.
        let resume_from = match &start {
            Start::ResumeLatest => work_dir.as_deref().map(store::last).transpose()?.flatten(),
            Start::ResumeFrom(path) => Some(path.clone()),
            _ => None,
        };
        let script = match (&resume_from, cfg.model.kind.as_str()) {
            (Some(path), "torchscript") => Checkpoint::load(path)?.section("script").into_iter().next(),
            _ => None,
        }
        .map(|(_, t)| Vec::<u8>::try_from(t.flatten(0, -1)))
        .transpose()?;
        let model = Model::build_from(&cfg.model, device, script.as_deref())?;
        let precision = Precision::parse(&cfg.env.amp, device)?;
        let scaler = (precision == Precision::Fp16).then(GradScaler::default);
        let params = model.parameters().iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
        let (optimizer, clipper) = optim::build(&cfg.optim, params)?;
        let loss = Loss::from_name(&cfg.loss.kind)?;
        let mut metrics = metric::build(&cfg.val_evaluator)?;
        let schedule = Schedule::new(&cfg.train_cfg, &cfg.checkpoint, val_loader.is_some())?;
        if let Some(warning) = schedule.checkpoint_warning(&cfg.checkpoint) {
            logger.warn(&warning);
        }
        let setup = Setup {
            parameters: model.parameters(),
            optimizer: OptimizerView { base_lr: optimizer.base_lr(), momentum: optimizer.momentum() },
            logger: &logger,
            work_dir: work_dir.as_deref(),
            shard,
        };
        let loaded = extensions.load(&setup)?;
        let mut hooks = HookSet::default();
        for hook in loaded.hooks {
            hooks.register(hook);
        }
        metrics.extend(loaded.metrics);
        let reducer = dist.as_ref().map(|_| {
            let cap = (cfg.env.dist_cfg.bucket_cap_mb * 1024.0 * 1024.0) as usize;
            GradReducer::new(model.parameters(), cap)
        });
        let mut runner = Self {
            state: RunnerState { seed, ..RunnerState::default() },
            cfg,
            work_dir,
            model,
            optimizer,
            clipper,
            loss,
            train_loader,
            val_loader,
            test_loader,
            metrics,
            hooks,
            lr_policies: loaded.lr_policies,
            logger,
            schedule,
            scalars: Scalars::default(),
            requests: Requests::default(),
            loaded_checkpoint: false,
            pending_write: None,
            position: Position::Idle,
            hooks_see_loss: false,
            precision,
            scaler,
            timings: timings::Timings::default(),
            eval_batch: 0,
            weights_from: None,
            dist,
            reducer,
        };
        runner.start(start)?;
        runner.broadcast_from_rank_zero()?;
        Ok(runner)
    }

    /// Whether this process writes logs, scalars and checkpoints: always,
    /// but in a distributed job rank 0 alone.
    pub fn writes(&self) -> bool {
        self.dist.as_ref().is_none_or(Dist::is_main)
    }

    /// Makes every rank start from rank 0's parameters and buffers (freshly
    /// initialised or resumed), as DDP does when it wraps a model.
    fn broadcast_from_rank_zero(&mut self) -> Result<()> {
        let Some(dist) = &self.dist else { return Ok(()) };
        let tensors: Vec<tch::Tensor> = self.model.state().iter().map(|(_, t)| t.detach()).collect();
        tch::no_grad(|| dist.broadcast(&tensors)).context("broadcasting rank 0's parameters and buffers")?;
        let reducer = self.reducer.as_ref().expect("built with dist");
        self.logger.info(&format!(
            "Distributed: rank {} of {} ({} backend); {} parameter tensors ({:.1} MB) averaged in {} bucket(s) of up to {} MB",
            dist.rank(),
            dist.world_size(),
            dist.group().backend_name(),
            self.model.parameters().len(),
            reducer.param_bytes() as f64 / 1e6,
            reducer.buckets(),
            self.cfg.env.dist_cfg.bucket_cap_mb
        ));
        Ok(())
    }

    /// The hooks of this run; register more before running.
    pub fn hooks_mut(&mut self) -> &mut HookSet {
        &mut self.hooks
    }

    /// The run's logger (console, `hammer.log`, scalars).
    pub fn logger(&self) -> &Logger {
        &self.logger
    }

    /// The model being trained.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Where the runner is: epochs and iterations completed.
    pub fn state(&self) -> RunnerState {
        self.state
    }

    /// The resolved config of this run.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn start(&mut self, start: Start) -> Result<()> {
        match start {
            Start::Fresh => Ok(()),
            Start::ResumeLatest => {
                let dir = self.work_dir.clone().context("resuming needs a work dir")?;
                let Some(path) = store::last(&dir)? else {
                    bail!(
                        "cannot resume: `{}` has no `{}` (no checkpoint was saved yet); run without --resume to start the job over",
                        dir.display(),
                        store::LAST_CHECKPOINT
                    );
                };
                self.resume(&path)
            }
            Start::ResumeFrom(path) => self.resume(&path),
            Start::LoadFrom(path) => self.load_weights(&path),
        }
    }

    /// Restores weights, optimizer state, accumulated gradients and position.
    fn resume(&mut self, path: &Path) -> Result<()> {
        let ckpt = Checkpoint::load(path)?;
        let shown = path.display();
        self.model
            .load_state_dict(&ckpt.section("model."))
            .with_context(|| format!("checkpoint `{shown}` does not fit this config's model"))?;
        self.optimizer
            .load_state(&ckpt.section_map("optimizer."), &ckpt.optimizer)
            .with_context(|| format!("checkpoint `{shown}` does not fit this config's optimizer"))?;
        let rank = self.dist.as_ref().map_or(0, Dist::rank);
        let mut grads = ckpt.section_map(&checkpointing::grad_prefix(rank));
        if grads.is_empty() && rank > 0 {
            // A checkpoint of a job with fewer ranks: rank 0's partial sums.
            grads = ckpt.section_map("grad.");
        }
        checkpointing::restore_grads(&self.model, &grads)?;
        if let (Some(scaler), Some(t)) = (&mut self.scaler, ckpt.section_map("amp.").get("scaler")) {
            let v = Vec::<f64>::try_from(t.flatten(0, -1))?;
            *scaler = GradScaler { scale: v[0], growth_tracker: v[1] as u64 };
        }
        self.restore_plugin_states(&ckpt.section_map("plugin."))?;
        if ckpt.runner.seed != self.cfg.env.seed {
            self.logger.warn(&format!(
                "env.seed is {} but the checkpoint was trained with seed {}; continuing with {}",
                self.cfg.env.seed, ckpt.runner.seed, ckpt.runner.seed
            ));
        }
        self.state = ckpt.runner;
        self.loaded_checkpoint = true;
        self.logger.info(&format!(
            "Resumed from `{shown}`: epoch {}, iter {}",
            self.state.epoch, self.state.iter
        ));
        Ok(())
    }

    /// Loads weights only, from a hammer checkpoint or a plain safetensors
    /// state dict.
    fn load_weights(&mut self, path: &Path) -> Result<()> {
        let shown = path.display();
        let weights = match Checkpoint::load(path) {
            Ok(ckpt) => {
                self.weights_from = Some(ckpt.runner);
                ckpt.section("model.")
            }
            Err(e) if e.to_string().contains("not a hammer checkpoint") => tch::Tensor::read_safetensors(path)
                .with_context(|| format!("cannot read weights from `{shown}`"))?,
            Err(e) => return Err(e),
        };
        self.model
            .load_state_dict(&weights)
            .with_context(|| format!("cannot load weights from `{shown}`"))?;
        self.loaded_checkpoint = true;
        self.logger.info(&format!("Loaded weights from `{shown}`"));
        Ok(())
    }
}

/// The device `env.device` names.
fn device(name: &str) -> Result<Device> {
    if name != "cpu" && (name != "auto" || crate::cuda::driver_present()) {
        if let Err(e) = crate::cuda::load() {
            if name != "auto" {
                return Err(e.context(format!("env.device = \"{name}\"")));
            }
        }
    }
    let cuda_count = || tch::Cuda::device_count();
    Ok(match name {
        "cpu" => Device::Cpu,
        "auto" => Device::cuda_if_available(),
        "cuda" | "cuda:0" if tch::Cuda::is_available() => Device::Cuda(0),
        _ if name.starts_with("cuda") => {
            let index: usize = name.strip_prefix("cuda:").map_or(Ok(0), str::parse).unwrap_or(usize::MAX);
            if (index as i64) < cuda_count() {
                Device::Cuda(index)
            } else {
                bail!("env.device = \"{name}\", but libtorch sees {} CUDA device(s)", cuda_count())
            }
        }
        other => bail!("env.device: unknown device `{other}` (cpu, cuda, cuda:N, auto)"),
    })
}
