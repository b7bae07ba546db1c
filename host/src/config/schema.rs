//! The typed configuration: every section and key hammer accepts, with its
//! default and what it means.
//!
//! The sections follow MMEngine's names (`model`, `train_dataloader`,
//! `train_cfg`, `optim`, ...). Every struct denies unknown keys, so a typo is
//! an error naming the key's full path and the closest valid name (see
//! [`super::validate`]). Defaults are the tutorial job's where MMEngine has
//! none of its own.

use serde::{Deserialize, Serialize};

/// The whole, resolved configuration of a job.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The network to train.
    pub model: ModelConfig,
    /// Loss function of the model's output against the labels.
    #[serde(default)]
    pub loss: LossConfig,
    /// Data for the training loop.
    pub train_dataloader: Option<DataLoaderConfig>,
    /// Data for the validation loop.
    pub val_dataloader: Option<DataLoaderConfig>,
    /// Data for the test loop.
    pub test_dataloader: Option<DataLoaderConfig>,
    /// How long to train and when to validate.
    #[serde(default)]
    pub train_cfg: TrainConfig,
    /// Optimizer, gradient clipping and accumulation.
    #[serde(default)]
    pub optim: OptimConfig,
    /// Metrics computed by the validation and test loops.
    #[serde(default = "default_evaluator")]
    pub val_evaluator: Vec<MetricConfig>,
    /// When and how checkpoints are written.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// Console, log file and scalar logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Device, threads, seed and determinism.
    #[serde(default)]
    pub env: EnvConfig,
    /// WebAssembly plugins (hooks, metrics, learning-rate policies), in order.
    #[serde(default)]
    pub plugins: Vec<PluginConfig>,
}

/// One plugin (`[[plugins]]`): which component, how it is ordered, limited
/// and granted, and its own options.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Looked up as `<name>.wasm` in `./plugins`, then `$HAMMER_PLUGIN_PATH`,
    /// then in the bundle store.
    pub name: Option<String>,
    /// A semver requirement (`^0.1`): the newest matching bundle in the store.
    pub version: Option<String>,
    /// The component file, instead of a name.
    pub path: Option<std::path::PathBuf>,
    /// Order among hooks: 0 first, 100 last (MMEngine's `NORMAL` is 50).
    #[serde(default = "default_priority")]
    pub priority: u32,
    /// `abort` (stop the run, saving a checkpoint where safe) or `disable`
    /// (drop the plugin, warn, train on) when the plugin fails.
    #[serde(default = "default_on_error")]
    pub on_error: String,
    /// Longest a single call into the plugin may run.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Most memory the plugin may use.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Grant the plugin handles to the model's parameters (EMA needs them).
    #[serde(default)]
    pub model_parameters: bool,
    /// Grant the directory under the work dir that the plugin's bundle requests.
    #[serde(default)]
    pub work_dir: bool,
    /// A hook that runs on rank 0 alone in a distributed job (MMEngine's
    /// `master_only`): one that writes files or reports, say. Hooks only:
    /// metrics and lr policies run on every rank. Unset: as the bundle's
    /// manifest asks (else every rank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_zero_only: Option<bool>,
    /// The plugin's own options, passed to it at setup.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// The network, built by name (`type`). Written out (`hammer config show`,
/// the work dir's `config.toml`) with the keys its type uses only.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Which network: `mlp`, `lenet`, `resnet18`, `resnet34`, `resnet50`
    /// (torchvision's layout and names) or `torchscript` (a module saved by
    /// `torch.jit.save`, see `path`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Input channels of `lenet` and the ResNets (3 for RGB, 1 for MNIST).
    #[serde(default = "default_in_channels")]
    pub in_channels: i64,
    /// Side of the square input images of `lenet` (fixes `fc1`'s width).
    #[serde(default = "default_image_size")]
    pub image_size: i64,
    /// ResNets: a 3×3 stride-1 `conv1` and no max pool, for 32×32 images
    /// (CIFAR); otherwise torchvision's 7×7 stride-2 stem and max pool.
    #[serde(default)]
    pub cifar_stem: bool,
    /// `torchscript`: the module file, scripted or traced and saved in PyTorch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    /// Number of features of one input sample.
    #[serde(default = "default_in_features")]
    pub in_features: i64,
    /// Number of hidden `Linear` layers (MMEngine tutorial's `layers`).
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// Width of each hidden layer.
    #[serde(default = "default_hidden")]
    pub hidden: i64,
    /// Activation after each hidden layer: `relu`, `silu`, `tanh`, `gelu` or `none`.
    #[serde(default = "default_activation")]
    pub activation: String,
    /// Number of output classes (or regression targets).
    #[serde(default = "default_num_classes")]
    pub num_classes: i64,
}

