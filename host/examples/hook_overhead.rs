//! What a hook adds to a training loop, its own calls and their indirect
//! cost (the caches it takes from the loop) together: the same job built
//! and trained in one process with and without the hook, in pairs, the order
//! alternating from pair to pair.
//!
//! ```sh
//! cargo run --example hook_overhead -p hammer -- CONFIG --plugin HOOK.wasm [--threads N] [--pairs N] [--out FILE]
//! cargo run --example hook_overhead -p hammer -- CONFIG --against OTHER_CONFIG [...]
//! ```
//!
//! A whole-process timing of a short job moves by several percent from run
//! to run on a shared machine; two runs of a pair here are a second apart,
//! in the same process, with the same libraries loaded and caches warm, so
//! the per-pair difference isolates the hook. Each run is `Runner::build`
//! (the plugins' start from their compiled cache included) and `train`,
//! without a work dir (no checkpoint or log files). `--plugin` adds the hook
//! as `hammer train --plugin` does; `--against` trains another config in
//! the "with" runs (the same job with its plugins in another language, say).
//!
//! Prints each run's log to standard output, then the results as one line
//! of JSON (the last line); `--out FILE` also writes them, indented:
//! `without_s` and `with_s` (each run's build + train, in seconds, by pair),
//! `added_ms` (the median over pairs of with − without) and `ratio` (the
//! median over pairs of with / without).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::json;

use hammer::cli::ConfigArgs;
use hammer::runner::{Runner, Start};

#[derive(Parser)]
struct Args {
    /// The job's config.
    config: PathBuf,
    /// The hook component to add.
    #[arg(long, required_unless_present = "against")]
    plugin: Option<PathBuf>,
    /// Instead of (or besides) adding a hook: the "with" run trains this
    /// config, the same job with other plugins (its Python versions, say).
    #[arg(long)]
    against: Option<PathBuf>,
    /// libtorch's threads (`env.num_threads`; default: the config's).
    #[arg(long)]
    threads: Option<u32>,
    /// Pairs of runs (with and without the hook).
    #[arg(long, default_value_t = 20)]
    pairs: usize,
    /// Also write the results here.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.pairs == 0 {
        bail!("--pairs must be positive");
    }
    // One run of each, untimed: the compiled plugins are in memory, the data generated once.
    run(&args, false)?;
    run(&args, true)?;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for pair in 0..args.pairs {
        // Alternate which goes first, so drift in the machine's speed falls on both alike.
        let order = if pair % 2 == 0 { [false, true] } else { [true, false] };
        for hook in order {
            let seconds = run(&args, hook)?;
            if hook { with.push(seconds) } else { without.push(seconds) }
        }
    }
    let added: Vec<f64> = with.iter().zip(&without).map(|(w, n)| (w - n) * 1e3).collect();
    let ratios: Vec<f64> = with.iter().zip(&without).map(|(w, n)| w / n).collect();
    let result = json!({
        "config": args.config,
        "plugin": args.plugin,
        "against": args.against,
        "pairs": args.pairs,
        "without_s": without,
        "with_s": with,
        "without_median_s": median(&without),
        "with_median_s": median(&with),
        "added_ms": median(&added),
        "ratio": median(&ratios),
    });
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_string_pretty(&result)?).with_context(|| format!("cannot write `{}`", out.display()))?;
    }
    println!("{result}");
    Ok(())
}

/// Builds and trains the job, with the hook or without; its wall time in seconds.
fn run(args: &Args, hook: bool) -> Result<f64> {
    let config = ConfigArgs {
        config: if hook { args.against.clone().unwrap_or_else(|| args.config.clone()) } else { args.config.clone() },
        cfg_options: args.threads.map(|n| format!("env.num_threads={n}")).into_iter().collect(),
        device: None,
        plugins: if hook { args.plugin.iter().map(|p| p.display().to_string()).collect() } else { Vec::new() },
    };
    let cfg = config.load()?;
    let started = Instant::now();
    let mut runner = Runner::build(cfg, None, Start::Fresh)?;
    runner.train()?;
    Ok(started.elapsed().as_secs_f64())
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}
