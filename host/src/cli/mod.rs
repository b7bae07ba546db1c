//! The `hammer` command line: its arguments, and what each command does with
//! them (build the config, prepare the work dir, run the runner); the
//! `plugin` commands are in [`plugin`].

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

mod plugin;
pub use plugin::{KindArg, PluginCommand};

use crate::checkpoint::atomic::write_atomic;
use crate::config::{self, Config};
use crate::plugin::lock::LOCK_FILE;
use crate::plugin::{Loader, Lock, LockCheck};
use crate::runner::{Runner, Start};
use crate::workdir;

/// hammer: a deep-learning training runner with sandboxed WebAssembly extensions.
#[derive(Debug, Parser)]
#[command(name = "hammer", version, about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// What the help of commands that read a config ends with: the names that
/// the config's `type` keys take, and where the rest is described (a macro,
/// so that `concat!` can put it after each command's examples).
macro_rules! config_help {
    () => {
        "\
Models (model.type): mlp, lenet, resnet18, resnet34, resnet50, torchscript
Data sets (train_dataloader.dataset.type, ...): two_rings, mnist, cifar10, image_folder, csv
Optimizers (optim.optimizer.type): sgd, adam, adamw;  losses (loss.type): cross_entropy, mse
Every key with its default: `hammer config show CONFIG`; the README's \"The config\" explains them."
    };
}

/// What `hammer` is asked to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model as the config describes.
    #[command(after_help = concat!("\
Examples:
  hammer train configs/tutorial.toml
  hammer train configs/tutorial.toml --cfg-options train_cfg.max_epochs=5 optim.optimizer.lr=0.01
  hammer train configs/tutorial.toml --resume                # continue work_dirs/tutorial
  hammer train configs/tutorial.toml --plugin ema@^0.1       # add a plugin from the store
  hammer launch --nproc-per-node 2 train configs/tutorial.toml

", config_help!()))]
    Train(TrainArgs),
    /// Run the validation loop on a checkpoint.
    #[command(after_help = concat!("\
Example:
  hammer val configs/tutorial.toml --checkpoint work_dirs/tutorial/epoch_5.safetensors --out metrics.json

", config_help!()))]
    Val(EvalArgs),
    /// Run the test loop on a checkpoint.
    #[command(after_help = concat!("\
Example:
  hammer test configs/tutorial.toml --checkpoint work_dirs/tutorial/epoch_5.safetensors --out metrics.json

", config_help!()))]
    Test(EvalArgs),
    /// Inspect configs.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Write a checkpoint's weights (parameters and buffers) as a plain
    /// safetensors state dict, without the `model.` prefix: loads into
    /// PyTorch with `model.load_state_dict(safetensors.torch.load_file(...))`.
    Export {
        /// The hammer checkpoint.
        checkpoint: PathBuf,
        /// The safetensors file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Start the worker processes of a distributed job on this node, as
    /// torchrun does: `hammer launch --nproc-per-node 2 train CONFIG`.
    Launch(LaunchArgs),
    /// Print a shell completion script: `hammer completions bash > /etc/bash_completion.d/hammer`
    /// (or `source <(hammer completions bash)`; zsh, fish, elvish and powershell too).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Draw a run's curves (from its scalars.jsonl) into a PNG or SVG: one
    /// panel per metric, labelled axes, a legend, the lr on a log scale.
    Plot {
        /// The run's work dir.
        work_dir: PathBuf,
        /// A metric to draw (repeatable; default: loss and every validation metric).
        #[arg(long = "metric")]
        metrics: Vec<String>,
        /// The picture to write: `.png` or `.svg`.
        #[arg(long, default_value = "curves.png")]
        out: PathBuf,
    },
}