impl Serialize for ModelConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let kind = self.kind.as_str();
        let (mlp, lenet, resnet, script) = (kind == "mlp", kind == "lenet", kind.starts_with("resnet"), kind == "torchscript");
        // An unknown type (refused by validation) shows every key.
        let any = !(mlp || lenet || resnet || script);
        let mut out = serializer.serialize_struct("ModelConfig", 10)?;
        out.serialize_field("type", &self.kind)?;
        if lenet || resnet || any {
            out.serialize_field("in_channels", &self.in_channels)?;
        }
        if lenet || any {
            out.serialize_field("image_size", &self.image_size)?;
        }
        if resnet || any {
            out.serialize_field("cifar_stem", &self.cifar_stem)?;
        }
        if let Some(path) = &self.path {
            out.serialize_field("path", path)?;
        }
        if mlp || any {
            out.serialize_field("in_features", &self.in_features)?;
            out.serialize_field("layers", &self.layers)?;
            out.serialize_field("hidden", &self.hidden)?;
            out.serialize_field("activation", &self.activation)?;
        }
        if !script {
            out.serialize_field("num_classes", &self.num_classes)?;
        }
        out.end()
    }
}

/// The loss applied to the model's output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// `cross_entropy` (labels are class indices) or `mse` (labels are
    /// one-hot encoded to the output width).
    #[serde(rename = "type", default = "default_loss")]
    pub kind: String,
}

/// A data loader: a data set, batching, shuffling and prefetching.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataLoaderConfig {
    /// The data set to load.
    pub dataset: DatasetConfig,
    /// Samples per batch.
    pub batch_size: usize,
    /// Draw a new seeded permutation every epoch (the seed is `env.seed`
    /// plus the epoch, as MMEngine's `DefaultSampler`).
    #[serde(default)]
    pub shuffle: bool,
    /// Drop the last, incomplete batch of an epoch.
    #[serde(default)]
    pub drop_last: bool,
    /// Batches prepared ahead by the background loader threads.
    #[serde(default = "default_prefetch")]
    pub prefetch: usize,
    /// Loader worker threads; batches come in the same order whatever
    /// their number.
    #[serde(default = "crate::data::default_num_workers")]
    pub num_workers: usize,
}

/// A data set, built by name (`type`); keys that do not apply to the type
/// are rejected (see [`crate::data::check_config`]).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Which data set: `two_rings` (MMEngine tutorial's synthetic set),
    /// `mnist` (idx files), `cifar10` (binary batches), `image_folder` (a
    /// folder of JPEG/PNG images per class) or `csv` (a table).
    #[serde(rename = "type")]
    pub kind: String,
    /// Number of samples (`two_rings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// Seed that generates the samples (0 for the tutorial's training set,
    /// 3407 for its validation set).
    #[serde(default)]
    pub seed: i64,
    /// Directory of the files (`mnist`, `cifar10`, `image_folder`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<std::path::PathBuf>,
    /// The table (`csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    /// `train` (default) or `test` (`mnist`, `cifar10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// The label column, by header name or 0-based index (`csv`; default: the last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_column: Option<crate::data::Column>,
    /// The feature columns (`csv`; default: all but the label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<crate::data::Column>>,
    /// Whether the first line is a header row (`csv`; default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// Image pipeline: resolution, normalization, augmentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<crate::data::PipelineConfig>,
    /// Flatten each sample to one row (`[B, C*H*W]`), for MLPs on images.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flatten: bool,
    /// Skip (and count) bad records instead of stopping with an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_bad_samples: bool,
}

/// How long to train and when to validate (MMEngine's `train_cfg`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Count progress in epochs (`true`) or in iterations (`false`).
    #[serde(default = "default_true")]
    pub by_epoch: bool,
    /// Length of training when `by_epoch`.
    pub max_epochs: Option<u32>,
    /// Length of training when not `by_epoch`.
    pub max_iters: Option<u64>,
    /// First epoch (or iteration) after which validation runs.
    pub val_begin: Option<u64>,
    /// Validate every this many epochs (or iterations).
    pub val_interval: Option<u64>,
    /// MMCV-style workflow, e.g. `[["train", 2], ["val", 1]]`, repeated until
    /// the maximum is reached. Replaces `val_begin`/`val_interval`.
    pub workflow: Option<Vec<(String, u64)>>,
}

/// Optimizer, gradient clipping and accumulation (MMEngine's `optim_wrapper`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// The optimizer and its hyper-parameters.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// Gradient clipping, off when absent.
    pub clip_grad: Option<ClipGradConfig>,
    /// Accumulate gradients over this many iterations before each step
    /// (MMEngine's `accumulative_counts`).
    #[serde(default = "default_one")]
    pub accumulative_counts: u32,
}

