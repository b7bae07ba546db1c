//! Plugins: WebAssembly components that extend the runner, sandboxed.
//!
//! A plugin targets one world of the WIT package in `wit/` (`hook`,
//! `metric` or `lr-policy`, read from its exports). Each runs in a store of
//! its own with a memory limit (`memory_mb`), a deadline per call
//! (`timeout_ms`, by epoch interruption), no file system, network,
//! environment or clock, and its stdout/stderr logged under its name. The
//! model's parameters are reachable only with `model_parameters = true`.
//!
//! Plugins are listed in `[[plugins]]` (or added with `--plugin PATH`); a
//! `name` is looked up as `<name>.wasm` in `./plugins`, then in each
//! directory of `$HAMMER_PLUGIN_PATH` (`:`-separated).
//!
//! - [`runtime`]: the engine, linker and compiled-component cache;
//! - [`instance`]: one plugin's store and the guarded call into it;
//! - `state`: the host functions and tensor handles a plugin imports;
//! - `adapters`: plugins behind the runner's `Hook`, `Metric` and `LrPolicy` traits;
//! - [`scaffold`]: `hammer plugin new`.

mod adapters;
pub mod bindings;
pub mod instance;
pub mod lock;
mod options;
mod phase;
pub mod runtime;
pub mod scaffold;
pub mod state;

pub use adapters::{WasmHook, WasmLrPolicy, WasmMetric};
pub use instance::{OnError, PluginFailure};
pub use lock::{Lock, Locked};
pub use runtime::{Kind, Runtime};

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::config::PluginConfig;
use crate::logging::Logger;
use crate::metric::Metric;
use crate::runner::{Hook, LrPolicy};
use bindings::hook::HookPluginPre;
use bindings::lr_policy::LrPolicyPluginPre;
use bindings::metric::MetricPluginPre;
use instance::Instance;

/// The plugins of a run, by kind, in config order.
#[derive(Default)]
pub struct Plugins {
    /// Hooks (the runner orders them by priority).
    pub hooks: Vec<Box<dyn Hook>>,
    /// Metrics, after the built-in ones of `val_evaluator`.
    pub metrics: Vec<Box<dyn Metric>>,
    /// Learning-rate policies, applied in order.
    pub lr_policies: Vec<Box<dyn LrPolicy>>,
    /// What was loaded, as `plugins.lock` records it.
    pub loaded: Vec<Locked>,
}

/// What the optimizer tells learning-rate policies at setup.
#[derive(Debug, Clone, Copy)]
pub struct OptimizerView {
    /// The optimizer's base learning rate.
    pub base_lr: f64,
    /// Its momentum (SGD's, or Adam's beta1), if it has one.
    pub momentum: Option<f64>,
}

/// A lock the plugins of a run must match, and how to name it in errors.
#[derive(Debug, Clone)]
pub struct LockCheck {
    /// The locked plugins.
    pub lock: Lock,
    /// E.g. "the job's plugins.lock" or "`other/plugins.lock`".
    pub what: String,
}