/// Options shared by every command that reads a config.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The config file (TOML, or JSON by extension).
    pub config: PathBuf,
    /// Override config keys, e.g. `--cfg-options optim.optimizer.lr=0.01 train_cfg.max_epochs=5`.
    #[arg(long = "cfg-options", num_args = 1.., value_name = "KEY=VALUE")]
    pub cfg_options: Vec<String>,
    /// Device to run on: cpu, cuda, cuda:N or auto (sets `env.device`).
    #[arg(long)]
    pub device: Option<String>,
    /// Add a plugin (repeatable), after those of the config, with default
    /// options: a component or bundle file (`ema.wasm`, `ema-0.1.0.hpkg`), or
    /// a name as in `[[plugins]]` (`ema`, `ema@^0.1`: `./plugins`,
    /// `$HAMMER_PLUGIN_PATH`, then the store). Naming it here trusts it with
    /// the model's parameters (as EMA needs); list it in `[[plugins]]` to
    /// choose its options and grants.
    #[arg(long = "plugin", value_name = "NAME[@VERSION]|FILE")]
    pub plugins: Vec<String>,
}

impl ConfigArgs {
    /// Loads and validates the config with the command line's overrides applied.
    ///
    /// # Errors
    /// Whatever [`config::load_config`] reports.
    pub fn load(&self, extra: &[String]) -> Result<Config> {
        let mut options = self.cfg_options.clone();
        options.extend(extra.iter().cloned());
        if let Some(device) = &self.device {
            options.push(format!("env.device={device}"));
        }
        let mut cfg = config::load_config(&self.config, &options)?;
        cfg.plugins.extend(self.plugins.iter().map(|p| config::PluginConfig { model_parameters: true, ..plugin_entry(p) }));
        Ok(cfg)
    }
}

/// The plugin `--plugin ARG` names: a file when it looks like a path (or is
/// one), else `NAME` or `NAME@REQUIREMENT` as a `[[plugins]]` entry's
/// `name` and `version`.
fn plugin_entry(arg: &str) -> config::PluginConfig {
    let path = std::path::Path::new(arg);
    let looks_like_a_file = arg.contains(std::path::MAIN_SEPARATOR)
        || arg.contains('/')
        || path.extension().is_some_and(|e| e == "wasm" || e == crate::bundle::EXTENSION)
        || path.is_file();
    if looks_like_a_file {
        return config::PluginConfig::from_path(path.to_path_buf());
    }
    match arg.split_once('@') {
        Some((name, version)) => config::PluginConfig::named(Some(name.into()), Some(version.into())),
        None => config::PluginConfig::named(Some(arg.into()), None),
    }
}

/// Arguments of `hammer train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub config: ConfigArgs,
    /// Name of the job; the work dir is `work_dirs/<job-name>` (default: the config's file stem).
    #[arg(long)]
    pub job_name: Option<String>,
    /// The work dir, instead of `work_dirs/<job-name>`.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Continue the job from its newest checkpoint, or from PATH.
    #[arg(long, value_name = "PATH")]
    pub resume: Option<Option<PathBuf>>,
    /// Start from these weights (a checkpoint or a safetensors state dict), training from the start.
    #[arg(long, value_name = "PATH", conflicts_with = "resume")]
    pub load_from: Option<PathBuf>,
    /// Run exactly the plugins this lock file pins (another job's `plugins.lock`).
    #[arg(long, value_name = "LOCKFILE")]
    pub locked: Option<PathBuf>,
    /// Resume with plugins that changed since the job's `plugins.lock` was
    /// written (a fixed plugin, say), and write the new lock.
    #[arg(long, requires = "resume", conflicts_with = "locked")]
    pub relock: bool,
    /// Keep only the newest N checkpoints; -1 keeps all (sets `checkpoint.max_keep_ckpts`).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub keep_ckpt_num: Option<i64>,
    /// How the processes of a distributed job were started: `pytorch`
    /// (torchrun's variables, as `hammer launch` sets them), `slurm`
    /// (srun's), `none`, or `auto` (`pytorch` when `WORLD_SIZE` is set).
    #[arg(long, default_value = "auto", value_parser = crate::dist::Launcher::parse)]
    pub launcher: crate::dist::Launcher,
}

