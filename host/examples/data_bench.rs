//! Throughput of hammer's image pipeline: an `image_folder` data set
//! (decode, center crop to the target's aspect, bilinear resize, normalize)
//! batched by hammer's own `DataLoader` with 1, 2, ... worker threads.
//!
//! For each worker count: `--warmup` untimed epochs, then `--epochs` timed
//! epochs, each iterated to the end (every batch received by this thread, as
//! the training loop receives them). Prints one JSON object (and writes it to
//! `--out`): images/s per epoch and their median, per worker count.
//!
//! `bench/run.sh` (part "data") runs it beside bench/data_torch.py, which
//! does the same with torchvision's `ImageFolder` and `DataLoader`.
//!
//! ```sh
//! cargo run --example data_bench -p hammer -- ROOT --workers 1,2 --out data.json
//! ```

mod common;

use std::path::PathBuf;

use common::median;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use hammer::config::DataLoaderConfig;
use hammer::data::{DataLoader, Dataset};
use serde_json::{json, Value};
use tch::Device;

#[derive(Parser, Debug)]
#[command(about = "Images/s of hammer's image_folder pipeline and loader")]
struct Args {
    /// The image folder (one subdirectory per class).
    root: PathBuf,
    /// Worker thread counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    workers: Vec<usize>,
    /// Training resolution, rows.
    #[arg(long, default_value_t = 64)]
    height: usize,
    /// Training resolution, columns.
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Samples per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Batches prepared ahead (the loader's `prefetch`).
    #[arg(long, default_value_t = 2)]
    prefetch: usize,
    /// Timed epochs per worker count.
    #[arg(long, default_value_t = 3)]
    epochs: u64,
    /// Untimed epochs before them.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// libtorch's intra-op threads in this process (the runner's `env.num_threads`).
    #[arg(long, default_value_t = 1)]
    threads: i32,
    /// Also write the results, indented, to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}


fn main() -> Result<()> {
    let args = Args::parse();
    if args.workers.is_empty() || args.workers.contains(&0) || args.epochs == 0 {
        bail!("--workers must be positive counts and --epochs at least 1");
    }
    tch::set_num_threads(args.threads);
    let root = args.root.canonicalize().with_context(|| format!("image folder `{}`", args.root.display()))?;

    let mut runs = Vec::new();
    let mut samples = 0;
    for &workers in &args.workers {
        // The loader's config as a job would write it (`train_dataloader`).
        let cfg: DataLoaderConfig = serde_json::from_value(json!({
            "batch_size": args.batch_size,
            "shuffle": true,
            "prefetch": args.prefetch,
            "num_workers": workers,
            "dataset": {
                "type": "image_folder",
                "root": root,
                "pipeline": {
                    "resolution": [args.height, args.width],
                    "mean": [0.485, 0.456, 0.406],
                    "std": [0.229, 0.224, 0.225],
                },
            },
        }))
        .context("the loader's config")?;
        let t = Instant::now();
        let dataset = Dataset::build(&cfg.dataset, "train_dataloader")?;
        let scan_s = t.elapsed().as_secs_f64();
        let loader = DataLoader::new(dataset, &cfg, 0, Device::Cpu);
        samples = loader.num_samples();

        let mut per_epoch = Vec::new();
        let mut checksum = 0.0;
        for epoch in 0..args.warmup + args.epochs {
            let t = Instant::now();
            let mut batches = loader.epoch(epoch, 0);
            let mut images = 0i64;
            for batch in batches.by_ref() {
                images += batch.inputs.size()[0];
                if epoch == 0 {
                    checksum += batch.inputs.sum(tch::Kind::Double).double_value(&[]);
                }
            }
            batches.finish()?;
            let s = t.elapsed().as_secs_f64();
            if images as usize != samples {
                bail!("epoch {epoch} gave {images} images, the data set has {samples}");
            }
            if epoch >= args.warmup {
                per_epoch.push(images as f64 / s);
            }
            eprintln!("data_bench: {workers} worker(s), epoch {epoch}: {images} images in {s:.3} s");
        }
        runs.push(json!({
            "workers": workers,
            "images_per_s": per_epoch.iter().map(|v| (v * 10.0).round() / 10.0).collect::<Vec<_>>(),
            "median_images_per_s": (median(&per_epoch) * 10.0).round() / 10.0,
            "scan_s": scan_s,
            "checksum_epoch0": checksum,
        }));
    }
    let report: Value = json!({
        "tool": "hammer",
        "root": root.display().to_string(),
        "samples": samples,
        "resolution": [args.height, args.width],
        "batch_size": args.batch_size,
        "prefetch": args.prefetch,
        "epochs": args.epochs,
        "warmup_epochs": args.warmup,
        "threads": args.threads,
        "runs": runs,
    });
    common::report(&report, args.out.as_deref())
}
