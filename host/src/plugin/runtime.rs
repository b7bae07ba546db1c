//! The wasmtime side shared by all plugins of a process: one engine (with a
//! thread that ticks its epoch, for per-call deadlines), one linker with the
//! host interface and a WASI that grants nothing, and a cache of compiled
//! components so a second start does not recompile (bounded: `cache`).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, ProfilingStrategy};

use super::bindings;
use super::state::PluginState;
use crate::bundle::sha256_hex;

/// How often the engine's epoch advances; per-call deadlines are counted in these ticks.
pub const TICK: Duration = Duration::from_millis(10);

/// The profiler `HAMMER_PLUGIN_PROFILE` asks for, so that `perf` can name
/// the plugins' functions: `perfmap` (wasmtime writes `/tmp/perf-PID.map`,
/// which `perf report` reads) or `jitdump` (`jit-PID.dump` in the working
/// directory, for `perf inject --jit`); unset or empty, none.
fn profiler(value: Option<&str>) -> Result<ProfilingStrategy> {
    Ok(match value.unwrap_or("") {
        "" => ProfilingStrategy::None,
        "perfmap" => ProfilingStrategy::PerfMap,
        "jitdump" => ProfilingStrategy::JitDump,
        other => bail!("HAMMER_PLUGIN_PROFILE must be `perfmap` or `jitdump`, not `{other}`"),
    })
}

/// The WIT package version this host implements.
pub const INTERFACE_VERSION: &str = "0.3.0";

/// The kind of world a plugin targets (read from its exports), as bundle
/// manifests name it.
pub use crate::bundle::Kind;

/// The engine and linker every plugin of this process uses.
pub struct Runtime {
    pub(super) engine: Engine,
    pub(super) linker: Linker<PluginState>,
    cache_dir: Option<PathBuf>,
}

/// A compiled plugin component and what it is.
pub struct Compiled {
    /// The compiled component.
    pub component: Component,
    /// The world it targets.
    pub kind: Kind,
    /// sha256 of the component file.
    pub sha256: String,
    /// Whether the compiled form came from the cache (no compilation).
    pub from_cache: bool,
}

impl Runtime {
    /// The process's runtime, created on first use.
    ///
    /// # Errors
    /// wasmtime could not be configured (never expected on supported platforms).
    pub fn shared() -> Result<Arc<Runtime>> {
        static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
        if let Some(rt) = RUNTIME.get() {
            return Ok(Arc::clone(rt));
        }
        let rt = Arc::new(Self::new(default_cache_dir())?);
        Ok(Arc::clone(RUNTIME.get_or_init(|| rt)))
    }

    fn new(cache_dir: Option<PathBuf>) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.concurrency_support(false);
        config.profiler(profiler(std::env::var("HAMMER_PLUGIN_PROFILE").ok().as_deref())?);
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("hammer-plugin-clock".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .context("starting the plugin deadline clock")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        bindings::host::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(Self { engine, linker, cache_dir })
    }

    /// Compiles a component (or loads its compiled form from the cache) and
    /// tells which world it targets; `label` names it in errors.
    ///
    /// # Errors
    /// Not a component, or not one exporting one of hammer's worlds in a
    /// version this host supports (both versions named).
    pub fn compile(&self, bytes: &[u8], label: &str) -> Result<Compiled> {
        self.compile_digested(&sha256_hex(bytes), || Ok(Cow::Borrowed(bytes)), label)
    }