/// Arguments of `hammer launch` (torchrun's names and defaults).
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// Worker processes on this node.
    #[arg(long, default_value_t = 1)]
    pub nproc_per_node: usize,
    /// Nodes in the job.
    #[arg(long, default_value_t = 1)]
    pub nnodes: usize,
    /// This node's index.
    #[arg(long, default_value_t = 0)]
    pub node_rank: usize,
    /// Address of node 0, where rank 0 serves the rendezvous store.
    #[arg(long, default_value = "127.0.0.1")]
    pub master_addr: String,
    /// Port of the rendezvous store.
    #[arg(long, default_value_t = crate::dist::DEFAULT_PORT)]
    pub master_port: u16,
    /// The hammer command each worker runs, e.g. `train CONFIG --work-dir W`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true, value_name = "HAMMER-ARGS")]
    pub args: Vec<String>,
}

/// Arguments of `hammer val` and `hammer test`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub config: ConfigArgs,
    /// The checkpoint (or safetensors weights) to evaluate.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Also write the metrics as JSON to this file, for scripts and CI:
    /// `{"mode": "val", "checkpoint": "...", "metrics": {"accuracy": 96.5}}`.
    #[arg(long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
    /// As `hammer train --launcher`: under a launcher, each process
    /// evaluates its share of the data and rank 0 reports the whole's metrics.
    #[arg(long, default_value = "auto", value_parser = crate::dist::Launcher::parse)]
    pub launcher: crate::dist::Launcher,
}

/// `hammer config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved config (bases merged, overrides applied, defaults filled in).
    #[command(after_help = concat!("\
Example:
  hammer config show configs/tutorial.toml --cfg-options optim.optimizer.type=adam

", config_help!()))]
    Show(ConfigArgs),
}

/// Runs the command `cli` describes.
///
/// # Errors
/// Any error of the command, as a one-paragraph message.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train(&args),
        Command::Val(args) => evaluate(&args, false),
        Command::Test(args) => evaluate(&args, true),
        Command::Config(ConfigCommand::Show(args)) => {
            print!("{}", args.load(&[])?.to_toml());
            Ok(())
        }
        Command::Plugin(command) => plugin::run(command),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "hammer", &mut std::io::stdout());
            Ok(())
        }
        Command::Launch(args) => launch(&args),
        Command::Export { checkpoint, out } => export(&checkpoint, &out),
        Command::Plot { work_dir, metrics, out } => {
            crate::plot::draw(&crate::plot::series(&work_dir, &metrics)?, &out)?;
            println!("{}", out.display());
            Ok(())
        }
    }
}

fn launch(args: &LaunchArgs) -> Result<()> {
    let plan = crate::dist::launch::LaunchPlan {
        nproc_per_node: args.nproc_per_node,
        nnodes: args.nnodes,
        node_rank: args.node_rank,
        master_addr: args.master_addr.clone(),
        master_port: args.master_port,
    };
    // `hammer launch ... hammer train CONFIG` reads as torchrun's form.
    let mut hammer_args = args.args.clone();
    if hammer_args.first().is_some_and(|a| a == "hammer" || a.ends_with("/hammer")) {
        hammer_args.remove(0);
    }
    let exe = std::env::current_exe().context("cannot find hammer's own executable")?;
    crate::dist::launch::launch(&plan, &exe, &hammer_args)
}

/// Joins the distributed job the environment describes, if any; a CUDA
/// device becomes this process's GPU (`cuda:LOCAL_RANK`), as with torchrun.
fn join_job(launcher: crate::dist::Launcher, cfg: &mut Config) -> Result<Option<crate::dist::Dist>> {
    let Some(placement) = crate::dist::Placement::from_env(launcher, |k| std::env::var(k).ok())? else {
        return Ok(None);
    };
    if cfg.env.device == "cuda" || (cfg.env.device == "auto" && crate::cuda::driver_present()) {
        cfg.env.device = format!("cuda:{}", placement.local_rank);
    }
    let device = if cfg.env.device.starts_with("cuda") { tch::Device::Cuda(placement.local_rank) } else { tch::Device::Cpu };
    crate::dist::Dist::join(placement, &cfg.env.dist_cfg, device).map(Some)
}

