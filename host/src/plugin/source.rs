//! Where a plugin's component comes from: a `.wasm` or `.hpkg` file named by
//! `path`, a `<name>.wasm` in the search path, or the bundle store (by
//! `name` and a semver `version` requirement).
//!
//! Lookup of a `name`: with a `version`, the store only (the newest
//! installed version that matches and whose interface this hammer
//! supports); without one, `./plugins/<name>.wasm`, then each directory of
//! `$HAMMER_PLUGIN_PATH`, then the newest release in the store.

use std::borrow::Cow;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use semver::VersionReq;

use super::lock::Locked;
use super::runtime::INTERFACE_VERSION;
use crate::bundle::{Bundle, Digests, Manifest, Store, EXTENSION};
use crate::config::PluginConfig;

/// A plugin's component, ready to compile.
#[derive(Debug)]
pub struct Source {
    /// The component: its sha256, and its bytes or the file holding them.
    pub component: Blob,
    /// Where it came from, for messages and the lock file (a path, or `store`).
    pub origin: String,
    /// The bundle's manifest, when it came from a bundle.
    pub manifest: Option<Manifest>,
}

/// A component known by its sha256, whose bytes are read only when they
/// are needed (to compile it: a start with its compiled form cached never
/// reads them).
#[derive(Debug)]
pub struct Blob {
    /// sha256 of the component, hex.
    pub sha256: String,
    /// The bytes, when they are in memory already.
    bytes: Option<Vec<u8>>,
    /// The file holding them, otherwise.
    file: PathBuf,
}

impl Blob {
    /// The component's bytes: those in memory, else the file's, which must
    /// still hash to `sha256`.
    ///
    /// # Errors
    /// The file cannot be read or has changed.
    pub fn bytes(&self) -> Result<Cow<'_, [u8]>> {
        if let Some(bytes) = &self.bytes {
            return Ok(Cow::Borrowed(bytes));
        }
        let bytes = std::fs::read(&self.file).with_context(|| format!("cannot read `{}`", self.file.display()))?;
        let actual = crate::bundle::sha256_hex(&bytes);
        if actual != self.sha256 {
            bail!("`{}` changed while it was being loaded (sha256 {} then {actual}); run again", self.file.display(), self.sha256);
        }
        Ok(Cow::Owned(bytes))
    }
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
        let known = known_names(&store, &dirs);
        let hint = match crate::config::validate::closest(name, &known.iter().map(String::as_str).collect::<Vec<_>>()) {
            Some(best) => format!("; did you mean `{best}`?"),
            None if known.is_empty() => String::new(),
            None => format!(" (known plugins: {})", known.join(", ")),
        };
        bail!(
            "plugin `{name}` not found: no `{name}.wasm` in {}, and no bundle `{name}` in the store `{}`{hint} \
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
        let component = Blob { sha256: bundle.manifest.sha256.clone(), bytes: Some(bundle.component), file: path };
        return Ok(Source { component, origin, manifest: Some(bundle.manifest) });
    }
    let digest = Digests::of_home(&Store::default_root()?).of(&path).with_context(|| format!("cannot read plugin `{origin}`"))?;
    let component = Blob { sha256: digest.sha256, bytes: digest.bytes, file: path };
    Ok(Source { component, origin, manifest: None })
}

/// The installed bundle `req` selects; resolving checked its component against its manifest.
fn from_store(name: &str, req: &VersionReq) -> Result<Source> {
    let store = Store::open_default()?;
    let installed = store.resolve(name, req, INTERFACE_VERSION)?;
    let component = Blob { sha256: installed.manifest.sha256.clone(), bytes: None, file: installed.component_path() };
    Ok(Source { component, origin: "store".into(), manifest: Some(installed.manifest) })
}

/// The plugin names the store and the search path know, sorted, once each.
fn known_names(store: &Store, dirs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = store.list().unwrap_or_default().into_iter().map(|i| i.manifest.name).collect();
    for dir in dirs {
        let Ok(entries) = dir.read_dir() else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if path.extension().is_some_and(|e| e == "wasm") {
                names.extend(path.file_stem().map(|s| s.to_string_lossy().into_owned()));
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// `./plugins`, then the directories of `$HAMMER_PLUGIN_PATH`.
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("plugins")];
    if let Some(extra) = std::env::var_os("HAMMER_PLUGIN_PATH") {
        dirs.extend(std::env::split_paths(&extra));
    }
    dirs
}
