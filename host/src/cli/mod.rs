//! The `hammer` command line: its arguments (`args`), the training and
//! evaluation jobs they describe (`job`), and the other commands; the
//! `plugin` commands are in [`plugin`].

use anyhow::{Context, Result};

mod args;
mod job;
mod plugin;
pub use args::{Cli, Command, ConfigArgs, ConfigCommand, EvalArgs, LaunchArgs, TrainArgs};
pub use plugin::{KindArg, PluginCommand};

/// Runs the command `cli` describes.
///
/// # Errors
/// Any error of the command, as a one-paragraph message.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => job::train(&args),
        Command::Val(args) => job::evaluate(&args, false),
        Command::Test(args) => job::evaluate(&args, true),
        Command::Config(ConfigCommand::Show(args)) => {
            print!("{}", args.load()?.to_toml());
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
