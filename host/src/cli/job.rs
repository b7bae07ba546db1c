//! `hammer train`, `val` and `test`: validated arguments become a job
//! (the config with the flags applied, the work dir, how the run starts,
//! the lock its plugins must match, this process's part in a distributed
//! job), then the job runs.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::args::{EvalArgs, TrainArgs};
use crate::checkpoint::atomic::write_atomic;
use crate::config::Config;
use crate::dist::Dist;
use crate::plugin::lock::LOCK_FILE;
use crate::plugin::{Loader, Lock, LockCheck};
use crate::runner::{Runner, Start};
use crate::workdir;

/// Joins the distributed job the environment describes, if any; a CUDA
/// device becomes this process's GPU (`cuda:LOCAL_RANK`), as with torchrun.
fn join_job(launcher: crate::dist::Launcher, cfg: &mut Config) -> Result<Option<Dist>> {
    let Some(placement) = crate::dist::Placement::from_env(launcher, |k| std::env::var(k).ok())? else {
        return Ok(None);
    };
    if cfg.env.device == "cuda" || (cfg.env.device == "auto" && crate::cuda::driver_present()) {
        cfg.env.device = format!("cuda:{}", placement.local_rank);
    }
    let device = if cfg.env.device.starts_with("cuda") { tch::Device::Cuda(placement.local_rank) } else { tch::Device::Cpu };
    crate::dist::Dist::join(placement, &cfg.env.dist_cfg, device).map(Some)
}

/// `hammer train`'s arguments, resolved: what the run is, before anything
/// is built.
struct TrainJob {
    /// The config, with `--cfg-options` and the flags applied.
    cfg: Config,
    /// This process's part in a distributed job.
    dist: Option<Dist>,
    /// Whether this process writes into the work dir (rank 0, or alone).
    writes: bool,
    /// The work dir.
    dir: PathBuf,
    /// How the run starts.
    start: Start,
    /// The lock the plugins must match: `--locked`, or the job's own on resume.
    lock: Option<LockCheck>,
}

impl TrainJob {
    /// Resolves `args`: loads the config (applying `--keep-ckpt-num`), joins
    /// the distributed job, and decides the work dir, the start and the lock.
    fn resolve(args: &TrainArgs) -> Result<Self> {
        let mut cfg = args.config.load()?;
        if let Some(n) = args.keep_ckpt_num {
            cfg.checkpoint.max_keep_ckpts = n;
        }
        let dist = join_job(args.launcher, &mut cfg)?;
        let writes = dist.as_ref().is_none_or(Dist::is_main);
        let dir = workdir::resolve(args.work_dir.as_deref(), args.job_name.as_deref(), &args.config.config);
        let start = match (&args.resume, &args.load_from) {
            (Some(None), _) => Start::ResumeLatest,
            (Some(Some(p)), _) => Start::ResumeFrom(p.clone()),
            (None, Some(p)) => Start::LoadFrom(p.clone()),
            (None, None) => Start::Fresh,
        };
        // The plugins must be those the job ran (on resume) or those pinned by --locked.
        let lock_file = dir.join(LOCK_FILE);
        let lock = match (&args.locked, &start) {
            (Some(path), _) => Some(LockCheck { lock: Lock::read(path)?, what: format!("`{}`", path.display()) }),
            (None, Start::ResumeLatest | Start::ResumeFrom(_)) if lock_file.exists() && !args.relock => {
                Some(LockCheck { lock: Lock::read(&lock_file)?, what: crate::plugin::lock::JOB_LOCK.into() })
            }
            _ => None,
        };
        Ok(Self { cfg, dist, writes, dir, start, lock })
    }

    /// Prepares the work dir, builds the runner (undoing what this run put in
    /// the work dir if that fails), writes the lock, and trains.
    fn run(self) -> Result<()> {
        let Self { cfg, dist, writes, dir, start, lock } = self;
        // Rank 0 alone writes into the work dir; every rank reads it to resume.
        let started_over = match &start {
            Start::ResumeLatest => workdir::prepare(&dir, true)?,
            Start::ResumeFrom(_) if writes => {
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the work dir `{}`", dir.display()))?;
                false
            }
            _ if writes => workdir::prepare(&dir, false)?,
            _ => false,
        };
        // A resume that fails before training leaves the job's files as they were.
        let resuming = matches!(start, Start::ResumeLatest | Start::ResumeFrom(_));
        let before_resume = (writes && resuming).then(|| workdir::Snapshot::take(&dir));
        if writes {
            write_atomic(&dir.join("config.toml"), cfg.to_toml().as_bytes())?;
        }
        // A new job's work dir was empty (or absent) before this run: if the job
        // cannot even be built (a plugin's options, a missing data file), remove
        // what this run put there, so that fixing the config and running again
        // just works.
        let fresh = writes && matches!(start, Start::Fresh | Start::LoadFrom(_));
        let mut plugins = Loader::new(&cfg.plugins, lock);
        let mut runner = match Runner::build_with(cfg, Some(dir.clone()), start, dist, &mut plugins) {
            Ok(runner) => runner,
            Err(e) => {
                if fresh && !started_over {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                if let Some(snapshot) = before_resume {
                    snapshot.restore();
                }
                return Err(e);
            }
        };
        if started_over {
            runner.logger().warn(&format!(
                "the work dir `{}` held an earlier run that stopped before its first checkpoint; starting over in it",
                dir.display()
            ));
        }
        if writes {
            Lock { plugins: plugins.loaded().to_vec() }.write(&dir.join(LOCK_FILE))?;
        }
        runner.train()
    }
}

/// `hammer train`.
pub(super) fn train(args: &TrainArgs) -> Result<()> {
    TrainJob::resolve(args)?.run()
}

/// `hammer val` (or, with `test`, `hammer test`).
pub(super) fn evaluate(args: &EvalArgs, test: bool) -> Result<()> {
    let mut cfg = args.config.load()?;
    let dist = join_job(args.launcher, &mut cfg)?;
    let mut plugins = Loader::new(&cfg.plugins, None);
    let mut runner = Runner::build_with(cfg, None, Start::LoadFrom(args.checkpoint.clone()), dist, &mut plugins)?;
    let metrics = if test { runner.test()? } else { runner.val()? };
    if let (Some(out), true) = (&args.out, runner.writes()) {
        let metrics: serde_json::Map<String, serde_json::Value> =
            metrics.into_iter().map(|(name, v)| (name, serde_json::json!(v))).collect();
        let report = serde_json::json!({
            "mode": if test { "test" } else { "val" },
            "checkpoint": args.checkpoint.display().to_string(),
            "metrics": metrics,
        });
        let text = serde_json::to_string_pretty(&report).context("encoding the metrics")? + "\n";
        write_atomic(out, text.as_bytes()).with_context(|| format!("cannot write `{}`", out.display()))?;
    }
    Ok(())
}

