//! Time of one training step of ResNet-18 with the CIFAR stem on a
//! CIFAR-10-sized batch (3×32×32), built and stepped with hammer's library
//! as the runner does it: `Model::build` from a `model` section,
//! `forward_t(train = true)`, cross-entropy (`hammer::loss`), backward, and
//! SGD with momentum and weight decay (`hammer::optim`), then `zero_grad`.
//!
//! For each thread count (libtorch's intra-op threads, `env.num_threads`):
//! `--warmup` untimed steps, then `--steps` timed ones on the same random
//! batch. Prints one JSON object (and writes it to `--out`): milliseconds per
//! step, and their median, per thread count.
//!
//! `bench/run.sh` (part "data") runs it beside bench/step_torch.py, the same
//! step in PyTorch eager with torchvision's resnet18.
//!
//! ```sh
//! cargo run --example step_bench -p hammer -- --threads 1,2 --out step.json
//! ```

mod common;

use std::path::PathBuf;

use common::median;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use hammer::config::{ModelConfig, OptimizerConfig};
use hammer::loss::Loss;
use hammer::model::Model;
use hammer::optim::Optimizer;
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

#[derive(Parser, Debug)]
#[command(about = "ms per ResNet-18 (CIFAR stem) SGD training step with hammer's library")]
struct Args {
    /// Thread counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<i32>,
    /// Samples per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: i64,
    /// Timed steps per thread count.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Untimed steps before them.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Also write the results, indented, to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}


fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.threads.is_empty() || args.threads.iter().any(|&t| t < 1) || args.steps == 0 {
        bail!("--threads must be positive counts and --steps at least 1");
    }
    // configs/resnet18_cifar10.toml's model and optimizer.
    let model_cfg: ModelConfig =
        serde_json::from_value(json!({ "type": "resnet18", "num_classes": 10, "in_channels": 3, "cifar_stem": true }))
            .context("the model's config")?;
    let optim_cfg: OptimizerConfig =
        serde_json::from_value(json!({ "type": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4 }))
            .context("the optimizer's config")?;
    let loss = Loss::from_name("cross_entropy")?;

    let mut runs = Vec::new();
    for &threads in &args.threads {
        tch::set_num_threads(threads);
        tch::manual_seed(0);
        let model = Model::build(&model_cfg, Device::Cpu)?;
        let mut optimizer = Optimizer::new(&optim_cfg, model.parameters().iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect())?;
        let inputs = Tensor::randn([args.batch_size, 3, 32, 32], (Kind::Float, Device::Cpu));
        let targets = Tensor::randint(10, [args.batch_size], (Kind::Int64, Device::Cpu));

        let mut ms = Vec::with_capacity(args.steps);
        let mut last_loss = 0.0;
        for i in 0..args.warmup + args.steps {
            let t = Instant::now();
            let output = model.forward_t(&inputs, true)?;
            let l = loss.compute(&output, &targets);
            l.backward();
            optimizer.step()?;
            optimizer.zero_grad();
            // The loss to the CPU as a number: the step is finished.
            last_loss = l.double_value(&[]);
            let elapsed = t.elapsed().as_secs_f64() * 1e3;
            if i >= args.warmup {
                ms.push(elapsed);
            }
        }
        let med = median(&ms);
        eprintln!("step_bench: {threads} thread(s): {med:.1} ms/step (median of {}), loss {last_loss:.4}", ms.len());
        runs.push(json!({
            "threads": threads,
            "ms_per_step": ms.iter().map(|v| round(*v, 2)).collect::<Vec<_>>(),
            "median_ms_per_step": round(med, 2),
            "min_ms_per_step": round(ms.iter().copied().fold(f64::INFINITY, f64::min), 2),
            "last_loss": last_loss,
        }));
    }
    let report: Value = json!({
        "tool": "hammer",
        "model": "resnet18 (cifar_stem)",
        "batch_size": args.batch_size,
        "input": [3, 32, 32],
        "optimizer": "sgd lr 0.1 momentum 0.9 weight_decay 5e-4",
        "steps": args.steps,
        "warmup": args.warmup,
        "runs": runs,
    });
    common::report(&report, args.out.as_deref())
}
