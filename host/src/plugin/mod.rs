//! Plugins: WebAssembly components that extend the runner, sandboxed.
//!
//! A plugin targets one world of the WIT package in `wit/` (`hook`,
//! `metric` or `lr-policy`, read from its exports). Each runs in a store of
//! its own with a memory limit (`memory_mb`), a deadline per call
//! (`timeout_ms`, by epoch interruption), no file system, network,
//! environment or clock, and its stdout/stderr logged under its name. The
//! model's parameters are reachable only with `model_parameters = true`.
//!
//! Plugins are listed in `[[plugins]]` (or added with `--plugin PATH`) and
//! found by [`source`]: a file, the search path, or the bundle store. A
//! bundle's manifest says what the plugin requests (the model's parameters,
//! a directory under the work dir); it receives what it requested and the
//! config granted, no more, and its options are checked against the
//! manifest's schema before anything runs.
//!
//! - [`runtime`]: the engine, linker and compiled-component cache;
//! - `cache`: that cache kept under its size limit;
//! - [`instance`]: one plugin's store and the guarded call into it;
//! - `state`: the host functions and tensor handles a plugin imports;
//! - `adapters`: plugins behind the runner's `Hook`, `Metric` and `LrPolicy` traits;
//! - [`scaffold`]: `hammer plugin new`.

mod adapters;
pub mod bindings;
mod cache;
pub mod instance;
pub mod lock;
mod options;
mod random;
mod phase;
pub mod runtime;
pub mod source;
pub mod scaffold;
pub mod state;

pub use adapters::{WasmHook, WasmLrPolicy, WasmMetric};
pub use instance::OnError;
pub use lock::{Lock, Locked};
pub use runtime::{Kind, Runtime};

use anyhow::{bail, Context, Result};

use crate::config::PluginConfig;
use crate::data::Shard;
use crate::extension::{Cadence, ExtensionLoader, Extensions, Setup, StepInfo};
use bindings::hook::HookPluginPre;
use bindings::lr_policy::LrPolicyPluginPre;
use bindings::metric::MetricPluginPre;
use instance::Instance;

/// A lock the plugins of a run must match, and how to name it in errors.
#[derive(Debug, Clone)]
pub struct LockCheck {
    /// The locked plugins.
    pub lock: Lock,
    /// E.g. "the job's plugins.lock" or "`other/plugins.lock`".
    pub what: String,
}

/// The plugin host as the runner's [`ExtensionLoader`]: loads a config's
/// `[[plugins]]` (pinned by a lock, if given) and keeps what it loaded, for
/// `plugins.lock`.
#[derive(Debug, Default)]
pub struct Loader {
    configs: Vec<PluginConfig>,
    lock: Option<LockCheck>,
    loaded: Vec<Locked>,
}

impl Loader {
    /// A loader of the plugins `configs` lists; with a `lock`, the plugins
    /// must be exactly the locked ones.
    pub fn new(configs: &[PluginConfig], lock: Option<LockCheck>) -> Self {
        Self { configs: configs.to_vec(), lock, loaded: Vec::new() }
    }

    /// Every plugin loaded, as `plugins.lock` records it.
    pub fn loaded(&self) -> &[Locked] {
        &self.loaded
    }
}

impl ExtensionLoader for Loader {
    fn load(&mut self, setup: &Setup<'_>) -> Result<Extensions> {
        let (extensions, loaded) = load(&self.configs, setup, self.lock.as_ref())?;
        self.loaded = loaded;
        Ok(extensions)
    }
}

