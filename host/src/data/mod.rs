//! Data sets and the loader that batches them on background worker threads.
//!
//! Formats: `two_rings` (MMEngine tutorial's synthetic set), `mnist` (idx
//! files), `cifar10` (binary batches), `csv` (a table) — all decoded and
//! validated when the data set is built — and `image_folder` (a folder per
//! class, JPEG/PNG), decoded lazily by the loader's workers.
//!
//! The [`DataLoader`] draws one seeded permutation per epoch (MMEngine's
//! `DefaultSampler`: seed + epoch); image augmentation draws from a generator
//! seeded by (seed, epoch, sample index), so batches are the same whatever
//! the number of workers, and a resumed run sees the same images.

mod bad;
pub mod cifar;
pub mod csv;
pub mod image_folder;
mod loader;
mod sampler;
pub mod mnist;
mod rings;
pub mod rng;
pub mod transform;

pub use csv::Column;
pub use loader::{Batch, DataLoader, EpochBatches};
pub use sampler::Shard;
pub use rings::two_rings;
pub use transform::PipelineConfig;

use anyhow::{bail, Context, Result};
use tch::Tensor;

use self::bad::BadRecords;
use self::image_folder::ImageFolder;
use self::rng::SplitMix64;
use self::transform::{center_crop_resize, Augment};
use crate::config::DatasetConfig;

/// Samples held as two tensors: `inputs[i]` goes with `targets[i]`.
#[derive(Debug)]
pub struct Tensors {
    /// One row per sample.
    pub inputs: Tensor,
    /// One label (class index) per sample.
    pub targets: Tensor,
}

/// Images decoded in memory: planar `f32` in [0, 1].
#[derive(Debug)]
pub struct Images {
    /// `len × channels × rows × columns` values.
    pub pixels: Vec<f32>,
    /// One label per image.
    pub labels: Vec<i64>,
    /// Channels, rows, columns.
    pub shape: [usize; 3],
}

#[derive(Debug)]
enum Source {
    Tensors(Tensors),
    Images(Images),
    Folder(ImageFolder),
}

/// A data set: its samples (in memory or files) and its pipeline.
#[derive(Debug)]
pub struct Dataset {
    source: Source,
    augment: Augment,
    flatten: bool,
    skip_bad: bool,
    /// Bad records skipped while building.
    skipped_at_build: usize,
    first_bad: Option<String>,
}

/// One batch assembled on the CPU, and the samples skipped as bad.
#[derive(Debug)]
pub struct Loaded {
    /// Inputs `[B, ...]` (`f32`).
    pub inputs: Tensor,
    /// Targets `[B]` (`i64`).
    pub targets: Tensor,
    /// Bad samples left out of this batch.
    pub skipped: usize,
    /// The first one's description.
    pub first_bad: Option<String>,
}

/// The data set types `type` accepts.
pub const TYPES: &[&str] = &["two_rings", "mnist", "cifar10", "image_folder", "csv"];

impl From<Tensors> for Dataset {
    fn from(t: Tensors) -> Self {
        Self { source: Source::Tensors(t), augment: Augment::default(), flatten: false, skip_bad: false, skipped_at_build: 0, first_bad: None }
    }
}