fn train(args: &TrainArgs) -> Result<()> {
    let extra: Vec<String> =
        args.keep_ckpt_num.map(|n| format!("checkpoint.max_keep_ckpts={n}")).into_iter().collect();
    let mut cfg = args.config.load(&extra)?;
    let dist = join_job(args.launcher, &mut cfg)?;
    let writes = dist.as_ref().is_none_or(crate::dist::Dist::is_main);
    let dir = workdir::resolve(args.work_dir.as_deref(), args.job_name.as_deref(), &args.config.config);
    let start = match (&args.resume, &args.load_from) {
        (Some(None), _) => Start::ResumeLatest,
        (Some(Some(p)), _) => Start::ResumeFrom(p.clone()),
        (None, Some(p)) => Start::LoadFrom(p.clone()),
        (None, None) => Start::Fresh,
    };
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
    let before_resume = (writes && matches!(start, Start::ResumeLatest | Start::ResumeFrom(_))).then(|| workdir::Snapshot::take(&dir));
    // The plugins must be those the job ran (on resume) or those pinned by --locked.
    let lock_file = dir.join(LOCK_FILE);
    let lock = match (&args.locked, &start) {
        (Some(path), _) => Some(LockCheck { lock: Lock::read(path)?, what: format!("`{}`", path.display()) }),
        (None, Start::ResumeLatest | Start::ResumeFrom(_)) if lock_file.exists() && !args.relock => {
            Some(LockCheck { lock: Lock::read(&lock_file)?, what: crate::plugin::lock::JOB_LOCK.into() })
        }
        _ => None,
    };
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
        Lock { plugins: plugins.loaded().to_vec() }.write(&lock_file)?;
    }
    runner.train()
}

fn export(checkpoint: &std::path::Path, out: &std::path::Path) -> Result<()> {
    let ckpt = crate::checkpoint::Checkpoint::load(checkpoint)?;
    let mut weights = ckpt.section("model.");
    anyhow::ensure!(!weights.is_empty(), "checkpoint `{}` holds no `model.*` tensors", checkpoint.display());
    // A TorchScript model's buffers live in the module the checkpoint saved.
    if let Some((_, script)) = ckpt.section("script").into_iter().next() {
        let bytes = Vec::<u8>::try_from(script.flatten(0, -1))?;
        for (name, buffer) in crate::model::script_buffers(&bytes)? {
            if !weights.iter().any(|(n, _)| *n == name) {
                weights.push((name, buffer));
            }
        }
    }
    let named: Vec<(&str, &tch::Tensor)> = weights.iter().map(|(n, t)| (n.as_str(), t)).collect();
    tch::Tensor::write_safetensors(&named, out).with_context(|| format!("cannot write `{}`", out.display()))?;
    println!("Exported {} tensors to {}", weights.len(), out.display());
    Ok(())
}

fn evaluate(args: &EvalArgs, test: bool) -> Result<()> {
    let mut cfg = args.config.load(&[])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_every_model_data_set_optimizer_and_loss() {
        for name in crate::model::MODEL_TYPES.iter().chain(crate::data::TYPES) {
            assert!(config_help!().contains(&format!(" {name}")), "{name}");
        }
        for name in ["sgd", "adam", "adamw", "cross_entropy", "mse"] {
            assert!(config_help!().contains(&format!(" {name}")), "{name}");
        }
    }

    #[test]
    fn a_plugin_argument_is_a_file_or_a_name_with_a_version() {
        let file = plugin_entry("plugins/ema.wasm");
        assert_eq!((file.path.as_deref(), file.name.as_deref()), (Some(std::path::Path::new("plugins/ema.wasm")), None));
        assert!(plugin_entry("ema-0.1.0.hpkg").path.is_some());
        let named = plugin_entry("ema");
        assert_eq!((named.name.as_deref(), named.version.as_deref(), named.path), (Some("ema"), None, None));
        let pinned = plugin_entry("ema@^0.1");
        assert_eq!((pinned.name.as_deref(), pinned.version.as_deref()), (Some("ema"), Some("^0.1")));
    }
}