    /// [`Self::compile`] of a component whose sha256 is known: `bytes` is
    /// called for its bytes (which must hash to `sha256`) only when the
    /// cache does not hold its compiled form.
    ///
    /// # Errors
    /// As [`Self::compile`], and whatever `bytes` returns.
    pub fn compile_digested<'a>(
        &self,
        sha256: &str,
        bytes: impl FnOnce() -> Result<Cow<'a, [u8]>>,
        label: &str,
    ) -> Result<Compiled> {
        let (component, from_cache) = self.cached(bytes, sha256).with_context(|| format!("`{label}`"))?;
        let kind = self.kind_of(&component).with_context(|| format!("plugin `{label}`"))?;
        Ok(Compiled { component, kind, sha256: sha256.to_string(), from_cache })
    }

    /// The compiled component, and whether it came from the cache.
    fn cached<'a>(&self, bytes: impl FnOnce() -> Result<Cow<'a, [u8]>>, sha256: &str) -> Result<(Component, bool)> {
        let Some(dir) = &self.cache_dir else {
            let c = Component::new(&self.engine, &*bytes()?).map_err(|e| anyhow::anyhow!("not a WebAssembly component: {e:?}"))?;
            return Ok((c, false));
        };
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.engine.precompile_compatibility_hash().hash(&mut h);
            format!("{sha256}-{:016x}.cwasm", h.finish())
        };
        let file = dir.join(key);
        if file.exists() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same compatibility hash, atomically, into a
            // directory only hammer writes; its name carries the source's digest.
            if let Ok(c) = unsafe { Component::deserialize_file(&self.engine, &file) } {
                super::cache::touch(&file);
                return Ok((c, true));
            }
        }
        let bytes = bytes()?;
        let compiled = self.engine.precompile_component(&bytes).map_err(|e| anyhow::anyhow!("not a WebAssembly component: {e:?}"))?;
        // A cache that cannot be written only costs a recompilation next time.
        if std::fs::create_dir_all(dir).is_ok() && crate::checkpoint::atomic::write_atomic(&file, &compiled).is_ok() {
            super::cache::prune(dir, super::cache::limit_bytes(), &file);
        }
        // SAFETY: the bytes were just produced by this engine.
        let c = unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok((c, false))
    }

    /// The world a component (as file bytes) targets and the interface
    /// version it was built against, without checking compatibility — what
    /// `hammer plugin pack` compares a manifest's claims with.
    ///
    /// # Errors
    /// Not a component, or not one exporting exactly one of hammer's interfaces.
    pub fn inspect(&self, bytes: &[u8]) -> Result<(Kind, String)> {
        let component =
            Component::new(&self.engine, bytes).map_err(|e| anyhow::anyhow!("not a WebAssembly component: {e:?}"))?;
        single(self.exports(&component))
    }

    /// hammer's interfaces a component exports, with their versions.
    fn exports(&self, component: &Component) -> Vec<(Kind, String)> {
        let ty = component.component_type();
        let mut found = Vec::new();
        for (name, _) in ty.exports(&self.engine) {
            let Some(rest) = name.strip_prefix("hammer:plugin/") else { continue };
            let (iface, version) = rest.split_once('@').unwrap_or((rest, "none"));
            let kind = match iface {
                "hook" => Kind::Hook,
                "metric" => Kind::Metric,
                "lr-policy" => Kind::LrPolicy,
                _ => continue,
            };
            found.push((kind, version.to_string()));
        }
        found
    }

    /// The world a component targets, from the names of its exports.
    fn kind_of(&self, component: &Component) -> Result<Kind> {
        let (kind, version) = single(self.exports(component))?;
        if !compatible(&version, INTERFACE_VERSION) {
            bail!(
                "it was built against hammer:plugin@{version}, and this hammer supports \
                 hammer:plugin@{INTERFACE_VERSION} ({}); rebuild it against this version's WIT",
                compatible_range(INTERFACE_VERSION)
            );
        }
        Ok(kind)
    }
}

/// The one hammer interface a component exports.
fn single(found: Vec<(Kind, String)>) -> Result<(Kind, String)> {
    match <[_; 1]>::try_from(found) {
        Ok([one]) => Ok(one),
        Err(found) if found.is_empty() => {
            bail!("it exports none of hammer's interfaces (hammer:plugin/hook, metric or lr-policy)")
        }
        Err(_) => bail!("it exports more than one of hammer's interfaces"),
    }
}

/// Whether a plugin built against interface `plugin` runs on a host of
/// interface `host` (semver: same major, and for 0.x the same minor).
pub fn compatible(plugin: &str, host: &str) -> bool {
    match (semver::Version::parse(plugin), semver::Version::parse(host)) {
        (Ok(p), Ok(h)) => crate::bundle::interface_compatible(&p, &h),
        _ => false,
    }
}

/// The versions [`compatible`] with `host`, as people write them (`0.2.x`, `1.x`).
fn compatible_range(host: &str) -> String {
    match semver::Version::parse(host) {
        Ok(v) if v.major == 0 => format!("0.{}.x", v.minor),
        Ok(v) => format!("{}.x", v.major),
        Err(_) => host.to_string(),
    }
}

/// `$HAMMER_HOME/cache/components` (default `~/.hammer`).
fn default_cache_dir() -> Option<PathBuf> {
    crate::bundle::Store::default_root().ok().map(|home| home.join("cache").join("components"))
}

#[cfg(test)]
mod tests {
    use super::{compatible, profiler};
    use wasmtime::ProfilingStrategy;

    #[test]
    fn the_profiler_is_named_or_refused() {
        assert!(matches!(profiler(None).unwrap(), ProfilingStrategy::None));
        assert!(matches!(profiler(Some("")).unwrap(), ProfilingStrategy::None));
        assert!(matches!(profiler(Some("perfmap")).unwrap(), ProfilingStrategy::PerfMap));
        assert!(matches!(profiler(Some("jitdump")).unwrap(), ProfilingStrategy::JitDump));
        let err = profiler(Some("vtune")).unwrap_err().to_string();
        assert!(err.contains("HAMMER_PLUGIN_PROFILE") && err.contains("`vtune`"), "{err}");
    }

    #[test]
    fn the_compatible_range_is_written_as_people_do() {
        assert_eq!(super::compatible_range("0.2.0"), "0.2.x");
        assert_eq!(super::compatible_range("1.4.2"), "1.x");
    }

    #[test]
    fn interface_versions_follow_semver() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.3", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(!compatible("1.1.0", "0.1.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("none", "0.1.0"));
    }
}