impl Dataset {
    /// Builds the data set described by `cfg` (key path `section` for errors).
    ///
    /// Generating a synthetic data set reseeds libtorch's generator; seed it
    /// again afterwards for anything that must not depend on the data.
    ///
    /// # Errors
    /// An unknown data set type, missing files, bad records (unless skipped).
    pub fn build(cfg: &DatasetConfig, section: &str) -> Result<Self> {
        let key = format!("{section}.dataset");
        let mut bad = BadRecords::new(cfg.skip_bad_samples);
        let split = cfg.split.as_deref().unwrap_or("train");
        let root = || existing(cfg.root.as_deref(), &key, "root");
        let pipeline = cfg.pipeline.clone().unwrap_or_default();
        let resize = |mut images: Images| -> Images {
            match pipeline.resolution {
                Some(to) if to != [images.shape[1], images.shape[2]] => {
                    let per = images.shape.iter().product::<usize>();
                    let pixels = images.pixels.chunks_exact(per).flat_map(|img| center_crop_resize(img, images.shape, to)).collect();
                    images.shape = [images.shape[0], to[0], to[1]];
                    images.pixels = pixels;
                    images
                }
                _ => images,
            }
        };
        let (source, channels) = match cfg.kind.as_str() {
            "two_rings" => {
                let size = cfg.size.with_context(|| format!("missing config key `{key}.size`"))?;
                (Source::Tensors(two_rings(size, cfg.seed)), 0)
            }
            "csv" => {
                let path = existing(cfg.path.as_deref(), &key, "path")?;
                let cols = csv::Columns { label: cfg.label_column.as_ref(), features: cfg.features.as_deref(), header: cfg.header.unwrap_or(true) };
                (Source::Tensors(csv::load(path, &cols, &mut bad)?), 0)
            }
            "mnist" => (Source::Images(resize(mnist::load(root()?, split, &mut bad)?)), 1),
            "cifar10" => (Source::Images(resize(cifar::load(root()?, split, &mut bad)?)), 3),
            "image_folder" => {
                let resolution = pipeline
                    .resolution
                    .with_context(|| format!("missing config key `{key}.pipeline.resolution`: image folders need the training resolution"))?;
                (Source::Folder(ImageFolder::scan(root()?, resolution)?), 3)
            }
            other => bail!("{key}.type: unknown data set `{other}` (available: {})", TYPES.join(", ")),
        };
        let augment = if channels > 0 { Augment::new(&pipeline, channels, &key)? } else { Augment::default() };
        Ok(Self { source, augment, flatten: cfg.flatten, skip_bad: cfg.skip_bad_samples, skipped_at_build: bad.count, first_bad: bad.first })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match &self.source {
            Source::Tensors(t) => t.targets.size()[0] as usize,
            Source::Images(i) => i.labels.len(),
            Source::Folder(f) => f.samples.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The smallest and the largest label (class index), `None` when empty.
    pub fn label_range(&self) -> Option<(i64, i64)> {
        let labels: Vec<i64> = match &self.source {
            Source::Tensors(t) if t.targets.numel() > 0 => {
                let targets = t.targets.to_kind(tch::Kind::Int64);
                return Some((targets.min().int64_value(&[]), targets.max().int64_value(&[])));
            }
            Source::Tensors(_) => return None,
            Source::Images(i) => i.labels.clone(),
            Source::Folder(f) => f.samples.iter().map(|(_, l)| *l).collect(),
        };
        Some((*labels.iter().min()?, *labels.iter().max()?))
    }

    /// Checks that every label is a class index the model has: in
    /// `0..num_classes`, or `ignore_index` (cross-entropy's -100) when given;
    /// `key` is the data set's config path for the message.
    ///
    /// # Errors
    /// A label outside that range, naming the data set, the label and `num_classes`.
    pub fn check_labels(&self, key: &str, num_classes: i64, ignore_index: Option<i64>) -> Result<()> {
        let Some((min, max)) = self.label_range() else { return Ok(()) };
        if max >= num_classes {
            bail!(
                "{key}: the data set has label {max}, but the model has `model.num_classes = {num_classes}` \
                 (labels are class indices 0..{}); set model.num_classes to {} or more",
                num_classes - 1,
                max + 1
            );
        }
        if min < 0 {
            // The ignored label is the smallest: look for a negative one above it.
            let real_min = match (&self.source, ignore_index) {
                (Source::Tensors(t), Some(ignored)) if min == ignored => {
                    let t = t.targets.to_kind(tch::Kind::Int64);
                    let kept = t.masked_select(&t.ne(ignored));
                    if kept.numel() == 0 { 0 } else { kept.min().int64_value(&[]) }
                }
                _ => min,
            };
            if real_min < 0 {
                bail!("{key}: the data set has label {real_min}; labels are class indices 0..{}", num_classes - 1);
            }
        }
        Ok(())
    }

    /// Bad records left out when the data set was built, and the first one's description.
    pub fn skipped_at_build(&self) -> (usize, Option<&str>) {
        (self.skipped_at_build, self.first_bad.as_deref())
    }

    /// The samples `indices` (an `i64` tensor) of epoch `epoch`, augmented
    /// with generators seeded by (`seed`, `epoch`, sample index).
    ///
    /// # Errors
    /// A file that cannot be decoded (unless bad samples are skipped).
    pub fn get_batch(&self, indices: &Tensor, seed: u64, epoch: u64) -> Result<Loaded> {
        let mut first_bad = None;
        let (inputs, targets, skipped) = match &self.source {
            Source::Tensors(t) => (t.inputs.index_select(0, indices), t.targets.index_select(0, indices), 0),
            Source::Images(images) => {
                let idx = Vec::<i64>::try_from(indices)?;
                let per = images.shape.iter().product::<usize>();
                let mut out = Vec::with_capacity(idx.len() * per);
                let mut labels = Vec::with_capacity(idx.len());
                for &i in &idx {
                    let i = i as usize;
                    let mut rng = SplitMix64::for_sample(seed, epoch, i as u64);
                    self.augment.apply(&images.pixels[i * per..(i + 1) * per], images.shape, &mut rng, &mut out);
                    labels.push(images.labels[i]);
                }
                (image_tensor(&out, labels.len(), images.shape), Tensor::from_slice(&labels), 0)
            }
            Source::Folder(folder) => {
                let idx = Vec::<i64>::try_from(indices)?;
                let [h, w] = folder.resolution;
                let mut out = Vec::with_capacity(idx.len() * 3 * h * w);
                let (mut labels, mut skipped) = (Vec::with_capacity(idx.len()), 0);
                for &i in &idx {
                    let i = i as usize;
                    let rgb = match folder.load(i) {
                        Ok(rgb) => rgb,
                        Err(err) if self.skip_bad => {
                            first_bad.get_or_insert_with(|| format!("{err:#}"));
                            skipped += 1;
                            continue;
                        }
                        Err(err) => return Err(err.context("set `skip_bad_samples = true` in the data set to skip bad samples")),
                    };
                    let mut rng = SplitMix64::for_sample(seed, epoch, i as u64);
                    self.augment.apply(&rgb, [3, h, w], &mut rng, &mut out);
                    labels.push(folder.samples[i].1);
                }
                (image_tensor(&out, labels.len(), [3, h, w]), Tensor::from_slice(&labels), skipped)
            }
        };
        let inputs = if self.flatten { inputs.flatten(1, -1) } else { inputs };
        Ok(Loaded { inputs, targets, skipped, first_bad })
    }
}

/// The path of config key `<key>.<name>`, which must exist: a missing one is
/// named with its key, before any reader's bare OS error.
fn existing<'a>(path: Option<&'a std::path::Path>, key: &str, name: &str) -> Result<&'a std::path::Path> {
    let path = path.with_context(|| format!("missing config key `{key}.{name}`"))?;
    if !path.exists() {
        bail!("{key}.{name}: `{}` does not exist (relative paths are relative to the current directory)", path.display());
    }
    Ok(path)
}