/// Loads, instantiates and sets up every plugin of `configs` for the run
/// `setup` describes; with a `lock`, the plugins must be exactly the locked
/// ones. In a distributed job `setup.shard` is what `host.step()` tells
/// plugins from setup on; on a rank other than 0, the hooks that run on
/// rank 0 alone (`rank_zero_only` in their config entry or their bundle's
/// manifest) are resolved (and locked) but not instantiated. Returns the
/// plugins and what was loaded.
///
/// # Errors
/// A plugin that cannot be found, compiled, instantiated or set up, or that
/// differs from the lock: each error names the plugin.
fn load(configs: &[PluginConfig], setup: &Setup<'_>, lock: Option<&LockCheck>) -> Result<(Extensions, Vec<Locked>)> {
    let Setup { parameters, optimizer, logger, work_dir, shard } = *setup;
    let shard = shard.unwrap_or(Shard { rank: 0, world_size: 1 });
    let rank = shard.rank;
    let at_setup = StepInfo::before_run(rank as u32, shard.world_size as u32);
    let mut plugins = Extensions::default();
    let mut loaded = Vec::new();
    if configs.is_empty() {
        if let Some(check) = lock {
            check.lock.check(&[], &check.what)?;
        }
        return Ok((plugins, loaded));
    }
    let rt = Runtime::shared()?;
    let mut keys: Vec<String> = Vec::new();
    for (i, cfg) in configs.iter().enumerate() {
        let name = entry_name(cfg, i);
        let key = unique_key(&mut keys, &name);
        let pinned = lock.and_then(|l| l.lock.plugins.iter().find(|p| p.key == key));
        let source = source::resolve(cfg, pinned).with_context(|| format!("plugins.{i}"))?;
        let compiled = rt.compile_digested(&source.component.sha256, || source.component.bytes(), &source.origin)?;
        let locked = Locked { key: key.clone(), version: source.version(), sha256: compiled.sha256.clone(), source: source.origin.clone() };
        if let Some(check) = lock {
            check.lock.check_plugin(&locked, &check.what)?;
        }
        // The config's choice, else what the bundle asks for.
        let rank_zero_only = cfg.rank_zero_only.unwrap_or_else(|| source.manifest.as_ref().is_some_and(|m| m.rank_zero_only));
        if rank_zero_only {
            if compiled.kind != Kind::Hook {
                bail!(
                    "plugins.{i}.rank_zero_only: `{name}` is a {}; only hooks can run on rank 0 alone \
                     (metrics and lr policies must agree on every rank)",
                    compiled.kind.name()
                );
            }
            if rank != 0 {
                loaded.push(locked);
                continue;
            }
        }
        let grants = Grants::of(cfg, source.manifest.as_ref(), &name, i)?;
        let options = match &source.manifest {
            Some(m) => {
                if m.kind.name() != compiled.kind.name() {
                    bail!("plugin `{}`: its manifest says {}, its component is a {}", m.id(), m.kind.name(), compiled.kind.name());
                }
                crate::bundle::check_options(m, &cfg.options)?
            }
            None => cfg.options.clone(),
        };
        let params = grants.model_parameters.then(|| parameters.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect());
        let preopen = match &grants.work_dir {
            Some(sub) => {
                let dir = work_dir.with_context(|| format!("plugin `{name}` needs a work dir for its `{sub}` directory"))?.join(sub);
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
                Some((dir, sub.clone()))
            }
            None => None,
        };
        let options = options::to_wit(&options, source.manifest.as_ref()).with_context(|| format!("plugin `{name}`: options"))?;
        let path = &source.origin;
        let pre = rt.linker.instantiate_pre(&compiled.component).map_err(|e| {
            anyhow::anyhow!("plugin `{name}` ({path}) cannot be linked: {e:?}")
        })?;
        match compiled.kind {
            Kind::Hook => {
                let pre = HookPluginPre::new(pre).map_err(|e| anyhow::anyhow!("plugin `{name}`: {e:?}"))?;
                let mut inst = Instance::new(&rt.engine, cfg, &key, params, preopen, logger.clone(), |s| pre.instantiate(s))?;
                let subscriptions = inst
                    .call_setup(&at_setup, |b, s| b.hammer_plugin_hook().call_setup(s, &options))?
                    .unwrap_or_default();
                let subscriptions = phase::subscriptions(subscriptions).with_context(|| format!("plugin `{name}`: setup"))?;
                plugins.hooks.push(Box::new(WasmHook { inst, priority: cfg.priority, subscriptions, key }));
            }
            Kind::Metric => {
                let pre = MetricPluginPre::new(pre).map_err(|e| anyhow::anyhow!("plugin `{name}`: {e:?}"))?;
                let mut inst = Instance::new(&rt.engine, cfg, &key, params, preopen, logger.clone(), |s| pre.instantiate(s))?;
                inst.call_setup(&at_setup, |b, s| b.hammer_plugin_metric().call_setup(s, &options))?;
                plugins.metrics.push(Box::new(WasmMetric { inst, key }));
            }
            Kind::LrPolicy => {
                let pre = LrPolicyPluginPre::new(pre).map_err(|e| anyhow::anyhow!("plugin `{name}`: {e:?}"))?;
                let mut inst = Instance::new(&rt.engine, cfg, &key, params, preopen, logger.clone(), |s| pre.instantiate(s))?;
                let cadence = inst
                    .call_setup(&at_setup, |b, s| b.hammer_plugin_lr_policy().call_setup(s, &options, optimizer.base_lr, optimizer.momentum))?
                    .map_or(Cadence::Iteration, WasmLrPolicy::cadence);
                plugins.lr_policies.push(Box::new(WasmLrPolicy { inst, key, cadence, last_asked: None }));
            }
        }
        logger.info(&format!(
            "Loaded plugin `{name}` ({}{}, {}) from `{path}`{}",
            compiled.kind.name(),
            source.version().map(|v| format!(" {v}")).unwrap_or_default(),
            &compiled.sha256[..12],
            if compiled.from_cache { " (compiled form cached)" } else { " (compiled)" }
        ));
        loaded.push(locked);
    }
    if let Some(check) = lock {
        check.lock.check_complete(&loaded, &check.what)?;
    }
    Ok((plugins, loaded))
}