/// An optimizer, built by name (`type`); keys that do not apply to the chosen
/// type are rejected.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// `sgd`, `adam` or `adamw` (case-insensitive, as `torch.optim` names them).
    #[serde(rename = "type")]
    pub kind: String,
    /// Base learning rate.
    pub lr: f64,
    /// Momentum factor (SGD).
    pub momentum: Option<f64>,
    /// Dampening for momentum (SGD).
    pub dampening: Option<f64>,
    /// Nesterov momentum (SGD).
    pub nesterov: Option<bool>,
    /// L2 penalty (SGD, Adam) or decoupled weight decay (AdamW).
    pub weight_decay: Option<f64>,
    /// Coefficients of the running averages (Adam, AdamW).
    pub betas: Option<(f64, f64)>,
    /// Term added to the denominator (Adam, AdamW).
    pub eps: Option<f64>,
    /// Use the AMSGrad variant (Adam, AdamW).
    pub amsgrad: Option<bool>,
}

/// `torch.optim.Adam`'s `betas`.
pub const ADAM_BETAS: (f64, f64) = (0.9, 0.999);
/// `torch.optim.Adam`'s `eps`.
pub const ADAM_EPS: f64 = 1e-8;
/// `torch.optim.AdamW`'s `weight_decay` (Adam's and SGD's is 0).
pub const ADAMW_WEIGHT_DECAY: f64 = 1e-2;

impl OptimizerConfig {
    /// Sets every unset hyper-parameter of this optimizer type to
    /// `torch.optim`'s default (the values the optimizer then uses).
    pub fn fill_defaults(&mut self) {
        match self.kind.to_ascii_lowercase().as_str() {
            "sgd" => {
                self.momentum.get_or_insert(0.0);
                self.dampening.get_or_insert(0.0);
                self.nesterov.get_or_insert(false);
                self.weight_decay.get_or_insert(0.0);
            }
            kind @ ("adam" | "adamw") => {
                self.betas.get_or_insert(ADAM_BETAS);
                self.eps.get_or_insert(ADAM_EPS);
                self.weight_decay.get_or_insert(if kind == "adamw" { ADAMW_WEIGHT_DECAY } else { 0.0 });
                self.amsgrad.get_or_insert(false);
            }
            _ => {}
        }
    }
}

/// Gradient clipping by total norm or by value.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClipGradConfig {
    /// `norm` (as `clip_grad_norm_`) or `value` (as `clip_grad_value_`).
    #[serde(rename = "type", default = "default_clip")]
    pub kind: String,
    /// Largest total norm (for `norm`).
    pub max_norm: Option<f64>,
    /// Order of the norm (for `norm`), `inf` allowed.
    pub norm_type: Option<f64>,
    /// Largest absolute gradient (for `value`).
    pub clip_value: Option<f64>,
}

/// A metric of the validation and test loops, built by name (`type`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    /// `accuracy` (percent of correct top-1 predictions) or `loss` (mean loss).
    #[serde(rename = "type")]
    pub kind: String,
}

/// When and how checkpoints are written (MMEngine's `CheckpointHook`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Save every this many epochs (or iterations); 0 disables periodic saving.
    #[serde(default = "default_one_u64")]
    pub interval: u64,
    /// Count `interval` in epochs (`true`) or iterations (`false`); defaults to
    /// `train_cfg.by_epoch`.
    pub by_epoch: Option<bool>,
    /// Keep only this many newest periodic checkpoints; -1 keeps all
    /// (Hammer's default is 20).
    #[serde(default = "default_keep")]
    pub max_keep_ckpts: i64,
    /// Also save at the end of training when the last step is not on an interval.
    #[serde(default = "default_true")]
    pub save_last: bool,
}

/// Console, log file and scalar logging (MMEngine's `LoggerHook`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Log a training line every this many iterations.
    #[serde(default = "default_log_interval")]
    pub interval: u64,
    /// Show a progress bar when standard error is a terminal.
    #[serde(default = "default_true")]
    pub progress_bar: bool,
    /// Also write every scalar to TensorBoard event files in `<work_dir>/tensorboard/`.
    #[serde(default = "default_true")]
    pub tensorboard: bool,
}

/// Device, threads, seed and determinism (MMEngine's `env_cfg` and `randomness`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// `cpu`, `cuda`, `cuda:N`, or `auto` (CUDA when libtorch sees a GPU).
    #[serde(default = "default_device")]
    pub device: String,
    /// libtorch intra-op threads. 1 by default: small models gain nothing
    /// from the thread pool, and the other core serves the loader thread
    /// (measured in the README).
    #[serde(default = "default_one")]
    pub num_threads: u32,
    /// Seed of model initialisation, shuffling and libtorch's generator.
    #[serde(default)]
    pub seed: u64,
    /// Reproducible kernels: turns cuDNN (and its benchmark mode) off on
    /// CUDA. hammer's CPU kernels are deterministic already; libtorch's global
    /// `use_deterministic_algorithms` switch is not reachable through `tch`.
    #[serde(default)]
    pub deterministic: bool,
    /// Mixed precision of the training loop: `none` (float32), `bf16`
    /// (autocast to bfloat16, CPU and CUDA) or `fp16` (autocast to float16
    /// with a dynamic loss scaler, CUDA only), as MMEngine's `AmpOptimWrapper`.
    #[serde(default = "default_amp")]
    pub amp: String,
    /// Distributed training (MMEngine's `env_cfg.dist_cfg`).
    #[serde(default)]
    pub dist_cfg: DistConfig,
}