fn image_tensor(values: &[f32], n: usize, [c, h, w]: [usize; 3]) -> Tensor {
    Tensor::from_slice(values).view([n as i64, c as i64, h as i64, w as i64])
}

/// Checks of a data set's keys that serde cannot express; `key` is its path
/// (`train_dataloader.dataset`). Returns the faulty key and the problem.
///
/// # Errors
/// The first problem found.
pub fn check_config(key: &str, cfg: &DatasetConfig) -> Result<(), (String, String)> {
    let k = |name: &str| format!("{key}.{name}");
    if !TYPES.contains(&cfg.kind.as_str()) {
        let list: Vec<String> = TYPES.iter().map(|t| format!("`{t}`")).collect();
        let (last, init) = list.split_last().expect("types");
        return Err((k("type"), format!("unknown dataset `{}`; expected {} or {last}", cfg.kind, init.join(", "))));
    }
    let kind = cfg.kind.as_str();
    let not_for = |name: &str, present: bool, types: &str| -> Result<(), (String, String)> {
        if present {
            Err((k(name), format!("does not apply to data set type `{kind}` (only to {types})")))
        } else {
            Ok(())
        }
    };
    let required = |name: &str, present: bool| -> Result<(), (String, String)> {
        if present {
            Ok(())
        } else {
            Err((k(name), format!("missing config key `{}`", k(name))))
        }
    };
    match kind {
        "two_rings" => {
            required("size", cfg.size.is_some())?;
            if cfg.size == Some(0) {
                return Err((k("size"), "must be at least 1, found 0".into()));
            }
        }
        "csv" => required("path", cfg.path.is_some())?,
        _ => required("root", cfg.root.is_some())?,
    }
    let images = matches!(kind, "mnist" | "cifar10" | "image_folder");
    not_for("size", cfg.size.is_some() && kind != "two_rings", "`two_rings`")?;
    not_for("root", cfg.root.is_some() && !images, "`mnist`, `cifar10`, `image_folder`")?;
    not_for("path", cfg.path.is_some() && kind != "csv", "`csv`")?;
    not_for("split", cfg.split.is_some() && !matches!(kind, "mnist" | "cifar10"), "`mnist`, `cifar10`")?;
    for (name, present) in [("label_column", cfg.label_column.is_some()), ("features", cfg.features.is_some()), ("header", cfg.header.is_some())] {
        not_for(name, present && kind != "csv", "`csv`")?;
    }
    not_for("pipeline", cfg.pipeline.is_some() && !images, "`mnist`, `cifar10`, `image_folder`")?;
    if let Some(split) = &cfg.split {
        if split != "train" && split != "test" {
            return Err((k("split"), format!("unknown split `{split}`; expected `train` or `test`")));
        }
    }
    if let Some(p) = &cfg.pipeline {
        if kind == "image_folder" {
            required("pipeline.resolution", p.resolution.is_some())?;
        }
        if p.resolution.is_some_and(|[h, w]| h == 0 || w == 0) {
            return Err((k("pipeline.resolution"), "must be at least 1 pixel on each side".into()));
        }
        for (name, values) in [("mean", &p.mean), ("std", &p.std)] {
            if let Some(v) = values {
                if v.len() != 1 && v.len() != 3 && !(kind == "mnist" && v.len() == 1) {
                    return Err((k(&format!("pipeline.{name}")), format!("expected 1 value or one per channel, found {}", v.len())));
                }
            }
        }
        if let Some(std) = &p.std {
            if let Some(i) = std.iter().position(|s| s.is_nan() || *s <= 0.0) {
                return Err((k(&format!("pipeline.std.{i}")), format!("must be positive, found {}", std[i])));
            }
        }
    } else if kind == "image_folder" {
        required("pipeline", false)?;
    }
    Ok(())
}

/// One loader worker thread unless the config says otherwise.
pub fn default_num_workers() -> usize {
    1
}
