//! A bare tch training loop doing the job of configs/tutorial.toml, with
//! nothing else: no config, hooks, logging or loader thread. It is the floor
//! `make bench` measures hammer's training loop against.
//!
//! The job, step by step as hammer does it:
//! - data: MMEngine's two-ring `MyDataset` (train: 10,000 points drawn after
//!   `manual_seed(0)`; val: 1,000 points after `manual_seed(3407)`; labels
//!   by `randint`, radius noise by `randn`, angle by `rand`);
//! - model: `manual_seed(0)`, then Linear 2→64, ReLU, Linear 64→64, ReLU,
//!   Linear 64→2, initialised uniform in ±1/√fan_in as PyTorch's `nn.Linear`;
//! - Adam, lr 1e-3 (tch's `nn::Adam`, libtorch's own implementation), with
//!   MMEngine's `MultiStepLR` by epoch (milestones [4, 8], gamma 0.1), as
//!   hammer's `lr` plugin: tch has no schedulers, so the rate is set with
//!   `set_lr` at the start of each epoch — 1e-3 for epochs 0–3, 1e-4 for
//!   4–7, 1e-5 for 8–9 (0-based), the values torch's `MultiStepLR` gives
//!   when stepped after each epoch;
//! - 10 epochs; each draws `randperm` after `manual_seed(seed + epoch)` and
//!   takes batches of 64 by `index_select`; cross-entropy loss;
//! - validation (one batch of 1,000, accuracy of the arg-max) after each
//!   epoch from epoch 2 on;
//! - with `--work-dir DIR`, the weights saved to `DIR/epoch_N.safetensors`
//!   after each epoch, as hammer's per-epoch checkpoints.
//!
//! Usage: `tch-loop [--threads N] [--work-dir DIR]`. Prints one line of JSON:
//! `{"train_loop_s": ..., "accuracy": ...}`, the time covering the epochs,
//! validations and checkpoints (not the start-up, data generation or model
//! construction), as hammer's `Training finished in X s`.

use std::f64::consts::PI;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

const SEED: i64 = 0;
const EPOCHS: i64 = 10;
const VAL_BEGIN: i64 = 2;
const BATCH: i64 = 64;
const LR: f64 = 1e-3;
const MILESTONES: [i64; 2] = [4, 8];
const GAMMA: f64 = 0.1;

/// The learning rate of `epoch` (0-based) under MultiStepLR: the base rate
/// times `GAMMA` once per milestone reached.
fn multi_step_lr(epoch: i64) -> f64 {
    let passed = MILESTONES.iter().filter(|&&m| m <= epoch).count();
    LR * GAMMA.powi(passed as i32)
}

/// The tutorial's two rings: `(inputs [n, 2], labels [n])`.
fn two_rings(size: i64, seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let labels = Tensor::randint(2, [size], (Kind::Int64, Device::Cpu));
    let r = (&labels + 1) * 3 + Tensor::randn([size], (Kind::Float, Device::Cpu));
    let theta = Tensor::rand([size], (Kind::Float, Device::Cpu)) * 2.0 * PI;
    let inputs = Tensor::vstack(&[&r * theta.cos(), &r * theta.sin()]).transpose(0, 1).contiguous();
    (inputs, labels)
}

/// A Linear layer initialised as PyTorch's (weight and bias in ±1/√fan_in).
fn linear(path: nn::Path, fan_in: i64, fan_out: i64) -> nn::Linear {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let init = nn::Init::Uniform { lo: -bound, up: bound };
    nn::linear(path, fan_in, fan_out, nn::LinearConfig { ws_init: init, bs_init: Some(init), bias: true })
}

/// Accuracy in percent of `model` on `(inputs, labels)`, in one batch.
fn accuracy(model: &impl Module, inputs: &Tensor, labels: &Tensor) -> f64 {
    tch::no_grad(|| {
        let correct = model.forward(inputs).argmax(1, false).eq_tensor(labels).sum(Kind::Int64);
        100.0 * correct.int64_value(&[]) as f64 / labels.size()[0] as f64
    })
}

struct Args {
    threads: i32,
    work_dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args { threads: 1, work_dir: None };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => args.threads = it.next().context("--threads needs a value")?.parse()?,
            "--work-dir" => args.work_dir = Some(it.next().context("--work-dir needs a value")?.into()),
            other => bail!("unknown argument `{other}` (usage: tch-loop [--threads N] [--work-dir DIR])"),
        }
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    tch::set_num_threads(args.threads);
    if let Some(dir) = &args.work_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }

    let (train_x, train_y) = two_rings(10_000, 0);
    let (val_x, val_y) = two_rings(1_000, 3407);
    let n = train_x.size()[0];

    tch::manual_seed(SEED);
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let model = nn::seq()
        .add(linear(&root / "mlp" / 0, 2, 64))
        .add_fn(Tensor::relu)
        .add(linear(&root / "mlp" / 2, 64, 64))
        .add_fn(Tensor::relu)
        .add(linear(&root / "classifier", 64, 2));
    let mut opt = nn::Adam::default().build(&vs, LR)?;

    let started = Instant::now();
    let mut last_accuracy = f64::NAN;
    for epoch in 0..EPOCHS {
        opt.set_lr(multi_step_lr(epoch));
        tch::manual_seed(SEED + epoch);
        let order = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
        let mut lo = 0;
        while lo < n {
            let idx = order.narrow(0, lo, BATCH.min(n - lo));
            let x = train_x.index_select(0, &idx);
            let y = train_y.index_select(0, &idx);
            let loss = model.forward(&x).cross_entropy_for_logits(&y);
            opt.zero_grad();
            loss.backward();
            opt.step();
            lo += BATCH;
        }
        if let Some(dir) = &args.work_dir {
            vs.save(dir.join(format!("epoch_{}.safetensors", epoch + 1)))?;
        }
        if epoch + 1 >= VAL_BEGIN {
            last_accuracy = accuracy(&model, &val_x, &val_y);
        }
    }
    let train_loop_s = started.elapsed().as_secs_f64();
    println!("{{\"train_loop_s\": {train_loop_s:.4}, \"accuracy\": {last_accuracy:.4}}}");
    Ok(())
}