/// Loads, instantiates and sets up every plugin of `configs`; with a
/// `lock`, the plugins must be exactly the locked ones.
///
/// # Errors
/// A plugin that cannot be found, compiled, instantiated or set up, or that
/// differs from the lock: each error names the plugin.
pub fn load(
    configs: &[PluginConfig],
    parameters: &[(String, tch::Tensor)],
    optimizer: OptimizerView,
    logger: &Logger,
    lock: Option<&LockCheck>,
) -> Result<Plugins> {
    let mut plugins = Plugins::default();
    if configs.is_empty() {
        if let Some(check) = lock {
            check.lock.check(&[], &check.what)?;
        }
        return Ok(plugins);
    }
    let rt = Runtime::shared()?;
    let mut keys: Vec<String> = Vec::new();
    for (i, cfg) in configs.iter().enumerate() {
        let path = resolve(cfg).with_context(|| format!("plugins.{i}"))?;
        let name = cfg.name.clone().unwrap_or_else(|| {
            path.file_stem().map_or_else(|| format!("plugin{i}"), |s| s.to_string_lossy().into_owned())
        });
        let compiled = rt.compile(&path)?;
        let key = unique_key(&mut keys, &name);
        let locked = Locked { key: key.clone(), version: None, sha256: compiled.sha256.clone(), source: path.display().to_string() };
        if let Some(check) = lock {
            check.lock.check_plugin(&locked, &check.what)?;
        }
        let params = cfg.model_parameters.then(|| parameters.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect());
        let options = options::to_wit(&cfg.options).with_context(|| format!("plugin `{name}`: options"))?;
        let pre = rt.linker.instantiate_pre(&compiled.component).map_err(|e| {
            anyhow::anyhow!("plugin `{name}` ({}) cannot be linked: {e:?}", path.display())
        })?;
        match compiled.kind {
            Kind::Hook => {
                let pre = HookPluginPre::new(pre).map_err(|e| anyhow::anyhow!("plugin `{name}`: {e:?}"))?;
                let mut inst = Instance::new(&rt.engine, cfg, &name, params, logger.clone(), |s| pre.instantiate(s))?;
                let phases = inst
                    .call("setup", None, None, |b, s| b.hammer_plugin_hook().call_setup(s, &options))?
                    .unwrap_or_default();
                let phases = phases.into_iter().map(phase::from_wit).collect();
                plugins.hooks.push(Box::new(WasmHook { inst, priority: cfg.priority, phases, key }));
            }
            Kind::Metric => {
                let pre = MetricPluginPre::new(pre).map_err(|e| anyhow::anyhow!("plugin `{name}`: {e:?}"))?;
                let mut inst = Instance::new(&rt.engine, cfg, &name, params, logger.clone(), |s| pre.instantiate(s))?;
                inst.call("setup", None, None, |b, s| b.hammer_plugin_metric().call_setup(s, &options))?;
                plugins.metrics.push(Box::new(WasmMetric { inst, key }));
            }
            Kind::LrPolicy => {
                let pre = LrPolicyPluginPre::new(pre).map_err(|e| anyhow::anyhow!("plugin `{name}`: {e:?}"))?;
                let mut inst = Instance::new(&rt.engine, cfg, &name, params, logger.clone(), |s| pre.instantiate(s))?;
                inst.call("setup", None, None, |b, s| {
                    b.hammer_plugin_lr_policy().call_setup(s, &options, optimizer.base_lr, optimizer.momentum)
                })?;
                plugins.lr_policies.push(Box::new(WasmLrPolicy { inst, key }));
            }
        }
        logger.info(&format!(
            "Loaded plugin `{name}` ({}, {}) from `{}`{}",
            compiled.kind.name(),
            &compiled.sha256[..12],
            path.display(),
            if compiled.from_cache { " (compiled form cached)" } else { " (compiled)" }
        ));
        plugins.loaded.push(locked);
    }
    if let Some(check) = lock {
        check.lock.check_complete(&plugins.loaded, &check.what)?;
    }
    Ok(plugins)
}

/// The file a plugin entry names: its `path`, or `<name>.wasm` in the
/// search path.
///
/// # Errors
/// No such file, listing where it was looked for.
pub fn resolve(cfg: &PluginConfig) -> Result<PathBuf> {
    if let Some(path) = &cfg.path {
        if !path.is_file() {
            bail!("plugin file `{}` not found", path.display());
        }
        return Ok(path.clone());
    }
    let name = cfg.name.as_deref().context("a plugin entry needs a `name` or a `path`")?;
    let dirs = search_path();
    for dir in &dirs {
        let candidate = dir.join(format!("{name}.wasm"));
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let looked: Vec<String> = dirs.iter().map(|d| format!("`{}`", d.display())).collect();
    bail!("plugin `{name}` not found: no `{name}.wasm` in {} (set HAMMER_PLUGIN_PATH to add directories)", looked.join(", "))
}

/// `./plugins`, then the directories of `$HAMMER_PLUGIN_PATH`.
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("plugins")];
    if let Some(extra) = std::env::var_os("HAMMER_PLUGIN_PATH") {
        dirs.extend(std::env::split_paths(&extra));
    }
    dirs
}

/// `name`, or `name#2`, `name#3`... when the name is taken: the key a
/// plugin's state is saved under.
fn unique_key(taken: &mut Vec<String>, name: &str) -> String {
    let mut key = name.to_string();
    let mut n = 1;
    while taken.contains(&key) {
        n += 1;
        key = format!("{name}#{n}");
    }
    taken.push(key.clone());
    key
}