/// What a plugin receives: what its manifest requests and the config grants.
struct Grants {
    model_parameters: bool,
    work_dir: Option<String>,
}

impl Grants {
    /// A bundle gets what it requested, if granted (a request not granted is
    /// an error naming the key that grants it); a bare component, what the
    /// config grants.
    fn of(cfg: &PluginConfig, manifest: Option<&crate::bundle::Manifest>, name: &str, i: usize) -> Result<Self> {
        let Some(m) = manifest else {
            return Ok(Self { model_parameters: cfg.model_parameters, work_dir: None });
        };
        let refuse = |what: &str, key: &str| {
            anyhow::anyhow!(
                "plugin `{}` requests {what}, which the config does not grant; set `{key} = true` in its \
                 [[plugins]] entry (plugins.{i}, `{name}`) to grant it",
                m.id()
            )
        };
        if m.capabilities.model_parameters && !cfg.model_parameters {
            return Err(refuse("the model's parameters", "model_parameters"));
        }
        if let Some(dir) = &m.capabilities.work_dir {
            if !cfg.work_dir {
                return Err(refuse(&format!("a directory `{dir}` under the work dir"), "work_dir"));
            }
        }
        Ok(Self { model_parameters: m.capabilities.model_parameters, work_dir: m.capabilities.work_dir.clone() })
    }
}

/// The name of entry `i`: its `name`, else its file's stem (without a
/// bundle's `-<version>`).
fn entry_name(cfg: &PluginConfig, i: usize) -> String {
    if let Some(name) = &cfg.name {
        return name.clone();
    }
    let stem = cfg.path.as_ref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned());
    let stem = stem.unwrap_or_else(|| format!("plugin{i}"));
    let is_bundle = cfg.path.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == crate::bundle::EXTENSION));
    match stem.rsplit_once('-') {
        Some((base, version)) if is_bundle && semver::Version::parse(version).is_ok() => base.to_string(),
        _ => stem,
    }
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
