//! Where a plugin's component comes from: a `.wasm` or `.hpkg` file named by
//! `path`, a `<name>.wasm` in the search path, or the bundle store (by
//! `name` and a semver `version` requirement).
//!
//! Lookup of a `name`: with a `version`, the store only (the newest
//! installed version that matches and whose interface this hammer
//! supports); without one, `./plugins/<name>.wasm`, then each directory of
//! `$HAMMER_PLUGIN_PATH`, then the newest release in the store.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use semver::VersionReq;

use super::lock::Locked;
use super::runtime::INTERFACE_VERSION;
use crate::bundle::{Bundle, Manifest, Store, EXTENSION};
use crate::config::PluginConfig;

/// A plugin's component, ready to compile.
#[derive(Debug)]
pub struct Source {
    /// The component's bytes.
    pub component: Vec<u8>,
    /// Where it came from, for messages and the lock file (a path, or `store`).
    pub origin: String,
    /// The bundle's manifest, when it came from a bundle.
    pub manifest: Option<Manifest>,
}

impl Source {
    /// The bundle's version, when it came from a bundle.
    pub fn version(&self) -> Option<String> {
        self.manifest.as_ref().map(|m| m.version.to_string())
    }
}

/// Finds the component of `cfg`; `pinned` (a lock entry) fixes the store version.
///
/// # Errors
/// Nothing found (naming where it looked), or an unreadable, damaged or
/// incompatible bundle.
pub fn resolve(cfg: &PluginConfig, pinned: Option<&Locked>) -> Result<Source> {
    if let Some(path) = &cfg.path {
        return from_file(path.clone());
    }
    let name = cfg.name.as_deref().context("a plugin entry needs a `name` or a `path`")?;
    let pinned_version = pinned.filter(|l| l.source == "store").and_then(|l| l.version.clone());
    let requirement = match (&pinned_version, &cfg.version) {
        (Some(v), _) => Some(format!("={v}")),
        (None, req) => req.clone(),
    };
    if let Some(req) = requirement {
        let req = VersionReq::parse(&req).with_context(|| format!("`{req}` is not a semver requirement"))?;
        return from_store(name, &req);
    }
    let dirs = search_path();
    for dir in &dirs {
        let candidate = dir.join(format!("{name}.wasm"));
        if candidate.is_file() {
            return from_file(candidate);
        }
    }
    let store = Store::open_default()?;
    if store.versions(name)?.is_empty() {
        let looked: Vec<String> = dirs.iter().map(|d| format!("`{}`", d.display())).collect();
        bail!(
            "plugin `{name}` not found: no `{name}.wasm` in {}, and no bundle `{name}` in the store `{}` \
             (set HAMMER_PLUGIN_PATH to add directories, or `hammer plugin install` a bundle)",
            looked.join(", "),
            store.dir().display()
        );
    }
    from_store(name, &VersionReq::STAR)
}

fn from_file(path: PathBuf) -> Result<Source> {
    if !path.is_file() {
        bail!("plugin file `{}` not found", path.display());
    }
    let origin = path.display().to_string();
    if path.extension().is_some_and(|e| e == EXTENSION) {
        let bundle = Bundle::read(&path)?;
        return Ok(Source { component: bundle.component, origin, manifest: Some(bundle.manifest) });
    }
    let component = std::fs::read(&path).with_context(|| format!("cannot read plugin `{origin}`"))?;
    Ok(Source { component, origin, manifest: None })
}

fn from_store(name: &str, req: &VersionReq) -> Result<Source> {
    let store = Store::open_default()?;
    let installed = store.resolve(name, req, INTERFACE_VERSION)?;
    let bundle = installed.load()?;
    Ok(Source { component: bundle.component, origin: "store".into(), manifest: Some(bundle.manifest) })
}

/// `./plugins`, then the directories of `$HAMMER_PLUGIN_PATH`.
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("plugins")];
    if let Some(extra) = std::env::var_os("HAMMER_PLUGIN_PATH") {
        dirs.extend(std::env::split_paths(&extra));
    }
    dirs
}
