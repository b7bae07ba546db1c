//! The command line's arguments, as clap parses them: every command and
//! flag with its help. Flags are validated here (a `--device` that names
//! no device is refused by clap, naming the flag); what a command does with
//! them is elsewhere in [`super`].

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use super::plugin::PluginCommand;
use crate::config::{self, Config};

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
    #[arg(long, value_parser = parse_device)]
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
    /// Loads and validates the config with `--cfg-options` applied, then
    /// `--device` and `--plugin` (flags win over the config and its overrides).
    ///
    /// # Errors
    /// Whatever [`config::load_config`] reports.
    pub fn load(&self) -> Result<Config> {
        let mut cfg = config::load_config(&self.config, &self.cfg_options)?;
        if let Some(device) = &self.device {
            cfg.env.device = device.clone();
        }
        cfg.plugins.extend(self.plugins.iter().map(|p| config::PluginConfig { model_parameters: true, ..plugin_entry(p) }));
        Ok(cfg)
    }
}

/// `--device`: a device `env.device` accepts.
fn parse_device(text: &str) -> Result<String, String> {
    if config::valid_device(text) {
        Ok(text.to_string())
    } else {
        Err("expected `cpu`, `cuda`, `cuda:N` (N a GPU index) or `auto`".into())
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
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..))]
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
    fn flags_are_checked_when_parsed_and_win_over_the_config() {
        let parse = |extra: &[&str]| {
            let args = ["hammer", "train", "configs/tutorial.toml"].iter().chain(extra).copied();
            Cli::try_parse_from(args.collect::<Vec<_>>())
        };
        let err = parse(&["--device", "tpu"]).unwrap_err().to_string();
        assert!(err.contains("--device") && err.contains("`cuda:N`"), "{err}");
        let err = parse(&["--keep-ckpt-num", "-2"]).unwrap_err().to_string();
        assert!(err.contains("--keep-ckpt-num") && err.contains("-2"), "{err}");
        let Command::Train(args) = parse(&["--device", "cuda:1", "--keep-ckpt-num", "-1"]).unwrap().command else {
            panic!("not train")
        };
        assert_eq!(args.keep_ckpt_num, Some(-1));
        // The flag wins over the config's key and over --cfg-options.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.toml");
        let job = "[model]\ntype = \"mlp\"\n[train_dataloader]\nbatch_size = 8\ndataset = { type = \"two_rings\", size = 16 }\n[train_cfg]\nmax_epochs = 1\n";
        std::fs::write(&path, format!("{job}[env]\ndevice = \"cpu\"\n")).unwrap();
        let config = ConfigArgs {
            config: path,
            cfg_options: vec!["env.device=auto".into()],
            device: Some("cuda:1".into()),
            plugins: Vec::new(),
        };
        assert_eq!(config.load().unwrap().env.device, "cuda:1");
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
