//! # hammer
//!
//! A deep-learning training runner. The host (this crate) owns the heavy and
//! privileged work — tensors and autograd through libtorch (`tch`), the runner
//! loop, data loading, optimizers, checkpoints and logging — while extensions
//! (hooks, metrics, learning-rate policies) plug in at documented phases of the
//! loop.
//!
//! The vocabulary is MMEngine's:
//! - [`config`]: the job's configuration — files, inheritance, overrides,
//!   validation — and its typed sections;
//! - [`model`]: networks built by name from the config;
//! - [`cuda`]: libtorch's CUDA library, loaded when a GPU may be used;
//! - [`data`]: data sets and the background loader;
//! - [`dist`]: distributed data-parallel training on c10d, and `hammer launch`;
//! - [`loss`]: loss functions;
//! - [`optim`]: optimizers (SGD, Adam, AdamW), clipping, accumulation;
//! - [`metric`]: metrics of the validation and test loops;
//! - [`plot`]: `hammer plot`, the curves of a run as a PNG;
//! - [`plugin`]: WebAssembly plugins: sandbox, host functions, adapters;
//! - [`extension`]: what the runner and its extensions share: phases, the
//!   hook, metric and lr-policy traits, scalars, requests, failures;
//! - [`runner`]: the runner and its loops;
//! - [`checkpoint`]: atomic, verifiable safetensors checkpoints;
//! - [`logging`]: console lines, `hammer.log` and `scalars.jsonl`;
//! - [`workdir`]: the job's work directory.

pub mod bundle;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod cuda;
pub mod data;
pub mod dist;
pub mod extension;
pub mod logging;
pub mod loss;
pub mod metric;
pub mod model;
pub mod optim;
pub mod plot;
pub mod plugin;
pub mod runner;
pub mod workdir;