/// How the processes of a distributed job talk (MMEngine's `dist_cfg`, and
/// DDP's bucket size).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistConfig {
    /// c10d backend: `gloo` (CPU), `nccl` (CUDA) or `auto` (NCCL on CUDA,
    /// else Gloo).
    #[serde(default = "default_backend")]
    pub backend: String,
    /// Seconds the rendezvous and each collective may wait for the other
    /// ranks before the job fails (torch's default: 30 minutes).
    #[serde(default = "default_dist_timeout")]
    pub timeout: f64,
    /// Size of a gradient bucket, in MiB (one all-reduce per bucket; DDP's
    /// `bucket_cap_mb`).
    #[serde(default = "default_bucket_cap_mb")]
    pub bucket_cap_mb: f64,
}

impl Default for DistConfig {
    fn default() -> Self {
        Self { backend: default_backend(), timeout: default_dist_timeout(), bucket_cap_mb: default_bucket_cap_mb() }
    }
}

fn default_backend() -> String {
    "auto".into()
}
fn default_dist_timeout() -> f64 {
    1800.0
}
fn default_bucket_cap_mb() -> f64 {
    25.0
}

fn default_priority() -> u32 {
    50
}
fn default_on_error() -> String {
    "abort".into()
}
fn default_timeout_ms() -> u64 {
    1000
}
fn default_memory_mb() -> u64 {
    256
}

impl PluginConfig {
    /// An entry for the component at `path`, with every default (`--plugin PATH`).
    pub fn from_path(path: std::path::PathBuf) -> Self {
        Self { path: Some(path), ..Self::named(None, None) }
    }

    /// An entry for plugin `name` (the search path, then the store) with
    /// semver requirement `version`, with every other setting at its default.
    pub fn named(name: Option<String>, version: Option<String>) -> Self {
        Self {
            name,
            version,
            path: None,
            priority: default_priority(),
            on_error: default_on_error(),
            timeout_ms: default_timeout_ms(),
            memory_mb: default_memory_mb(),
            model_parameters: false,
            work_dir: false,
            rank_zero_only: None,
            options: serde_json::Map::new(),
        }
    }
}

fn default_evaluator() -> Vec<MetricConfig> {
    vec![MetricConfig { kind: "accuracy".into() }]
}
fn default_in_channels() -> i64 {
    3
}
fn default_image_size() -> i64 {
    32
}
fn default_in_features() -> i64 {
    2
}
fn default_layers() -> usize {
    2
}
fn default_hidden() -> i64 {
    64
}
fn default_activation() -> String {
    "relu".into()
}
fn default_num_classes() -> i64 {
    2
}
fn default_loss() -> String {
    "cross_entropy".into()
}
fn default_prefetch() -> usize {
    2
}
fn default_true() -> bool {
    true
}
fn default_one() -> u32 {
    1
}
fn default_one_u64() -> u64 {
    1
}
fn default_keep() -> i64 {
    20
}
fn default_clip() -> String {
    "norm".into()
}
fn default_log_interval() -> u64 {
    10
}
fn default_amp() -> String {
    "none".into()
}
fn default_device() -> String {
    "auto".into()
}

impl Default for LossConfig {
    fn default() -> Self {
        Self { kind: default_loss() }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            by_epoch: true,
            max_epochs: None,
            max_iters: None,
            val_begin: None,
            val_interval: None,
            workflow: None,
        }
    }
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self { optimizer: OptimizerConfig::default(), clip_grad: None, accumulative_counts: 1 }
    }
}

impl Default for OptimizerConfig {
    /// MMEngine's tutorial optimizer: Adam with lr 0.001.
    fn default() -> Self {
        Self {
            kind: "adam".into(),
            lr: 1e-3,
            momentum: None,
            dampening: None,
            nesterov: None,
            weight_decay: None,
            betas: None,
            eps: None,
            amsgrad: None,
        }
    }
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self { interval: 1, by_epoch: None, max_keep_ckpts: default_keep(), save_last: true }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { interval: default_log_interval(), progress_bar: true, tensorboard: true }
    }
}

impl Default for EnvConfig {
    fn default() -> Self {
        Self { device: default_device(), num_threads: 1, seed: 0, deterministic: false, amp: default_amp(), dist_cfg: DistConfig::default() }
    }
}
